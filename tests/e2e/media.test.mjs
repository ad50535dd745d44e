// SPDX-License-Identifier: Apache-2.0
//
// The content repository: uploads (direct and async), authenticated
// downloads byte for byte, thumbnails, limits, and the frozen legacy
// endpoints. Images are made by the tests (lib/images.mjs and a GIF here).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, register } from './lib/matrix.mjs';
import { makePng, imageInfo } from './lib/images.mjs';

const MAX_UPLOAD = 3 * 1024 * 1024;
const srv = useServer({ config: { max_upload_size: MAX_UPLOAD } });

/**
 * A 2-frame GIF89a of w x h, hand-encoded: a 4-colour palette and LZW
 * with a clear code before every pixel, so every code is one byte wide.
 */
function makeAnimatedGif(w, h) {
	const parts = [Buffer.from('GIF89a', 'ascii')];
	const lsd = Buffer.alloc(7);
	lsd.writeUInt16LE(w, 0);
	lsd.writeUInt16LE(h, 2);
	lsd[4] = 0xf0 | 6; // global colour table of 2^(6+1) = 128 entries
	parts.push(lsd);
	const palette = Buffer.alloc(128 * 3);
	Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0]).copy(palette);
	parts.push(palette);
	// NETSCAPE2.0: loop forever.
	parts.push(Buffer.from([0x21, 0xff, 0x0b]), Buffer.from('NETSCAPE2.0', 'ascii'), Buffer.from([3, 1, 0, 0, 0]));
	for (let f = 0; f < 2; f++) {
		parts.push(Buffer.from([0x21, 0xf9, 4, 0, 10, 0, 0, 0])); // 100 ms per frame
		const desc = Buffer.alloc(10);
		desc[0] = 0x2c;
		desc.writeUInt16LE(w, 5);
		desc.writeUInt16LE(h, 7);
		parts.push(desc);
		// Minimum code size 7: clear = 128, end = 129, codes are 8 bits.
		const codes = [];
		for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) codes.push(128, ((x >> 3) + (y >> 3) + f) & 3);
		codes.push(129);
		const data = Buffer.from(codes);
		parts.push(Buffer.from([7]));
		for (let i = 0; i < data.length; i += 255) {
			const sub = data.subarray(i, i + 255);
			parts.push(Buffer.from([sub.length]), sub);
		}
		parts.push(Buffer.from([0]));
	}
	parts.push(Buffer.from([0x3b]));
	return Buffer.concat(parts);
}
/** The frames and canvas of a WebP or GIF: { type, frames, width, height }. */
function animInfo(buf) {
	if (buf.subarray(0, 4).toString('ascii') === 'RIFF' && buf.subarray(8, 12).toString('ascii') === 'WEBP') {
		let frames = 0;
		let width = 0;
		let height = 0;
		for (let i = 12; i + 8 <= buf.length;) {
			const id = buf.subarray(i, i + 4).toString('ascii');
			const len = buf.readUInt32LE(i + 4);
			if (id === 'VP8X') {
				width = buf.readUIntLE(i + 12, 3) + 1;
				height = buf.readUIntLE(i + 15, 3) + 1;
			}
			if (id === 'ANMF') frames++;
			i += 8 + len + (len & 1);
		}
		return { type: 'webp', frames, width, height };
	}
	if (buf.subarray(0, 6).toString('ascii') === 'GIF89a') {
		// Enough for our check: count image descriptors after the header.
		return { type: 'gif', frames: buf.filter((b) => b === 0x2c).length, width: buf.readUInt16LE(6), height: buf.readUInt16LE(8) };
	}
	return null;
}

/** A raw request whose body is read as bytes. */
async function fetchBytes(path, { token, method = 'GET', headers = {}, body } = {}) {
	if (token) headers.Authorization = `Bearer ${token}`;
	const res = await fetch(srv.baseUrl + path, { method, headers, body });
	const bytes = Buffer.from(await res.arrayBuffer());
	let json;
	try {
		json = JSON.parse(bytes.toString('utf8'));
	} catch {
		json = undefined;
	}
	return { status: res.status, headers: res.headers, bytes, text: bytes.toString('utf8'), json };
}

