// SPDX-License-Identifier: Apache-2.0
//
// Helpers for the federation end-to-end tests: a throwaway certificate
// authority made with openssl at test time, servers whose federation
// listener speaks TLS with a certificate from it, a hand-written "remote
// homeserver" (its own ed25519 key, key server and X-Matrix signed
// requests, per the spec's Server-Server API) to talk to Myelin with, and
// a multipart/mixed reader for the federation media answers.

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { canonicalJson } from './matrix.mjs';
import { Server, freePort } from './server.mjs';

/**
 * A CA and one server certificate for 127.0.0.1 / localhost, under dir.
 * Returns { ca, cert, key } file paths (PEM).
 */
export function makeTestPki(dir) {
	const p = (f) => path.join(dir, f);
	const ossl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
	ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		'-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=Myelin test CA',
		'-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
	ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		'-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost');
	fs.writeFileSync(p('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
	ossl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
		'-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile', p('ext.cnf'));
	return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key') };
}

/**
 * A Myelin server named "127.0.0.1:<fedPort>" whose federation listener on
 * fedPort speaks TLS with pki's certificate, trusting pki's CA for its own
 * outbound requests and allowed to reach loopback addresses.
 */
export async function federatingServer(pki, tmpDir, extraConfig = {}) {
	const fedPort = await freePort();
	const srv = new Server({
		serverName: `127.0.0.1:${fedPort}`,
		extraListeners: [
			{
				port: fedPort,
				bind_addresses: ['127.0.0.1'],
				type: 'http',
				tls: true,
				resources: [{ names: ['federation', 'keys', 'media'] }],
			},
		],
		config: {
			tls_certificate_path: pki.cert,
			tls_private_key_path: pki.key,
			federation_custom_ca_list: [pki.ca],
			ip_range_whitelist: ['127.0.0.0/8'],
			trusted_key_servers: [],
			...extraConfig,
		},
	});
	srv.fedPort = fedPort;
	srv.fedUrl = `https://127.0.0.1:${fedPort}`;
	return srv;
}

const b64 = (buf) => Buffer.from(buf).toString('base64').replace(/=+$/, '');

/** Sign obj (signatures and unsigned left out) as server with key; returns obj with signatures. */
function signJson(obj, serverName, keyId, privateKey) {
	const { signatures = {}, unsigned, ...rest } = obj;
	const sig = crypto.sign(null, Buffer.from(canonicalJson(rest)), privateKey);
	return { ...obj, signatures: { ...signatures, [serverName]: { ...(signatures[serverName] ?? {}), [keyId]: b64(sig) } } };
}

/**
 * An HTTPS "homeserver" written for the tests: it publishes its ed25519 key
 * at /_matrix/key/v2/server, answers the routes given to handle(), and
 * makes X-Matrix signed requests.
 */
