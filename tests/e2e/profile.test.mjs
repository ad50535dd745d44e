// SPDX-License-Identifier: Apache-2.0
//
// Profiles: displayname and avatar_url set by their owner, read by others;
// a rejected update leaves the old value.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, register, rejects } from './lib/matrix.mjs';

const srv = useServer();

describe('profiles', () => {
	let alice;
	let bob;

	before(async () => {
		alice = await register(srv, 'alice', 'alice-password');
		bob = await register(srv, 'bob', 'bob-password');
	});

	// Synapse behaviour (the spec is silent): a new account's displayname is its localpart.
	it('a new account has its localpart as displayname', async () => {
		const p = await bob.client.getProfileInfo(alice.user_id);
		assert.equal(p.displayname, 'alice');
	});

	// Spec: PUT /profile/{userId}/{keyName} and GET /profile/{userId}/{keyName},
	// GET /profile/{userId}: set by the owner, read by another user.
	it('displayname and avatar_url set by alice are read by bob', async () => {
		await alice.client.setDisplayName('Alice Wonderland');
		await alice.client.setAvatarUrl('mxc://localhost/SEsfnsuifSDFSSEF');
		assert.deepEqual(await bob.client.getProfileInfo(alice.user_id, 'displayname'), { displayname: 'Alice Wonderland' });
		assert.deepEqual(await bob.client.getProfileInfo(alice.user_id, 'avatar_url'), { avatar_url: 'mxc://localhost/SEsfnsuifSDFSSEF' });
		const full = await bob.client.getProfileInfo(alice.user_id);
		assert.equal(full.displayname, 'Alice Wonderland');
		assert.equal(full.avatar_url, 'mxc://localhost/SEsfnsuifSDFSSEF');
	});

	// Spec: GET /profile/{userId} answers raw JSON with the fields.
	it('GET /profile/{userId} returns the whole profile', async () => {
		const res = await api(srv, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent(alice.user_id)}`, { token: bob.access_token });
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json.displayname, 'Alice Wonderland');
		assert.equal(res.json.avatar_url, 'mxc://localhost/SEsfnsuifSDFSSEF');
	});

	// Spec: GET /profile/{userId}, 404 M_NOT_FOUND "There is no profile information for this user".
	it('the profile of an unknown user is 404 M_NOT_FOUND', async () => {
		await rejects(bob.client.getProfileInfo(`@nobody:${srv.serverName}`), 404, 'M_NOT_FOUND');
	});

	// Spec: PUT /profile/{userId}/{keyName}, 403 M_FORBIDDEN: the token must be
	// authorised for that user. The old value stands.
	it("bob cannot set alice's displayname, and it stays unchanged", async () => {
		const res = await api(srv, 'PUT', `/_matrix/client/v3/profile/${encodeURIComponent(alice.user_id)}/displayname`, {
			token: bob.access_token,
			json: { displayname: 'Hacked' },
		});
		assertError(res, 403, 'M_FORBIDDEN');
		assert.equal((await bob.client.getProfileInfo(alice.user_id, 'displayname')).displayname, 'Alice Wonderland');
	});

	// Spec: PUT /profile/{userId}/{keyName}, 400 (M_BAD_JSON / M_INVALID_PARAM):
	// displayname must be a string. The old value stands.
	it('a displayname that is not a string is refused, the old value stands', async () => {
		const path = `/_matrix/client/v3/profile/${encodeURIComponent(alice.user_id)}/displayname`;
		for (const json of [{ displayname: 42 }, { displayname: { nested: true } }]) {
			const res = await api(srv, 'PUT', path, { token: alice.access_token, json });
			assertError(res, 400, ['M_BAD_JSON', 'M_INVALID_PARAM']);
		}
		assert.equal((await bob.client.getProfileInfo(alice.user_id, 'displayname')).displayname, 'Alice Wonderland');
	});

	// Spec: PUT /profile/{userId}/{keyName}: "the total profile MUST be under 64 KiB"
	// (400 M_PROFILE_TOO_LARGE; a server with a per-field limit answers M_INVALID_PARAM
	// or M_TOO_LARGE). The old value stands.
	it('an oversize displayname is refused, the old value stands', async () => {
		await rejects(alice.client.setDisplayName('x'.repeat(70 * 1024)), [400, 413], ['M_PROFILE_TOO_LARGE', 'M_INVALID_PARAM', 'M_TOO_LARGE']);
		assert.equal((await bob.client.getProfileInfo(alice.user_id, 'displayname')).displayname, 'Alice Wonderland');
	});

	// Spec: "Common error codes", M_NOT_JSON: the old value stands.
	it('malformed JSON on a profile update is M_NOT_JSON, the old value stands', async () => {
		const res = await api(srv, 'PUT', `/_matrix/client/v3/profile/${encodeURIComponent(alice.user_id)}/avatar_url`, {
			token: alice.access_token,
			body: '{"avatar_url": "mxc://localhost/new"',
		});
		assertError(res, 400, 'M_NOT_JSON');
		assert.equal((await bob.client.getProfileInfo(alice.user_id, 'avatar_url')).avatar_url, 'mxc://localhost/SEsfnsuifSDFSSEF');
	});

	// Spec: PUT /profile/{userId}/{keyName} requires authentication.
	it('a profile update without a token is 401 M_MISSING_TOKEN', async () => {
		const res = await api(srv, 'PUT', `/_matrix/client/v3/profile/${encodeURIComponent(alice.user_id)}/displayname`, {
			json: { displayname: 'Anonymous' },
		});
		assertError(res, 401, 'M_MISSING_TOKEN');
	});
});
