// SPDX-License-Identifier: Apache-2.0
//
// Password login, whoami, logout and logout/all, refresh tokens at login, and
// the access-token rules (missing, unknown, revoked, in the query string).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, clientFor, login, logoutAll, register, rejects } from './lib/matrix.mjs';

const srv = useServer();

describe('login and access tokens', () => {
	let alice;
	const password = 'alice-login-password';

	before(async () => {
		alice = await register(srv, 'alice', password);
	});

	// Spec: POST /_matrix/client/v3/login, "Legacy API" > "Login": m.login.password with
	// an m.id.user identifier holding the localpart.
	it('logs in with an m.id.user identifier (localpart)', async () => {
		const s = await login(srv, 'alice', password);
		assert.equal(s.user_id, alice.user_id);
		assert.equal(typeof s.access_token, 'string');
		assert.equal(typeof s.device_id, 'string');
		assert.notEqual(s.device_id, alice.device_id, 'a login without device_id creates a new device');
		assert.notEqual(s.access_token, alice.access_token);
		const me = await s.client.whoami();
		assert.equal(me.user_id, alice.user_id);
		assert.equal(me.device_id, s.device_id);
	});

	// Spec: "Identifier types" > "Matrix User ID": the fully qualified user ID also works.
	it('logs in with an m.id.user identifier (full user ID)', async () => {
		const s = await login(srv, alice.user_id, password);
		assert.equal(s.user_id, alice.user_id);
	});

	// Spec: POST /login, the deprecated top-level `user` field (what the SDK's
	// loginWithPassword sends).
	it('logs in with the deprecated `user` field', async () => {
		const c = clientFor(srv);
		const res = await c.loginWithPassword('alice', password);
		assert.equal(res.user_id, alice.user_id);
		assert.equal((await c.whoami()).user_id, alice.user_id);
	});

	// Spec: POST /login, `device_id` and `initial_device_display_name`.
	it('login honours device_id and initial_device_display_name', async () => {
		const s = await login(srv, 'alice', password, { device_id: 'LOGINDEVICE', initial_device_display_name: 'Login Laptop' });
		assert.equal(s.device_id, 'LOGINDEVICE');
		const dev = await s.client.getDevice('LOGINDEVICE');
		assert.equal(dev.display_name, 'Login Laptop');
	});

	// Spec: POST /login `refresh_token`, "Refreshing access tokens".
	it('login with refresh_token: true returns a refresh token and expires_in_ms', async () => {
		const s = await login(srv, 'alice', password, { refresh_token: true });
		assert.equal(typeof s.refresh_token, 'string');
		assert.ok(Number.isInteger(s.expires_in_ms) && s.expires_in_ms > 0);
		const plain = await login(srv, 'alice', password);
		assert.equal(plain.refresh_token, undefined, 'no refresh token unless asked for');
	});

	// Spec: POST /login, 403 M_FORBIDDEN "The provided authentication data was incorrect".
	it('a wrong password is 403 M_FORBIDDEN', async () => {
		await rejects(login(srv, 'alice', 'not-the-password'), 403, 'M_FORBIDDEN');
		await rejects(clientFor(srv).loginWithPassword('alice', ''), 403, 'M_FORBIDDEN');
	});

	// Spec: POST /login, 403 M_FORBIDDEN; an unknown user is indistinguishable from a wrong password.
	it('an unknown user is 403 M_FORBIDDEN', async () => {
		await rejects(login(srv, 'nobody_here', 'whatever'), 403, 'M_FORBIDDEN');
	});

	// Spec: POST /login, 400 "the login type may not be recognised".
	it('an unknown login type is 400', async () => {
		await rejects(clientFor(srv).loginRequest({ type: 'm.login.bogus', identifier: { type: 'm.id.user', user: 'alice' }, password }), 400);
	});

	// Spec: "Common error codes", M_NOT_JSON.
	it('a malformed login body is 400 M_NOT_JSON', async () => {
		assertError(await api(srv, 'POST', '/_matrix/client/v3/login', { body: '{"type": "m.login.password", ' }), 400, 'M_NOT_JSON');
	});

	// Spec: GET /_matrix/client/v3/account/whoami.
	it('whoami returns user_id and device_id', async () => {
		const me = await alice.client.whoami();
		assert.equal(me.user_id, alice.user_id);
		assert.equal(me.device_id, alice.device_id);
		if (me.is_guest !== undefined) assert.equal(me.is_guest, false);
	});

	// Spec: "Using access tokens": a missing token is 401 M_MISSING_TOKEN.
	it('no access token is 401 M_MISSING_TOKEN', async () => {
		await rejects(clientFor(srv).whoami(), 401, 'M_MISSING_TOKEN');
		assertError(await api(srv, 'GET', '/_matrix/client/v3/account/whoami'), 401, 'M_MISSING_TOKEN');
	});

	// Spec: "Using access tokens": an unknown token is 401 M_UNKNOWN_TOKEN.
	it('an unknown access token is 401 M_UNKNOWN_TOKEN', async () => {
		await rejects(clientFor(srv, { accessToken: 'syt_not_a_real_token' }).whoami(), 401, 'M_UNKNOWN_TOKEN');
	});

	// Spec: "Using access tokens" (changed in v1.20): the token is no longer accepted
	// in the query string; with no Authorization header the request has no token.
	it('an access_token in the query string is not accepted', async () => {
		const queryClient = clientFor(srv, { accessToken: alice.access_token, clientOpts: { useAuthorizationHeader: false } });
		await rejects(queryClient.whoami(), 401, 'M_MISSING_TOKEN');
		const res = await api(srv, 'GET', `/_matrix/client/v3/account/whoami?access_token=${encodeURIComponent(alice.access_token)}`);
		assertError(res, 401, 'M_MISSING_TOKEN');
	});

	// Spec: POST /_matrix/client/v3/logout: the token is invalidated and its device
	// deleted; the user's other sessions are untouched.
	it('logout revokes that token and deletes its device only', async () => {
		const a = await login(srv, 'alice', password, { refresh_token: true });
		const b = await login(srv, 'alice', password);
		await a.client.logout();
		await rejects(a.client.whoami(), 401, 'M_UNKNOWN_TOKEN');
		await rejects(clientFor(srv).refreshToken(a.refresh_token), 401, 'M_UNKNOWN_TOKEN');
		assert.equal((await b.client.whoami()).device_id, b.device_id);
		const { devices } = await b.client.getDevices();
		assert.ok(!devices.some((d) => d.device_id === a.device_id), 'the logged-out device is gone');
		assert.ok(devices.some((d) => d.device_id === b.device_id));
		// A logged-out token stays dead when used again.
		await rejects(a.client.logout(), 401, 'M_UNKNOWN_TOKEN');
	});

	// Spec: POST /_matrix/client/v3/logout/all: every token of the user is invalidated;
	// the password still works for a new login.
	it('logout/all revokes every token of the user', async () => {
		const bob = await register(srv, 'bob', 'bob-password');
		const c = await login(srv, 'bob', 'bob-password');
		const d = await login(srv, 'bob', 'bob-password', { refresh_token: true });
		await logoutAll(c.client);
		for (const s of [bob, c, d]) await rejects(s.client.whoami(), 401, 'M_UNKNOWN_TOKEN');
		await rejects(clientFor(srv).refreshToken(d.refresh_token), 401, 'M_UNKNOWN_TOKEN');
		// Other users are untouched.
		assert.equal((await alice.client.whoami()).user_id, alice.user_id);
		const again = await login(srv, 'bob', 'bob-password');
		const { devices } = await again.client.getDevices();
		assert.deepEqual(devices.map((x) => x.device_id), [again.device_id], 'logout/all deleted every device');
	});
});
