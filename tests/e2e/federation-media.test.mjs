// SPDX-License-Identifier: Apache-2.0
//
// Media over federation (SPEC: server-server-api#content-repository,
// client-server-api#content-repository): two Myelin servers with TLS
// federation listeners (certificates from a CA made for this run), and a
// hand-written remote homeserver that signs its requests with its own key.
// A user of one server downloads media of the other through their own
// server; the federation endpoints answer signed requests only, with the
// spec's two-part multipart body; a remote that redirects (Location), one
// that predates the endpoint (legacy fallback), and failures.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import https from 'node:https';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { api, assertError, register, clientFor, canonicalJson } from './lib/matrix.mjs';
import { assertCleanExit, freePort } from './lib/server.mjs';
import { makePng, imageInfo } from './lib/images.mjs';
import { makeTestPki, federatingServer, FakeRemote, parseMultipart, mediaMultipart } from './lib/federation.mjs';

const MAX_UPLOAD = 3 * 1024 * 1024;

async function download(srv, token, pathname) {
	const res = await fetch(srv.baseUrl + pathname, { headers: { Authorization: `Bearer ${token}` } });
	const body = Buffer.from(await res.arrayBuffer());
	let json;
	try {
		json = JSON.parse(body.toString('utf8'));
	} catch {
		json = undefined;
	}
	return { status: res.status, headers: res.headers, body, json, text: body.toString('utf8') };
}

const dl = (mxc) => `/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`;
const thumb = (mxc, q) => `/_matrix/client/v1/media/thumbnail/${mxc.slice('mxc://'.length)}?${q}`;

