// SPDX-License-Identifier: Apache-2.0
//
// Account registration (POST /register with User-Interactive Authentication,
// GET /register/available), refresh tokens, and the request-level rejections
// (malformed JSON, oversize bodies) with the rule that a rejected request
// changes nothing.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import {
	api, assertError, clientFor, login, rawRequest, register, rejects, uniqueName,
} from './lib/matrix.mjs';

const srv = useServer();

/** GET /register/available through the SDK: true, false (M_USER_IN_USE), or it throws. */
const available = (name) => clientFor(srv).isUsernameAvailable(name);

/**
 * A registration expected to fail: POST /register, then (if that is the UIA 401)
 * again with m.login.dummy. A server may refuse a bad username or a taken one on
 * the first request, before UIA (Synapse does), or after it. Returns the error.
 */
async function attempt(body) {
	const c = clientFor(srv);
	let first;
	try {
		await c.registerRequest(body);
	} catch (e) {
		first = e;
	}
	assert.ok(first, 'POST /register without auth succeeded');
	if (first.httpStatus !== 401) return first;
	const err = await c.registerRequest({ ...body, auth: { type: 'm.login.dummy', session: first.data.session } }).then(
		(res) => assert.fail(`registration succeeded: ${JSON.stringify(res)}`),
		(e) => e,
	);
	if (err instanceof assert.AssertionError) throw err;
	return err;
}

