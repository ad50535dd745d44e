// SPDX-License-Identifier: Apache-2.0
//
// Shared-secret registration on the admin listener (Synapse's admin API
// "Shared-Secret Registration", POST /_synapse/admin/v1/register), on a
// server whose public registration is closed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { useServer } from './lib/server.mjs';
import { api, assertError, clientFor, login, rejects } from './lib/matrix.mjs';

const srv = useServer({ config: { enable_registration: false } });

const REGISTER = '/_synapse/admin/v1/register';

/** Synapse's MAC: hex HMAC-SHA1 keyed by the shared secret over nonce\0user\0password\0admin|notadmin. */
function mac(secret, nonce, user, password, admin) {
	return createHmac('sha1', secret)
		.update([nonce, user, password, admin ? 'admin' : 'notadmin'].join('\0'), 'utf8')
		.digest('hex');
}

async function nonce() {
	const res = await api(srv, 'GET', REGISTER, { base: srv.adminUrl });
	assert.equal(res.status, 200, res.text);
	assert.equal(typeof res.json.nonce, 'string');
	return res.json.nonce;
}

function adminRegister(body) {
	return api(srv, 'POST', REGISTER, { base: srv.adminUrl, json: body });
}

describe('shared-secret registration', () => {
	// Spec: POST /register, 403 M_FORBIDDEN "The homeserver does not permit registering the account".
	it('public registration is closed: POST /register is 403 M_FORBIDDEN', async () => {
		await rejects(clientFor(srv).registerRequest({ username: 'public', password: 'pw-public' }), 403, 'M_FORBIDDEN');
	});

	// Spec: GET /_matrix/client/v1/register/m.login.registration_token/validity, 403
	// "The homeserver does not permit registration and thus all tokens are considered invalid".
	it('with registration closed the token validity check is 403 M_FORBIDDEN', async () => {
		const res = await api(srv, 'GET', '/_matrix/client/v1/register/m.login.registration_token/validity?token=abc');
		assertError(res, 403, 'M_FORBIDDEN');
	});

	// Synapse admin API: GET nonce, POST with the HMAC; the new user can use the token and log in.
	it('registers a user with a correct MAC', async () => {
		const n = await nonce();
		const res = await adminRegister({
			nonce: n, username: 'erin', password: 'erin-pw', displayname: 'Erin', admin: false,
			mac: mac(srv.secret, n, 'erin', 'erin-pw', false),
		});
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json.user_id, `@erin:${srv.serverName}`);
		assert.equal(typeof res.json.access_token, 'string');
		assert.equal(typeof res.json.device_id, 'string');
		const c = clientFor(srv, res.json);
		assert.equal((await c.whoami()).user_id, res.json.user_id);
		assert.equal((await c.getProfileInfo(res.json.user_id, 'displayname')).displayname, 'Erin');
		await login(srv, 'erin', 'erin-pw');
	});

	// Synapse admin API: admin: true is part of the MAC.
	it('registers an admin with a correct MAC', async () => {
		const n = await nonce();
		const res = await adminRegister({ nonce: n, username: 'root', password: 'root-pw', admin: true, mac: mac(srv.secret, n, 'root', 'root-pw', true) });
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json.user_id, `@root:${srv.serverName}`);
	});

	// Synapse admin API: a wrong MAC is 403 M_FORBIDDEN and creates nothing. (Synapse
	// drops a nonce at its first use, valid or not: each attempt takes a new one.)
	it('a wrong MAC is refused and creates nothing', async () => {
		const cases = {
			'wrong secret': (n) => mac('not-the-secret', n, 'mallory', 'mallory-pw', false),
			'admin flag differs from the body': (n) => mac(srv.secret, n, 'mallory', 'mallory-pw', true),
			'password differs from the body': (n) => mac(srv.secret, n, 'mallory', 'other-pw', false),
			'zeros': () => '00'.repeat(20),
		};
		for (const [what, makeMac] of Object.entries(cases)) {
			const n = await nonce();
			const res = await adminRegister({ nonce: n, username: 'mallory', password: 'mallory-pw', admin: false, mac: makeMac(n) });
			assertError(res, 403, 'M_FORBIDDEN', what);
		}
		await rejects(login(srv, 'mallory', 'mallory-pw'), 403, 'M_FORBIDDEN');
		const avail = await api(srv, 'GET', '/_matrix/client/v3/register/available?username=mallory');
		assert.ok(avail.status === 200 || avail.status === 403, `available: ${avail.status} ${avail.text}`);
		if (avail.status === 200) assert.equal(avail.json.available, true);
	});

	// Synapse admin API: a nonce is single-use, and an unknown nonce is refused.
	it('a used or unknown nonce is refused', async () => {
		const n = await nonce();
		const ok = await adminRegister({ nonce: n, username: 'frank', password: 'frank-pw', admin: false, mac: mac(srv.secret, n, 'frank', 'frank-pw', false) });
		assert.equal(ok.status, 200, ok.text);
		const again = await adminRegister({ nonce: n, username: 'grace', password: 'grace-pw', admin: false, mac: mac(srv.secret, n, 'grace', 'grace-pw', false) });
		assert.ok(again.status === 400 || again.status === 403, `reused nonce: ${again.status} ${again.text}`);
		const bogus = await adminRegister({ nonce: 'bogus', username: 'grace', password: 'grace-pw', admin: false, mac: mac(srv.secret, 'bogus', 'grace', 'grace-pw', false) });
		assert.ok(bogus.status === 400 || bogus.status === 403, `unknown nonce: ${bogus.status} ${bogus.text}`);
		await rejects(login(srv, 'grace', 'grace-pw'), 403, 'M_FORBIDDEN');
	});

	// Synapse admin API: an existing user ID is 400 M_USER_IN_USE.
	it('a taken name is M_USER_IN_USE', async () => {
		const n = await nonce();
		const res = await adminRegister({ nonce: n, username: 'erin', password: 'x-pw', admin: false, mac: mac(srv.secret, n, 'erin', 'x-pw', false) });
		assertError(res, 400, 'M_USER_IN_USE');
		await login(srv, 'erin', 'erin-pw');
	});

	// The admin API lives on the listener with the `admin` resource only.
	it('the admin API is not served on the client listener', async () => {
		const res = await api(srv, 'GET', REGISTER);
		assert.equal(res.status, 404, res.text);
	});
});