export class FakeRemote {
	constructor(pki) {
		this.pki = pki;
		this.routes = new Map(); // "METHOD path" -> (req, res, url) => void
		const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
		this.privateKey = privateKey;
		this.keyId = 'ed25519:test';
		this.publicKeyB64 = b64(Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url'));
		this.requests = []; // [method, url] of every request received
	}

	async start() {
		this.port = await freePort();
		this.serverName = `127.0.0.1:${this.port}`;
		this.server = https.createServer(
			{ key: fs.readFileSync(this.pki.key), cert: fs.readFileSync(this.pki.cert) },
			(req, res) => this.#dispatch(req, res),
		);
		await new Promise((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
		return this;
	}

	async stop() {
		if (this.server) {
			this.server.closeAllConnections();
			await new Promise((resolve) => this.server.close(resolve));
		}
	}

	/** Answer METHOD path (exact path, query ignored) with fn(req, res, url). */
	handle(method, pathname, fn) {
		this.routes.set(`${method} ${pathname}`, fn);
	}

	keyResponse() {
		return signJson(
			{
				server_name: this.serverName,
				valid_until_ts: Date.now() + 3600_000,
				verify_keys: { [this.keyId]: { key: this.publicKeyB64 } },
				old_verify_keys: {},
			},
			this.serverName,
			this.keyId,
			this.privateKey,
		);
	}

	#dispatch(req, res) {
		const url = new URL(req.url, `https://${this.serverName}`);
		this.requests.push([req.method, req.url]);
		if (req.method === 'GET' && url.pathname === '/_matrix/key/v2/server') {
			res.writeHead(200, { 'Content-Type': 'application/json' });
			res.end(JSON.stringify(this.keyResponse()));
			return;
		}
		const fn = this.routes.get(`${req.method} ${url.pathname}`);
		if (fn) {
			fn(req, res, url);
			return;
		}
		res.writeHead(404, { 'Content-Type': 'application/json' });
		res.end(JSON.stringify({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' }));
	}

	/**
	 * The Authorization header for a request to destination. overrides
	 * changes what is signed versus what is claimed (for forgery tests):
	 * { signedUri, origin, destination, keyId, sig }.
	 */
	authorization(destination, method, uri, content, overrides = {}) {
		const signed = { method, uri: overrides.signedUri ?? uri, origin: this.serverName, destination };
		if (content !== undefined) signed.content = content;
		const s = signJson(signed, this.serverName, this.keyId, this.privateKey);
		const sig = overrides.sig ?? s.signatures[this.serverName][this.keyId];
		const origin = overrides.origin ?? this.serverName;
		const dest = overrides.destination ?? destination;
		const keyId = overrides.keyId ?? this.keyId;
		return `X-Matrix origin="${origin}",destination="${dest}",key="${keyId}",sig="${sig}"`;
	}

	/**
	 * A request to a Myelin federation listener (srv.fedUrl), signed unless
	 * opts.authorization (a header value, or null for none) is given.
	 * Returns { status, headers, body (Buffer), json }.
	 */
	request(srv, method, uri, opts = {}) {
		const body = opts.json === undefined ? undefined : Buffer.from(JSON.stringify(opts.json));
		const headers = {};
		const auth = opts.authorization === undefined
			? this.authorization(srv.serverName, method, uri, opts.json, opts.overrides)
			: opts.authorization;
		if (auth) headers.Authorization = auth;
		if (body) {
			headers['Content-Type'] = 'application/json';
			headers['Content-Length'] = body.length;
		}
		return new Promise((resolve, reject) => {
			const req = https.request(`${srv.fedUrl}${uri}`, { method, headers, ca: fs.readFileSync(this.pki.ca) }, (res) => {
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('end', () => {
					const buf = Buffer.concat(chunks);
					let json;
					try {
						json = JSON.parse(buf.toString('utf8'));
					} catch {
						json = undefined;
					}
					resolve({ status: res.statusCode, headers: res.headers, body: buf, json });
				});
			});
			req.on('error', reject);
			req.end(body);
		});
	}
}

/**
 * The parts of a multipart body: [{ headers: {lowercased name: value}, body: Buffer }].
 * Throws unless contentType names a boundary and the body is well formed.
 */
export function parseMultipart(contentType, body) {
	const m = /^multipart\/mixed;\s*boundary="?([^";]+)"?/i.exec(contentType ?? '');
	if (!m) throw new Error(`not multipart/mixed: ${contentType}`);
	const delim = Buffer.from(`--${m[1]}`);
	const parts = [];
	let at = body.indexOf(delim);
	if (at < 0) throw new Error('no boundary in the body');
	for (;;) {
		at += delim.length;
		if (body.subarray(at, at + 2).toString() === '--') return parts;
		if (body.subarray(at, at + 2).toString() !== '\r\n') throw new Error('bad delimiter line');
		const headEnd = body.indexOf('\r\n\r\n', at + 2);
		const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd);
		if (headEnd < 0 || next < 0) throw new Error('unterminated part');
		const headers = {};
		const headText = body.subarray(at + 2, headEnd).toString('latin1');
		for (const line of headText.split('\r\n').filter(Boolean)) {
			const i = line.indexOf(':');
			headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
		}
		parts.push({ headers, body: body.subarray(headEnd + 4, next) });
		at = next + 2;
	}
}

/** A multipart/mixed body of the two parts the federation media API sends. */
export function mediaMultipart(second, boundary = crypto.randomBytes(12).toString('hex')) {
	const lines = [`--${boundary}`, 'Content-Type: application/json', '', '{}', `--${boundary}`];
	for (const [k, v] of Object.entries(second.headers)) lines.push(`${k}: ${v}`);
	const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n');
	return {
		contentType: `multipart/mixed; boundary=${boundary}`,
		body: Buffer.concat([head, second.body ?? Buffer.alloc(0), Buffer.from(`\r\n--${boundary}--\r\n`)]),
	};
}
