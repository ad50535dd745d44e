// SPDX-License-Identifier: Apache-2.0
//
// URL previews: a page served by a Node HTTP server on 127.0.0.1, which the
// config whitelists out of a blacklist covering all of 127.0.0.0/8; the
// OpenGraph fields, the og:image stored as local media, the <title>
// fallback, redirects (checked again: one into a blocked address fails),
// the cache, and refusals. A second server keeps previews disabled.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { useServer } from './lib/server.mjs';
import { api, assertError, register } from './lib/matrix.mjs';

const srv = useServer({
	config: {
		url_preview_enabled: true,
		url_preview_ip_range_blacklist: ['127.0.0.0/8', '10.0.0.0/8', '::1/128'],
		url_preview_ip_range_whitelist: ['127.0.0.1/32'],
		max_spider_size: 65536,
	},
});
const off = useServer({});

// A 1x1 PNG.
const PNG = Buffer.concat([
	Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108020000009077' +
		'53de', 'hex'),
	(() => {
		const data = zlib.deflateSync(Buffer.from([0, 255, 0, 0]));
		const len = Buffer.alloc(4);
		len.writeUInt32BE(data.length);
		return Buffer.concat([len, Buffer.from('IDAT'), data, Buffer.alloc(4)]);
	})(),
]);

let site, base, hits = 0;
function startSite() {
	return new Promise((resolve) => {
		site = http.createServer((req, res) => {
			hits++;
			const page = (html) => { res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }); res.end(html); };
			switch (req.url) {
			case '/og':
				return page(`<!doctype html><html><head><title>Ignored title</title>
<!-- <meta property="og:title" content="in a comment"> -->
<script>var s = '<meta property="og:title" content="in a script">';</script>
<meta property="og:title" content="Tom &amp; Jerry &#x2764;">
<meta property='og:description' content='A  cat
  and a mouse'>
<meta property="og:image" content="/img.png">
<meta property="og:image:width" content="1">
<meta property="og:image:height" content="1">
<meta property="og:site_name" content="Example">
</head><body>hi</body></html>`);
			case '/plain':
				return page('<html><head><TITLE>Just a title</TITLE><meta name="description" content="Described"></head></html>');
			case '/img.png':
				res.writeHead(200, { 'Content-Type': 'image/png' });
				return res.end(PNG);
			case '/redirect':
				res.writeHead(302, { Location: '/plain' });
				return res.end();
			case '/redirect-blocked':
				res.writeHead(302, { Location: `http://127.0.0.2:${site.address().port}/plain` });
				return res.end();
			case '/loop':
				res.writeHead(302, { Location: '/loop' });
				return res.end();
			case '/big':
				return page('<title>big</title>' + 'x'.repeat(200000));
			case '/count':
				return page(`<title>count ${hits}</title>`);
			default:
				res.writeHead(404);
				return res.end();
			}
		});
		site.listen(0, '127.0.0.1', () => {
			base = `http://127.0.0.1:${site.address().port}`;
			resolve();
		});
	});
}

const preview = (s, token, url, ts) => api(s, 'GET',
	`/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(url)}${ts ? `&ts=${ts}` : ''}`, { token });

describe('URL previews', () => {
	let alice, offUser;
	before(async () => {
		await startSite();
		alice = await register(srv, 'alice', 'alice-password');
		offUser = await register(off, 'bob', 'bob-password');
	});
	after(() => site?.close());

	// SPEC: client-server-api#get_matrixclientv1mediapreview_url
	it('returns OpenGraph data and stores og:image as local media', async () => {
		const res = await preview(srv, alice.access_token, `${base}/og`);
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json['og:title'], 'Tom & Jerry \u2764');
		assert.equal(res.json['og:description'], 'A cat and a mouse');
		assert.equal(res.json['og:site_name'], 'Example');
		assert.equal(res.json['og:image:width'], 1);
		assert.equal(res.json['og:image:type'], 'image/png');
		assert.equal(res.json['matrix:image:size'], PNG.length);
		const m = /^mxc:\/\/([^/]+)\/(.+)$/.exec(res.json['og:image']);
		assert.ok(m, res.json['og:image']);
		const dl = await fetch(`${srv.baseUrl}/_matrix/client/v1/media/download/${m[1]}/${m[2]}`,
			{ headers: { Authorization: `Bearer ${alice.access_token}` } });
		assert.equal(dl.status, 200);
		assert.ok(Buffer.from(await dl.arrayBuffer()).equals(PNG));
	});

	it('falls back to <title> and meta description, through a redirect', async () => {
		const res = await preview(srv, alice.access_token, `${base}/redirect`);
		assert.equal(res.status, 200, res.text);
		assert.deepEqual(res.json, { 'og:title': 'Just a title', 'og:description': 'Described' });
	});

	it('caches per URL and hour, and ts picks the cache entry', async () => {
		const a = await preview(srv, alice.access_token, `${base}/count`, 1700000000000);
		const b = await preview(srv, alice.access_token, `${base}/count`, 1700000001000);
		assert.equal(a.status, 200);
		assert.deepEqual(a.json, b.json);
		const c = await preview(srv, alice.access_token, `${base}/count`, 1700009000000);
		assert.notDeepEqual(a.json, c.json);
	});

	it('refuses blacklisted addresses, also after a redirect', async () => {
		const port = site.address().port;
		const direct = await preview(srv, alice.access_token, `http://127.0.0.2:${port}/plain`);
		assertError(direct, 403, 'M_FORBIDDEN');
		const redirected = await preview(srv, alice.access_token, `${base}/redirect-blocked`);
		assertError(redirected, 403, 'M_FORBIDDEN');
		assertError(await preview(srv, alice.access_token, `http://10.1.2.3:${port}/`), 403, 'M_FORBIDDEN');
	});

	it('refuses other schemes, redirect loops and oversized pages', async () => {
		assertError(await preview(srv, alice.access_token, 'file:///etc/passwd'), 400, 'M_INVALID_PARAM');
		assert.equal((await preview(srv, alice.access_token, `${base}/loop`)).status, 502);
		assert.equal((await preview(srv, alice.access_token, `${base}/big`)).status, 502);
		assertError(await api(srv, 'GET', '/_matrix/client/v1/media/preview_url', { token: alice.access_token }),
			400, 'M_MISSING_PARAM');
		assertError(await preview(srv, undefined, `${base}/og`), 401, 'M_MISSING_TOKEN');
	});

	it('is off unless url_preview_enabled', async () => {
		assertError(await preview(off, offUser.access_token, `${base}/og`), 404, 'M_UNRECOGNIZED');
	});
});
