// SPDX-License-Identifier: Apache-2.0
//
// Account management: password change (with and without logging out the other
// devices) and deactivation.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { clientFor, login, passwordAuth, register, rejects, withUia } from './lib/matrix.mjs';

const srv = useServer();

const ids = async (client) => (await client.getDevices()).devices.map((d) => d.device_id).sort();

describe('password change', () => {
	// Spec: POST /_matrix/client/v3/account/password: UIA with m.login.password;
	// logout_devices defaults to true (the other tokens and their devices are
	// revoked); the server SHOULD NOT revoke the requesting token.
	it('changing the password logs out the other devices but not this one', async () => {
		const s1 = await register(srv, 'alice', 'old-password');
		const s2 = await login(srv, 'alice', 'old-password');
		const s3 = await login(srv, 'alice', 'old-password', { refresh_token: true });

		const first = await rejects(s1.client.setPassword(undefined, 'new-password'), 401);
		assert.ok(first.data.flows.some((f) => f.stages.includes('m.login.password')), JSON.stringify(first.data));
		await s1.client.setPassword({ ...passwordAuth(s1.user_id, 'old-password'), session: first.data.session }, 'new-password');

		assert.equal((await s1.client.whoami()).device_id, s1.device_id, 'the requesting token still works');
		for (const s of [s2, s3]) await rejects(s.client.whoami(), 401, 'M_UNKNOWN_TOKEN');
		await rejects(clientFor(srv).refreshToken(s3.refresh_token), 401, 'M_UNKNOWN_TOKEN');
		assert.deepEqual(await ids(s1.client), [s1.device_id], 'the other devices are deleted');

		await rejects(login(srv, 'alice', 'old-password'), 403, 'M_FORBIDDEN');
		await login(srv, 'alice', 'new-password');
	});

	// Spec: POST /account/password with logout_devices: false keeps the other sessions.
	it('logout_devices: false keeps the other devices', async () => {
		const t1 = await register(srv, 'bob', 'bob-old');
		const t2 = await login(srv, 'bob', 'bob-old');
		await withUia((auth) => t1.client.setPassword(auth, 'bob-new', false), passwordAuth(t1.user_id, 'bob-old'));
		assert.equal((await t2.client.whoami()).device_id, t2.device_id);
		assert.equal((await t1.client.whoami()).device_id, t1.device_id);
		assert.deepEqual(await ids(t1.client), [t1.device_id, t2.device_id].sort());
		await login(srv, 'bob', 'bob-new');
		await rejects(login(srv, 'bob', 'bob-old'), 403, 'M_FORBIDDEN');
	});

	// Spec: "User-interactive API in the REST API": a wrong password fails the stage
	// with 401 M_FORBIDDEN; the password and the sessions are unchanged.
	it('a wrong current password changes nothing', async () => {
		const c1 = await register(srv, 'carol', 'carol-pw');
		const c2 = await login(srv, 'carol', 'carol-pw');
		await rejects(withUia((auth) => c1.client.setPassword(auth, 'carol-new'), passwordAuth(c1.user_id, 'wrong')), 401, 'M_FORBIDDEN');
		// A request without auth is only the UIA 401, and changes nothing either.
		await rejects(c1.client.setPassword(undefined, 'carol-new'), 401);
		assert.equal((await c2.client.whoami()).device_id, c2.device_id);
		await login(srv, 'carol', 'carol-pw');
		await rejects(login(srv, 'carol', 'carol-new'), 403, 'M_FORBIDDEN');
	});
});

describe('deactivation', () => {
	// Spec: POST /_matrix/client/v3/account/deactivate with UIA; afterwards the
	// tokens are gone, login is refused (403 M_USER_DEACTIVATED, or M_FORBIDDEN
	// when the server can no longer authenticate the user), and the user ID can
	// never be registered again (M_USER_IN_USE).
	it('a deactivated user cannot log in and the name cannot be registered again', async () => {
		const dave = await register(srv, 'dave', 'dave-pw');
		const other = await login(srv, 'dave', 'dave-pw');
		const res = await withUia((auth) => dave.client.deactivateAccount(auth), passwordAuth(dave.user_id, 'dave-pw'));
		assert.equal(res.id_server_unbind_result, 'success', 'no 3PIDs to unbind means success');

		for (const s of [dave, other]) await rejects(s.client.whoami(), 401, 'M_UNKNOWN_TOKEN');
		await rejects(login(srv, 'dave', 'dave-pw'), 403, ['M_USER_DEACTIVATED', 'M_FORBIDDEN']);

		const c = clientFor(srv);
		assert.equal(await c.isUsernameAvailable('dave'), false);
		const first = await rejects(c.registerRequest({ username: 'dave', password: 'new-dave' }), [400, 401]);
		if (first.httpStatus === 401) {
			await rejects(c.registerRequest({ username: 'dave', password: 'new-dave', auth: { type: 'm.login.dummy', session: first.data.session } }), 400, 'M_USER_IN_USE');
		} else {
			assert.equal(first.errcode, 'M_USER_IN_USE');
		}
	});

	// Spec: POST /account/deactivate, UIA: a wrong password fails with 401 M_FORBIDDEN
	// and the account keeps working.
	it('deactivation with a wrong password changes nothing', async () => {
		const erin = await register(srv, 'erin', 'erin-pw');
		await rejects(withUia((auth) => erin.client.deactivateAccount(auth), passwordAuth(erin.user_id, 'wrong')), 401, 'M_FORBIDDEN');
		await rejects(erin.client.deactivateAccount(undefined), 401);
		assert.equal((await erin.client.whoami()).user_id, erin.user_id);
		await login(srv, 'erin', 'erin-pw');
	});
});