const mediaId = (uri) => uri.replace(/^mxc:\/\/[^/]+\//, '');
const dl = (uri) => `/_matrix/client/v1/media/download/${uri.slice('mxc://'.length)}`;
const thumb = (uri, q) => `/_matrix/client/v1/media/thumbnail/${uri.slice('mxc://'.length)}?${q}`;

describe('media', () => {
	let alice;
	let bob;
	const png = makePng(1000, 500);
	const smallPng = makePng(20, 10);
	const file = Buffer.from('plain text, ' + 'x'.repeat(5000));

	before(async () => {
		alice = await register(srv, 'alice', 'alice-password');
		bob = await register(srv, 'bob', 'bob-password');
	});

	// Spec: POST /_matrix/media/v3/upload; GET /_matrix/client/v1/media/download: the
	// other user gets the same bytes, type and a safe disposition.
	it('an image and a file uploaded by alice download byte-identical for bob', async () => {
		const up = await alice.client.uploadContent(png, { type: 'image/png', name: 'cat.png' });
		assert.match(up.content_uri, new RegExp(`^mxc://${srv.serverName}/[A-Za-z0-9_-]+$`));
		const res = await fetchBytes(dl(up.content_uri), { token: bob.access_token });
		assert.equal(res.status, 200, res.text);
		assert.ok(res.bytes.equals(png), 'image bytes differ');
		assert.equal(res.headers.get('content-type'), 'image/png');
		assert.equal(res.headers.get('content-disposition'), 'inline; filename="cat.png"');
		assert.match(res.headers.get('content-security-policy'), /^sandbox; default-src 'none'/);
		assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
		assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');

		const up2 = await alice.client.uploadContent(file, { type: 'text/html', name: 'page été.html' });
		const res2 = await fetchBytes(dl(up2.content_uri), { token: bob.access_token });
		assert.equal(res2.status, 200, res2.text);
		assert.ok(res2.bytes.equals(file), 'file bytes differ');
		// Spec: serving inline content: text/html is never inline.
		assert.equal(res2.headers.get('content-disposition'), "attachment; filename*=utf-8''page%20%C3%A9t%C3%A9.html");
		// The file name in the path wins.
		const res3 = await fetchBytes(`${dl(up2.content_uri)}/other.txt`, { token: bob.access_token });
		assert.equal(res3.headers.get('content-disposition'), 'attachment; filename="other.txt"');
	});

	// Spec: content-repo: zero-byte files are files.
	it('a zero-byte file uploads and downloads', async () => {
		const res = await fetchBytes('/_matrix/media/v3/upload?filename=empty.bin', {
			token: alice.access_token, method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(0),
		});
		assert.equal(res.status, 200, res.text);
		const got = await fetchBytes(dl(res.json.content_uri), { token: bob.access_token });
		assert.equal(got.status, 200, got.text);
		assert.equal(got.bytes.length, 0);
	});

	// Spec: GET /_matrix/client/v1/media/config.
	it('media config reports max_upload_size', async () => {
		const res = await api(srv, 'GET', '/_matrix/client/v1/media/config', { token: bob.access_token });
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json['m.upload.size'], MAX_UPLOAD);
	});

	// Spec: authenticated media: the download needs an access token; the
	// deprecated unauthenticated endpoints are frozen for new media.
	it('downloads need a token; the legacy endpoints answer 404', async () => {
		const up = await alice.client.uploadContent(smallPng, { type: 'image/png' });
		assertError(await api(srv, 'GET', dl(up.content_uri)), 401, 'M_MISSING_TOKEN');
		// An upload is authenticated before its body is stored.
		assertError(await api(srv, 'POST', '/_matrix/media/v3/upload', {
			headers: { 'Content-Type': 'image/png' }, body: smallPng,
		}), 401, 'M_MISSING_TOKEN');
		assertError(await api(srv, 'POST', '/_matrix/media/v3/upload', {
			token: 'not-a-token', headers: { 'Content-Type': 'image/png' }, body: smallPng,
		}), 401, 'M_UNKNOWN_TOKEN');
		const rest = up.content_uri.slice('mxc://'.length);
		assertError(await api(srv, 'GET', `/_matrix/media/v3/download/${rest}`), 404, 'M_NOT_FOUND');
		assertError(await api(srv, 'GET', `/_matrix/media/v3/thumbnail/${rest}?width=32&height=32`), 404, 'M_NOT_FOUND');
	});

	// Spec: content-repo security considerations: 413 M_TOO_LARGE; nothing stored.
	it('an upload over max_upload_size is 413 M_TOO_LARGE', async () => {
		const res = await api(srv, 'POST', '/_matrix/media/v3/upload', {
			token: alice.access_token, headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(MAX_UPLOAD + 1),
		});
		assertError(res, 413, 'M_TOO_LARGE');
	});

	// Spec: 404 M_NOT_FOUND for unknown media; ids are [A-Za-z0-9_-] only.
	it('unknown media is 404 and traversal ids are refused', async () => {
		assertError(await api(srv, 'GET', `/_matrix/client/v1/media/download/${srv.serverName}/nosuchmedia`, { token: bob.access_token }), 404, 'M_NOT_FOUND');
		for (const id of ['..%2F..%2Fetc%2Fpasswd', '%2E%2E', 'a.b', 'a%00b']) {
			const res = await api(srv, 'GET', `/_matrix/client/v1/media/download/${srv.serverName}/${id}`, { token: bob.access_token });
			assert.ok([400, 404].includes(res.status), `${id}: ${res.status} ${res.text}`);
			assert.ok(['M_INVALID_PARAM', 'M_NOT_FOUND', 'M_UNRECOGNIZED'].includes(res.json?.errcode), `${id}: ${res.text}`);
		}
		// Remote media is fetched over federation (federation-media.test.mjs);
		// a server that may not be reached (loopback is blacklisted by default)
		// is 502, a name that cannot be one 400.
		assertError(await api(srv, 'GET', '/_matrix/client/v1/media/download/127.0.0.1:1/abc', { token: bob.access_token }), 502, 'M_UNKNOWN');
		assertError(await api(srv, 'GET', '/_matrix/client/v1/media/download/bad_name!/abc', { token: bob.access_token }), 400, 'M_INVALID_PARAM');
	});

	// Spec: GET /_matrix/client/v1/media/thumbnail: crop fills the box, scale keeps
	// the aspect; a real PNG; never upscaled (small images come back as they are).
	it('thumbnails have the requested bounds and a real image type', async () => {
		const up = await alice.client.uploadContent(png, { type: 'image/png' });
		const crop = await fetchBytes(thumb(up.content_uri, 'width=32&height=32&method=crop'), { token: bob.access_token });
		assert.equal(crop.status, 200, crop.text);
		assert.deepEqual(imageInfo(crop.bytes), { type: 'png', width: 32, height: 32 });
		assert.equal(crop.headers.get('content-type'), 'image/png');
		assert.match(crop.headers.get('content-disposition'), /^inline/);

		const scale = await fetchBytes(thumb(up.content_uri, 'width=320&height=240&method=scale'), { token: bob.access_token });
		assert.equal(scale.status, 200, scale.text);
		assert.deepEqual(imageInfo(scale.bytes), { type: 'png', width: 320, height: 160 });

		// A size not configured is made on demand, at least as large as asked.
		const odd = await fetchBytes(thumb(up.content_uri, 'width=900&height=450&method=scale'), { token: bob.access_token });
		assert.equal(odd.status, 200, odd.text);
		assert.deepEqual(imageInfo(odd.bytes), { type: 'png', width: 900, height: 450 });

		const small = await alice.client.uploadContent(smallPng, { type: 'image/png' });
		const s = await fetchBytes(thumb(small.content_uri, 'width=96&height=96&method=crop'), { token: bob.access_token });
		assert.equal(s.status, 200, s.text);
		assert.ok(s.bytes.equals(smallPng), 'a small image comes back unchanged');

		assertError(await api(srv, 'GET', thumb(up.content_uri, 'width=0&height=32'), { token: bob.access_token }), 400, 'M_INVALID_PARAM');
		assertError(await api(srv, 'GET', thumb(up.content_uri, 'width=32&height=32&method=zoom'), { token: bob.access_token }), 400, 'M_INVALID_PARAM');
	});

	// Spec: thumbnail `animated`: true gives an animated thumbnail when the
	// source is animated (image/webp preferred); false or absent never does.
	it('animated=true thumbnails an animated GIF as an animated WebP within the bounds', async () => {
		const gif = makeAnimatedGif(400, 300);
		const up = await alice.client.uploadContent(gif, { type: 'image/gif' });
		const q = 'width=320&height=240&method=scale&animated=true';
		const a = await fetchBytes(thumb(up.content_uri, q), { token: bob.access_token });
		assert.equal(a.status, 200, a.text);
		assert.equal(a.headers.get('content-type'), 'image/webp');
		assert.equal(a.headers.get('content-disposition'), 'inline; filename="thumbnail.webp"');
		assert.deepEqual(animInfo(a.bytes), { type: 'webp', frames: 2, width: 320, height: 240 });
		// Served again from its own cache entry.
		const again = await fetchBytes(thumb(up.content_uri, q), { token: bob.access_token });
		assert.ok(again.bytes.equals(a.bytes));
		// An animated crop: every frame cropped to fill the box exactly.
		const c = await fetchBytes(thumb(up.content_uri, 'width=96&height=96&method=crop&animated=true'), { token: bob.access_token });
		assert.equal(c.status, 200, c.text);
		assert.equal(c.headers.get('content-type'), 'image/webp');
		assert.deepEqual(animInfo(c.bytes), { type: 'webp', frames: 2, width: 96, height: 96 });
		// ... and animated=false still gets the static crop.
		const cs = await fetchBytes(thumb(up.content_uri, 'width=96&height=96&method=crop&animated=false'), { token: bob.access_token });
		assert.equal(cs.status, 200, cs.text);
		assert.deepEqual(imageInfo(cs.bytes), { type: 'png', width: 96, height: 96 });

		// Cached apart from the static thumbnail of the same size.
		for (const p of ['&animated=false', '']) {
			const st = await fetchBytes(thumb(up.content_uri, `width=320&height=240&method=scale${p}`), { token: bob.access_token });
			assert.equal(st.status, 200, st.text);
			assert.equal(st.headers.get('content-type'), 'image/png');
			assert.deepEqual(imageInfo(st.bytes), { type: 'png', width: 320, height: 240 });
		}
		// A small animated GIF: the original for animated=true, a static PNG otherwise.
		const tiny = makeAnimatedGif(16, 16);
		const t = await alice.client.uploadContent(tiny, { type: 'image/gif' });
		const ta = await fetchBytes(thumb(t.content_uri, 'width=32&height=32&method=crop&animated=true'), { token: bob.access_token });
		assert.ok(ta.bytes.equals(tiny), 'a small animation comes back unchanged');
		const ts = await fetchBytes(thumb(t.content_uri, 'width=32&height=32&method=crop'), { token: bob.access_token });
		assert.equal(ts.status, 200, ts.text);
		assert.deepEqual(imageInfo(ts.bytes), { type: 'png', width: 16, height: 16 });
		// A static source asked for animation gets today's static thumbnail.
		const p = await alice.client.uploadContent(png, { type: 'image/png' });
		const ps = await fetchBytes(thumb(p.content_uri, 'width=32&height=32&method=crop&animated=true'), { token: bob.access_token });
		assert.equal(ps.status, 200, ps.text);
		assert.deepEqual(imageInfo(ps.bytes), { type: 'png', width: 32, height: 32 });
		assertError(await api(srv, 'GET', thumb(up.content_uri, 'width=32&height=32&animated=yes'), { token: bob.access_token }), 400, 'M_INVALID_PARAM');
	});

	// Spec: thumbnail 400 "the server cannot thumbnail the content".
	it('truncated, fake and non-image content gets a clear error on thumbnail', async () => {
		const truncated = await alice.client.uploadContent(png.subarray(0, 300), { type: 'image/png' });
		const fake = await alice.client.uploadContent(Buffer.from('<html>not a png</html>'), { type: 'image/png' });
		const text = await alice.client.uploadContent(file, { type: 'text/plain' });
		for (const up of [truncated, fake, text]) {
			const res = await api(srv, 'GET', thumb(up.content_uri, 'width=32&height=32&method=crop'), { token: bob.access_token });
			assertError(res, 400, 'M_UNKNOWN');
			assert.match(res.json.error, /thumbnail/);
		}
	});

	// Spec: POST /_matrix/media/v1/create, PUT /_matrix/media/v3/upload/{serverName}/{mediaId}.
	it('async upload: create, wait, upload, download; only once and only by the creator', async () => {
		const created = await api(srv, 'POST', '/_matrix/media/v1/create', { token: alice.access_token });
		assert.equal(created.status, 200, created.text);
		assert.ok(created.json.unused_expires_at > Date.now());
		const uri = created.json.content_uri;

		// Not uploaded yet: a short wait ends in 504 M_NOT_YET_UPLOADED.
		assertError(await api(srv, 'GET', `${dl(uri)}?timeout_ms=200`, { token: bob.access_token }), 504, 'M_NOT_YET_UPLOADED');

		// Bob may not fill alice's id.
		const put = (token, body) => fetchBytes(`/_matrix/media/v3/upload/${uri.slice('mxc://'.length)}?filename=a.txt`, {
			token, method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body,
		});
		const bobPut = await put(bob.access_token, 'bob was here');
		assert.equal(bobPut.status, 403, bobPut.text);

		// A waiting download is answered as soon as the upload lands.
		const waiting = fetchBytes(`${dl(uri)}?timeout_ms=10000`, { token: bob.access_token });
		await new Promise((r) => setTimeout(r, 200));
		const ok = await put(alice.access_token, 'async content');
		assert.equal(ok.status, 200, ok.text);
		const got = await waiting;
		assert.equal(got.status, 200, got.text);
		assert.equal(got.text, 'async content');

		const again = await put(alice.access_token, 'again');
		assert.equal(again.status, 409, again.text);
		assert.equal(again.json.errcode, 'M_CANNOT_OVERWRITE_MEDIA');
		assert.equal((await fetchBytes(dl(uri), { token: bob.access_token })).text, 'async content');
	});

	// Synapse's max_pending_media_uploads (default 5): 429 M_LIMIT_EXCEEDED.
	it('pending async uploads are limited per user', async () => {
		let last;
		for (let i = 0; i < 6; i++) last = await api(srv, 'POST', '/_matrix/media/v1/create', { token: bob.access_token });
		assertError(last, 429, 'M_LIMIT_EXCEEDED');
	});
});
