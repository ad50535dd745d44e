// SPDX-License-Identifier: Apache-2.0
//
// Server discovery, versions, capabilities, the signing-key server, the
// federation version, CORS, and the router's answers to unknown paths and
// methods.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import fs from 'node:fs';
import { useServer } from './lib/server.mjs';
import { api, assertError, canonicalJson, clientFor, register, unpaddedBase64Decode } from './lib/matrix.mjs';

const srv = useServer();

describe('discovery and server information', () => {
	let alice;
	before(async () => {
		alice = await register(srv, 'alice', 'alice-password');
	});

	// Spec: Client-Server API, "API Versions" (GET /_matrix/client/versions).
	it('GET /versions lists the supported spec versions', async () => {
		const v = await clientFor(srv).getVersions();
		assert.ok(Array.isArray(v.versions) && v.versions.length > 0, JSON.stringify(v));
		for (const ver of v.versions) assert.match(ver, /^(v\d+\.\d+|r\d+\.\d+\.\d+)$/);
		assert.ok(v.versions.some((x) => /^v1\.\d+$/.test(x)), 'advertises at least one v1.x version');
		if (v.unstable_features !== undefined) {
			assert.equal(typeof v.unstable_features, 'object');
			for (const val of Object.values(v.unstable_features)) assert.equal(typeof val, 'boolean');
		}
	});

	// Spec: Client-Server API, "Well-known URIs" (GET /.well-known/matrix/client);
	// the file SHOULD be served with CORS headers.
	it('GET /.well-known/matrix/client points at public_baseurl', async () => {
		const res = await api(srv, 'GET', '/.well-known/matrix/client');
		assert.equal(res.status, 200, res.text);
		assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
		const base = res.json?.['m.homeserver']?.base_url;
		assert.equal(typeof base, 'string', res.text);
		assert.equal(base.replace(/\/$/, ''), srv.config.public_baseurl.replace(/\/$/, ''));
		assert.equal(res.headers.get('access-control-allow-origin'), '*');
	});

	// Spec: Client-Server API, "Legacy API" > "Login" (GET /_matrix/client/v3/login).
	it('GET /login lists m.login.password', async () => {
		const { flows } = await clientFor(srv).loginFlows();
		assert.ok(Array.isArray(flows), 'flows is an array');
		assert.ok(flows.some((f) => f.type === 'm.login.password'), JSON.stringify(flows));
	});

	// Spec: Client-Server API, "Capabilities negotiation" (GET /_matrix/client/v3/capabilities)
	// and the capabilities it defines.
	it('GET /capabilities lists the account capabilities and room versions', async () => {
		const caps = await alice.client.fetchCapabilities();
		assert.equal(caps['m.change_password']?.enabled, true, JSON.stringify(caps));
		assert.equal(typeof caps['m.set_displayname']?.enabled, 'boolean');
		assert.equal(typeof caps['m.set_avatar_url']?.enabled, 'boolean');
		assert.equal(typeof caps['m.3pid_changes']?.enabled, 'boolean');
		const rv = caps['m.room_versions'];
		assert.equal(typeof rv?.default, 'string', JSON.stringify(caps));
		assert.equal(typeof rv.available, 'object');
		assert.ok(rv.default in rv.available, 'the default room version is available');
		for (const stability of Object.values(rv.available)) assert.ok(['stable', 'unstable'].includes(stability));
	});

	// Spec: Client-Server API, "Capabilities negotiation": the endpoint requires authentication.
	it('GET /capabilities without a token is 401 M_MISSING_TOKEN', async () => {
		assertError(await api(srv, 'GET', '/_matrix/client/v3/capabilities'), 401, 'M_MISSING_TOKEN');
	});

	// Spec: Server-Server API, "Retrieving server keys" > "Publishing Keys"
	// (GET /_matrix/key/v2/server), signed per Appendices "Signing JSON".
	it('GET /_matrix/key/v2/server returns a self-signed, unexpired key', async () => {
		const res = await api(srv, 'GET', '/_matrix/key/v2/server');
		assert.equal(res.status, 200, res.text);
		const keys = res.json;
		assert.equal(keys.server_name, srv.serverName);
		assert.equal(typeof keys.valid_until_ts, 'number');
		assert.ok(keys.valid_until_ts > Date.now(), 'valid_until_ts is in the future');
		assert.equal(typeof keys.old_verify_keys, 'object', 'old_verify_keys is present');
		const keyIds = Object.keys(keys.verify_keys ?? {});
		assert.ok(keyIds.length > 0, 'at least one verify key');
		const sigs = keys.signatures?.[srv.serverName];
		assert.ok(sigs, 'signed by the server itself');

		const signed = { ...keys };
		delete signed.signatures;
		delete signed.unsigned;
		const message = Buffer.from(canonicalJson(signed), 'utf8');
		for (const keyId of keyIds) {
			assert.match(keyId, /^ed25519:[a-zA-Z0-9_]+$/, 'key id is ed25519:<version>');
			const raw = unpaddedBase64Decode(keys.verify_keys[keyId].key);
			assert.equal(raw.length, 32, 'an ed25519 public key is 32 bytes');
			assert.ok(sigs[keyId], `signature by ${keyId}`);
			const sig = unpaddedBase64Decode(sigs[keyId]);
			assert.equal(sig.length, 64, 'an ed25519 signature is 64 bytes');
			const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
			assert.ok(verify(null, message, pub, sig), `signature by ${keyId} verifies over the canonical JSON`);
		}
		assert.ok(fs.existsSync(srv.config.signing_key_path), 'the signing key was written to signing_key_path');
	});

	// Spec: Server-Server API, "Server implementation" (GET /_matrix/federation/v1/version).
	it('GET /_matrix/federation/v1/version names the server', async () => {
		const res = await api(srv, 'GET', '/_matrix/federation/v1/version');
		assert.equal(res.status, 200, res.text);
		assert.equal(typeof res.json?.server?.name, 'string', res.text);
		assert.equal(typeof res.json.server.version, 'string', res.text);
	});

	// Synapse's health resource, named in the listener config: GET /health answers 200.
	it('GET /health answers 200', async () => {
		const res = await api(srv, 'GET', '/health');
		assert.equal(res.status, 200, res.text);
	});

	// Spec: Client-Server API, "Web Browser Clients": OPTIONS is answered with the
	// CORS headers and without running the endpoint's logic.
	it('OPTIONS preflight returns the CORS headers without running the endpoint', async () => {
		const res = await api(srv, 'OPTIONS', '/_matrix/client/v3/account/whoami', {
			headers: {
				Origin: 'https://app.example.org',
				'Access-Control-Request-Method': 'GET',
				'Access-Control-Request-Headers': 'authorization',
			},
		});
		assert.ok(res.status === 200 || res.status === 204, `OPTIONS answered ${res.status}: ${res.text}`);
		assert.equal(res.headers.get('access-control-allow-origin'), '*');
		const methods = (res.headers.get('access-control-allow-methods') ?? '').split(',').map((s) => s.trim().toUpperCase());
		for (const m of ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS']) assert.ok(methods.includes(m), `Allow-Methods has ${m}: ${methods}`);
		const hdrs = (res.headers.get('access-control-allow-headers') ?? '').split(',').map((s) => s.trim().toLowerCase());
		for (const h of ['authorization', 'content-type', 'x-requested-with']) assert.ok(hdrs.includes(h), `Allow-Headers has ${h}: ${hdrs}`);

		// No logic: an OPTIONS on /register creates nothing.
		const reg = await api(srv, 'OPTIONS', '/_matrix/client/v3/register', {
			headers: { Origin: 'https://app.example.org', 'Access-Control-Request-Method': 'POST' },
		});
		assert.ok(reg.status === 200 || reg.status === 204, `OPTIONS /register answered ${reg.status}`);
	});

	// Spec: Client-Server API, "Web Browser Clients": CORS headers on all requests, errors included.
	it('CORS headers are on ordinary and error responses', async () => {
		const ok = await api(srv, 'GET', '/_matrix/client/versions', { headers: { Origin: 'https://app.example.org' } });
		assert.equal(ok.headers.get('access-control-allow-origin'), '*');
		const err = await api(srv, 'GET', '/_matrix/client/v3/account/whoami', { headers: { Origin: 'https://app.example.org' } });
		assert.equal(err.status, 401);
		assert.equal(err.headers.get('access-control-allow-origin'), '*');
	});

	// Spec: Client-Server API, "Common error codes", M_UNRECOGNIZED: 404 for an endpoint not implemented.
	it('an unknown path is 404 M_UNRECOGNIZED', async () => {
		assertError(await api(srv, 'GET', '/_matrix/client/v3/no_such_endpoint'), 404, 'M_UNRECOGNIZED');
		assertError(await api(srv, 'POST', '/_matrix/client/v3/no/such/endpoint', { json: {} }), 404, 'M_UNRECOGNIZED');
		assertError(await api(srv, 'GET', '/_matrix/client/v9/login'), 404, 'M_UNRECOGNIZED');
		const outside = await api(srv, 'GET', '/not-matrix-at-all');
		assert.equal(outside.status, 404);
	});

	// Spec: Client-Server API, "Common error codes", M_UNRECOGNIZED: 405 when the
	// endpoint exists but the method is wrong.
	it('a wrong method on a known path is 405 M_UNRECOGNIZED', async () => {
		assertError(await api(srv, 'DELETE', '/_matrix/client/v3/login'), 405, 'M_UNRECOGNIZED');
		assertError(await api(srv, 'PUT', '/_matrix/client/versions', { json: {} }), 405, 'M_UNRECOGNIZED');
		assertError(await api(srv, 'GET', '/_matrix/client/v3/logout', { token: alice.accessToken }), 405, 'M_UNRECOGNIZED');
	});
});