describe('registration', () => {
	// Spec: Client-Server API, "User-Interactive Authentication API" > "User-interactive
	// API in the REST API": the first request without `auth` gets 401 with flows and a session.
	it('POST /register without auth is 401 with flows and a session, and creates nothing', async () => {
		const c = clientFor(srv);
		const err = await rejects(c.registerRequest({ username: 'uia_probe', password: 'pw-uia-probe' }), 401);
		const { flows, session } = err.data;
		assert.ok(Array.isArray(flows) && flows.length > 0, JSON.stringify(err.data));
		for (const f of flows) assert.ok(Array.isArray(f.stages), `each flow has stages: ${JSON.stringify(f)}`);
		assert.ok(flows.some((f) => f.stages.length === 1 && f.stages[0] === 'm.login.dummy'),
			`open registration offers the m.login.dummy flow: ${JSON.stringify(flows)}`);
		assert.equal(typeof session, 'string');
		assert.ok(session.length > 0);
		assert.equal(await available('uia_probe'), true, 'the 401 created no account');
	});

	// Spec: Client-Server API, "Dummy Auth" and POST /_matrix/client/v3/register.
	it('two users register with m.login.dummy and each can use their token', async () => {
		const alice = await register(srv, 'alice', 'alice-password');
		const bob = await register(srv, 'bob', 'bob-password');
		assert.equal(alice.user_id, `@alice:${srv.serverName}`);
		assert.equal(bob.user_id, `@bob:${srv.serverName}`);
		for (const u of [alice, bob]) {
			assert.equal(typeof u.access_token, 'string');
			assert.equal(typeof u.device_id, 'string');
			assert.ok(u.device_id.length > 0);
			const me = await u.client.whoami();
			assert.equal(me.user_id, u.user_id);
			assert.equal(me.device_id, u.device_id);
		}
		assert.notEqual(alice.access_token, bob.access_token);
	});

	// Spec: User-Interactive Authentication: auth must carry the session the server
	// gave; an unknown session fails (Synapse: 400 "Unknown session ID") and creates nothing.
	it('an unknown UIA session is refused and creates nothing', async () => {
		const c = clientFor(srv);
		const err = await rejects(c.registerRequest({
			username: 'ghost_session', password: 'pw-ghost',
			auth: { type: 'm.login.dummy', session: 'no-such-session' },
		}), [400, 401]);
		assert.equal(typeof err.errcode, 'string');
		assert.equal(await available('ghost_session'), true);
	});

	// Spec: GET /_matrix/client/v3/register/available.
	it('GET /register/available: true, then M_USER_IN_USE once registered', async () => {
		assert.equal(await available('carol'), true);
		await register(srv, 'carol', 'carol-password');
		assert.equal(await available('carol'), false);
		const res = await api(srv, 'GET', '/_matrix/client/v3/register/available?username=carol');
		assertError(res, 400, 'M_USER_IN_USE');
	});

	// Spec: GET /register/available and POST /register, 400 M_INVALID_USERNAME;
	// Appendices "User Identifiers": localpart grammar and the 255-byte limit.
	it('invalid user names are M_INVALID_USERNAME on /register/available', async () => {
		for (const name of ['Bad Name!', 'has space', 'emoji\u{1F600}', 'colon:name', 'a'.repeat(300)]) {
			const res = await api(srv, 'GET', `/_matrix/client/v3/register/available?username=${encodeURIComponent(name)}`);
			assertError(res, 400, 'M_INVALID_USERNAME');
		}
	});

	// Spec: POST /register, 400 M_INVALID_USERNAME: the server must reject (or map)
	// a username that does not fit the grammar; a rejected name creates no account.
	it('POST /register with an invalid name is M_INVALID_USERNAME', async () => {
		const err = await attempt({ username: 'Bad Name!', password: 'pw-bad-name' });
		assert.equal(err.httpStatus, 400, err.message);
		assert.equal(err.errcode, 'M_INVALID_USERNAME');
	});

	// Spec: POST /register, 400 M_USER_IN_USE. The failed attempt must not touch
	// the existing account: its password stays the old one.
	it('registering a taken name is M_USER_IN_USE and leaves the account unchanged', async () => {
		const name = uniqueName('taken');
		await register(srv, name, 'first-password');
		const err = await attempt({ username: name, password: 'second-password' });
		assert.equal(err.httpStatus, 400, err.message);
		assert.equal(err.errcode, 'M_USER_IN_USE');
		await login(srv, name, 'first-password');
		await rejects(login(srv, name, 'second-password'), 403, 'M_FORBIDDEN');
	});

	// Spec: POST /register, `inhibit_login`: no access_token or device_id is returned.
	it('inhibit_login registers without logging in', async () => {
		const name = uniqueName('inhibit');
		const res = await register(srv, name, 'inhibit-password', { inhibit_login: true });
		assert.equal(res.user_id, `@${name}:${srv.serverName}`);
		assert.equal(res.access_token, undefined);
		assert.equal(res.device_id, undefined);
		assert.equal(res.refresh_token, undefined);
		const s = await login(srv, name, 'inhibit-password');
		const { devices } = await s.client.getDevices();
		assert.equal(devices.length, 1, 'only the device of the later login exists');
	});

	// Spec: POST /register, `device_id` and `initial_device_display_name`.
	it('device_id and initial_device_display_name are honoured', async () => {
		const name = uniqueName('dev');
		const res = await register(srv, name, 'dev-password', { device_id: 'JUNGLEPHONE', initial_device_display_name: 'Jungle Phone' });
		assert.equal(res.device_id, 'JUNGLEPHONE');
		const me = await res.client.whoami();
		assert.equal(me.device_id, 'JUNGLEPHONE');
		const dev = await res.client.getDevice('JUNGLEPHONE');
		assert.equal(dev.device_id, 'JUNGLEPHONE');
		assert.equal(dev.display_name, 'Jungle Phone');
	});

	// Spec: Client-Server API, "Refreshing access tokens" and POST /register `refresh_token`.
	it('a client that does not ask for refresh tokens gets none', async () => {
		const res = await register(srv, uniqueName('norefresh'), 'pw-norefresh');
		assert.equal(res.refresh_token, undefined);
	});

	// Spec: Client-Server API, "Refreshing access tokens", POST /_matrix/client/v3/refresh:
	// new tokens for the same device; once the new token is used the old refresh token is revoked.
	it('refresh_token: true returns a refresh token, and POST /refresh rotates it', async () => {
		const res = await register(srv, uniqueName('refresh'), 'pw-refresh', { refresh_token: true });
		assert.equal(typeof res.refresh_token, 'string');
		assert.ok(Number.isInteger(res.expires_in_ms) && res.expires_in_ms > 0, `expires_in_ms: ${res.expires_in_ms}`);

		const fresh = await res.client.refreshToken(res.refresh_token);
		assert.equal(typeof fresh.access_token, 'string');
		assert.notEqual(fresh.access_token, res.access_token);
		assert.equal(typeof fresh.refresh_token, 'string', 'a new refresh token is issued');
		assert.notEqual(fresh.refresh_token, res.refresh_token);
		if (fresh.expires_in_ms !== undefined) assert.ok(Number.isInteger(fresh.expires_in_ms) && fresh.expires_in_ms > 0);

		const next = clientFor(srv, { accessToken: fresh.access_token, userId: res.user_id });
		const me = await next.whoami();
		assert.equal(me.user_id, res.user_id);
		assert.equal(me.device_id, res.device_id, 'the new token is bound to the same device');

		// The new access token has been used: the old refresh token is now revoked.
		await rejects(next.refreshToken(res.refresh_token), 401, 'M_UNKNOWN_TOKEN');
		// The new refresh token still works.
		const third = await next.refreshToken(fresh.refresh_token);
		assert.equal(typeof third.access_token, 'string');
	});

	// Spec: POST /refresh, 401 M_UNKNOWN_TOKEN for a refresh token that was never issued.
	it('POST /refresh with an unknown refresh token is 401 M_UNKNOWN_TOKEN', async () => {
		await rejects(clientFor(srv).refreshToken('not-a-refresh-token'), 401, 'M_UNKNOWN_TOKEN');
	});

	// Spec: Client-Server API, "Common error codes", M_NOT_JSON: the request did not
	// contain valid JSON. Nothing is created.
	it('malformed JSON is 400 M_NOT_JSON and creates nothing', async () => {
		const res = await api(srv, 'POST', '/_matrix/client/v3/register', {
			body: '{"username": "notjson", "password": "pw-notjson", "auth": {"type": "m.login.dummy"',
		});
		assertError(res, 400, 'M_NOT_JSON');
		for (const body of ['', 'not json at all', '{"username": "notjson",}', "{'username': 'notjson'}"]) {
			assertError(await api(srv, 'POST', '/_matrix/client/v3/register', { body }), 400, 'M_NOT_JSON', `body ${JSON.stringify(body)}`);
		}
		assert.equal(await available('notjson'), true);
	});

	// Spec: "Common error codes": M_NOT_JSON / M_BAD_JSON for a body that is JSON but
	// not an object.
	it('a JSON body that is not an object is refused with 400', async () => {
		for (const body of ['[]', '"register"', '42', 'null']) {
			assertError(await api(srv, 'POST', '/_matrix/client/v3/register', { body }), 400, ['M_NOT_JSON', 'M_BAD_JSON'], `body ${body}`);
		}
	});

	// Spec: "Other error codes", M_TOO_LARGE; DESIGN: JSON bodies are capped (1 MB by default).
	it('a 2 MB body is 413 M_TOO_LARGE and creates nothing', async () => {
		const body = JSON.stringify({ username: 'toolarge', password: 'pw-toolarge', pad: 'x'.repeat(2 * 1024 * 1024) });
		const res = await rawRequest(srv, 'POST', '/_matrix/client/v3/register', {
			headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
			body,
		});
		assertError(res, 413, 'M_TOO_LARGE');
		assert.equal(await available('toolarge'), true);
		// The server is still serving.
		assert.equal((await api(srv, 'GET', '/_matrix/client/versions')).status, 200);
	});
});