/** Verify an X-Matrix header (as the fake remote receives it) with the origin's published key. */
async function verifyXMatrix(pki, header, method, uri, destination) {
	const params = Object.fromEntries([...header.replace(/^X-Matrix\s+/, '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
	const keyDoc = await new Promise((resolve, reject) => {
		https.get(`https://${params.origin}/_matrix/key/v2/server`, { ca: fs.readFileSync(pki.ca) }, (res) => {
			let s = '';
			res.on('data', (c) => (s += c));
			res.on('end', () => resolve(JSON.parse(s)));
		}).on('error', reject);
	});
	const raw = Buffer.from(keyDoc.verify_keys[params.key].key, 'base64');
	const pub = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
	const signed = canonicalJson({ method, uri, origin: params.origin, destination });
	return params.destination === destination && crypto.verify(null, Buffer.from(signed), pub, Buffer.from(params.sig, 'base64'));
}

describe('federation media', () => {
	let tmp, pki, a, b, fake, alice, bob, pngMxc, fileMxc;
	const png = makePng(64, 64);
	const fileBytes = crypto.randomBytes(200_000);

	before(async () => {
		tmp = await mkdtemp(path.join(os.tmpdir(), 'myelin-fed-'));
		pki = makeTestPki(tmp);
		a = await federatingServer(pki, tmp, { max_upload_size: MAX_UPLOAD });
		b = await federatingServer(pki, tmp);
		await a.start();
		await b.start();
		fake = await new FakeRemote(pki).start();
		alice = await register(b, 'alice');
		bob = await register(a, 'bob');
		const up = clientFor(b, alice);
		pngMxc = (await up.uploadContent(png, { name: 'cat.png', type: 'image/png' })).content_uri;
		fileMxc = (await up.uploadContent(fileBytes, { name: 'report.bin', type: 'application/octet-stream' })).content_uri;
	});

	after(async () => {
		await fake?.stop();
		for (const s of [a, b]) {
			if (s?.proc) assertCleanExit(await s.stop(), s);
		}
		for (const s of [a, b]) await s?.cleanup();
		if (tmp && !process.env.MYELIN_E2E_KEEP) await rm(tmp, { recursive: true, force: true });
	});

	it('a user downloads media of another server through their own, byte for byte', async () => {
		assert.ok(pngMxc.startsWith(`mxc://${b.serverName}/`), pngMxc);
		// The URL the SDK (and so Element) builds for authenticated media.
		const url = new URL(clientFor(a, bob).mxcUrlToHttp(pngMxc, undefined, undefined, undefined, false, true, true));
		assert.equal(url.origin, a.baseUrl);
		const res = await download(a, bob.accessToken ?? bob.access_token, url.pathname + url.search);
		assert.equal(res.status, 200, res.text.slice(0, 200));
		assert.ok(res.body.equals(png), 'the PNG arrived unchanged');
		assert.equal(res.headers.get('content-type'), 'image/png');
		assert.match(res.headers.get('content-disposition') ?? '', /^inline; filename="cat\.png"/);
		assert.equal(res.headers.get('x-content-type-options'), 'nosniff');

		const file = await download(a, bob.accessToken ?? bob.access_token, dl(fileMxc));
		assert.equal(file.status, 200);
		assert.ok(file.body.equals(fileBytes), 'the 200 kB file arrived unchanged');
		assert.match(file.headers.get('content-disposition') ?? '', /^attachment; filename="report\.bin"/);
	});

	it('thumbnails of remote media have the requested bounds', async () => {
		const res = await download(a, bob.accessToken ?? bob.access_token, thumb(pngMxc, 'width=32&height=32&method=crop'));
		assert.equal(res.status, 200, res.text.slice(0, 200));
		const info = imageInfo(res.body);
		assert.ok(info, 'a real image');
		assert.deepEqual([info.width, info.height], [32, 32]);
	});

	it('the federation download endpoint answers a signed request with two parts', async () => {
		const id = pngMxc.split('/').pop();
		const res = await fake.request(b, 'GET', `/_matrix/federation/v1/media/download/${id}`);
		assert.equal(res.status, 200, res.body.toString().slice(0, 200));
		const parts = parseMultipart(res.headers['content-type'], res.body);
		assert.equal(parts.length, 2);
		assert.equal(parts[0].headers['content-type'], 'application/json');
		assert.deepEqual(JSON.parse(parts[0].body.toString()), {});
		assert.equal(parts[1].headers['content-type'], 'image/png');
		assert.ok(parts[1].body.equals(png));
	});

	it('the federation thumbnail endpoint answers with a thumbnail part', async () => {
		const id = pngMxc.split('/').pop();
		const res = await fake.request(b, 'GET', `/_matrix/federation/v1/media/thumbnail/${id}?width=16&height=16&method=crop`);
		assert.equal(res.status, 200, res.body.toString().slice(0, 200));
		const parts = parseMultipart(res.headers['content-type'], res.body);
		assert.equal(parts.length, 2);
		// Rounded up to the configured 32x32 crop: "larger than or equal".
		const info = imageInfo(parts[1].body);
		assert.deepEqual([info?.width, info?.height], [32, 32]);
		assert.match(parts[1].headers['content-disposition'], /^inline/);
	});

	it('unsigned, forged and misdirected requests are refused with 401', async () => {
		const id = pngMxc.split('/').pop();
		const uri = `/_matrix/federation/v1/media/download/${id}`;
		const cases = {
			'no Authorization': { authorization: null },
			'not X-Matrix': { authorization: 'Bearer abc' },
			'malformed': { authorization: 'X-Matrix origin=' },
			'signature over another uri': { overrides: { signedUri: `${uri}?x=1` } },
			'another destination': { overrides: { destination: 'elsewhere.example' } },
			'unknown key id': { overrides: { keyId: 'ed25519:nope' } },
			'a signature that is not one': { overrides: { sig: 'AAAA' } },
		};
		for (const [what, opts] of Object.entries(cases)) {
			const res = await fake.request(b, 'GET', uri, opts);
			res.text = res.body.toString();
			res.headers = new Headers(res.headers);
			assertError(res, 401, 'M_UNAUTHORIZED', what);
		}
	});

	it('unknown media is 404, and cached remote media is never served to a third server', async () => {
		let res = await fake.request(b, 'GET', '/_matrix/federation/v1/media/download/doesnotexist');
		assert.equal(res.status, 404);
		assert.equal(res.json?.errcode, 'M_NOT_FOUND');
		// A holds a copy of B's PNG, but only B may serve it over federation.
		res = await fake.request(a, 'GET', `/_matrix/federation/v1/media/download/${pngMxc.split('/').pop()}`);
		assert.equal(res.status, 404);
		res = await download(a, bob.accessToken ?? bob.access_token, dl(`mxc://${b.serverName}/doesnotexist`));
		assertError({ ...res, headers: res.headers }, 404, 'M_NOT_FOUND');
	});

	it('fetches from a remote that signs nothing back but checks our signature, and follows a Location part', async () => {
		const bytes = crypto.randomBytes(5000);
		let authOk = null;
		fake.handle('GET', '/_matrix/federation/v1/media/download/direct1', async (req, res, url) => {
			authOk = await verifyXMatrix(pki, req.headers.authorization ?? '', 'GET', url.pathname + url.search, fake.serverName);
			const m = mediaMultipart({ headers: { 'Content-Type': 'text/plain', 'Content-Disposition': 'attachment; filename="a.txt"' }, body: bytes });
			res.writeHead(200, { 'Content-Type': m.contentType });
			res.end(m.body);
		});
		let res = await download(a, bob.accessToken ?? bob.access_token, dl(`mxc://${fake.serverName}/direct1`));
		assert.equal(res.status, 200, res.text.slice(0, 200));
		assert.ok(res.body.equals(bytes));
		assert.equal(authOk, true, 'the request carried a valid X-Matrix signature of server A');
		assert.match(res.headers.get('content-disposition') ?? '', /filename="a\.txt"/);

		const redirected = crypto.randomBytes(3000);
		fake.handle('GET', '/_matrix/federation/v1/media/download/moved1', (req, res) => {
			const m = mediaMultipart({ headers: { Location: `https://${fake.serverName}/cdn/moved1` } });
			res.writeHead(200, { 'Content-Type': m.contentType });
			res.end(m.body);
		});
		fake.handle('GET', '/cdn/moved1', (req, res) => {
			res.writeHead(200, { 'Content-Type': 'image/webp', 'Content-Disposition': 'inline; filename="moved.webp"' });
			res.end(redirected);
		});
		res = await download(a, bob.accessToken ?? bob.access_token, dl(`mxc://${fake.serverName}/moved1`));
		assert.equal(res.status, 200, res.text.slice(0, 200));
		assert.ok(res.body.equals(redirected));
		assert.equal(res.headers.get('content-type'), 'image/webp');
	});

	it('falls back to the legacy download endpoint for servers that predate federation media', async () => {
		const bytes = crypto.randomBytes(4000);
		fake.handle('GET', `/_matrix/media/v3/download/${fake.serverName}/old1`, (req, res, url) => {
			assert.equal(url.searchParams.get('allow_remote'), 'false');
			res.writeHead(200, { 'Content-Type': 'application/pdf' });
			res.end(bytes);
		});
		const res = await download(a, bob.accessToken ?? bob.access_token, dl(`mxc://${fake.serverName}/old1`));
		assert.equal(res.status, 200, res.text.slice(0, 200));
		assert.ok(res.body.equals(bytes));
		assert.equal(res.headers.get('content-type'), 'application/pdf');
	});

	it('concurrent requests for the same remote media make one fetch', async () => {
		const bytes = crypto.randomBytes(100_000);
		let hits = 0;
		fake.handle('GET', '/_matrix/federation/v1/media/download/popular1', (req, res) => {
			hits++;
			const m = mediaMultipart({ headers: { 'Content-Type': 'image/png' }, body: bytes });
			setTimeout(() => {
				res.writeHead(200, { 'Content-Type': m.contentType });
				res.end(m.body);
			}, 300);
		});
		const token = bob.accessToken ?? bob.access_token;
		const all = await Promise.all(Array.from({ length: 6 }, () => download(a, token, dl(`mxc://${fake.serverName}/popular1`))));
		for (const r of all) {
			assert.equal(r.status, 200, r.text.slice(0, 200));
			assert.ok(r.body.equals(bytes));
		}
		assert.equal(hits, 1, 'one request reached the remote');
	});

	it('remote failures: not found, too large, malformed, unreachable', async () => {
		const token = bob.accessToken ?? bob.access_token;
		fake.handle('GET', '/_matrix/federation/v1/media/download/gone1', (req, res) => {
			res.writeHead(404, { 'Content-Type': 'application/json' });
			res.end(JSON.stringify({ errcode: 'M_NOT_FOUND', error: 'nope' }));
		});
		let res = await download(a, token, dl(`mxc://${fake.serverName}/gone1`));
		assertError(res, 404, 'M_NOT_FOUND');

		fake.handle('GET', '/_matrix/federation/v1/media/download/huge1', (req, res) => {
			const m = mediaMultipart({ headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(MAX_UPLOAD + 1000) });
			res.writeHead(200, { 'Content-Type': m.contentType });
			res.end(m.body);
		});
		res = await download(a, token, dl(`mxc://${fake.serverName}/huge1`));
		assert.equal(res.status, 502, res.text.slice(0, 200));
		assert.equal(res.json?.errcode, 'M_TOO_LARGE');

		fake.handle('GET', '/_matrix/federation/v1/media/download/bad1', (req, res) => {
			res.writeHead(200, { 'Content-Type': 'multipart/mixed; boundary=xyz' });
			res.end('--xyz\r\nContent-Type: application/json\r\n\r\n{}\r\n--xyz\r\nContent-Type: image/png\r\n\r\nno close');
		});
		res = await download(a, token, dl(`mxc://${fake.serverName}/bad1`));
		assertError(res, 502, 'M_UNKNOWN');

		// Nothing listens there: refused at once, and the server stays healthy.
		const dead = `127.0.0.1:${await freePort()}`;
		res = await download(a, token, dl(`mxc://${dead}/x1`));
		assertError(res, 502, 'M_UNKNOWN');
		res = await download(a, token, dl(`mxc://${dead}/x2`));
		assertError(res, 502, 'M_UNKNOWN');
		// Failed fetches leave nothing behind: a later good fetch of the
		// same id works once the remote has it.
		res = await download(a, token, dl(pngMxc));
		assert.equal(res.status, 200);
	});

	it('cached remote media is served after its server has gone away', async () => {
		assertCleanExit(await b.stop(), b);
		const res = await download(a, bob.accessToken ?? bob.access_token, dl(pngMxc));
		assert.equal(res.status, 200);
		assert.ok(res.body.equals(png));
	});
});
