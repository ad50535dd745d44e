// SPDX-License-Identifier: Apache-2.0
//
// User directory search (POST /user_directory/search) through the SDK's
// searchUserDirectory: users who share a room with the searcher are found
// by display name with case and accents folded, and by localpart; users
// with no shared room are not found unless they are in a public room
// (join rule public, world-readable history, or published); deactivated
// users never; profile changes are searchable at once; limit and limited.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, passwordAuth, register, withUia } from './lib/matrix.mjs';

const srv = useServer({ config: { allow_guest_access: true, rc_message: { per_second: 1000, burst_count: 1000 } } });
const PATH = '/_matrix/client/v3/user_directory/search';

/** The user ids of a search's results, in order. */
async function ids(user, term, limit) {
	const res = await user.client.searchUserDirectory({ term, ...(limit === undefined ? {} : { limit }) });
	return res.results.map((r) => r.user_id);
}

describe('user directory', () => {
	let searcher, jose, emile, grosse, loner, pubbie, readable, listed, gone, lonely;

	before(async () => {
		const reg = (name, displayName) =>
			register(srv, name, `${name}-pw`).then(async (u) => {
				if (displayName) await u.client.setDisplayName(displayName);
				return u;
			});
		[searcher, jose, emile, grosse, loner, pubbie, readable, listed, gone, lonely] = await Promise.all([
			reg('searcher', 'The Searcher'),
			reg('jose', 'José Ñúñez'),
			reg('emile', 'ÉMILE ZOLA'),
			reg('grosse', 'Herr Große'),
			reg('loner', 'Josélito Solo'),
			reg('pubbie', 'Pubbie Müller'),
			reg('readable', 'Readable Røsa'),
			reg('listed', 'Listed Łucja'),
			reg('gone', 'Gone Away'),
			reg('lonely', null),
		]);

		// A private room shared by searcher, jose, emile, grosse and gone.
		const { room_id: shared } = await searcher.client.createRoom({
			preset: 'private_chat',
			invite: [jose.user_id, emile.user_id, grosse.user_id, gone.user_id],
		});
		for (const u of [jose, emile, grosse, gone]) await u.client.joinRoom(shared);

		// loner is alone in a private room: found by nobody.
		await loner.client.createRoom({ preset: 'private_chat' });

		// Public in three ways, none shared with searcher.
		await pubbie.client.createRoom({ preset: 'public_chat' });
		await readable.client.createRoom({
			preset: 'private_chat',
			initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }],
		});
		await listed.client.createRoom({ preset: 'private_chat', visibility: 'public' });
	});

	// Spec: POST /user_directory/search: "The search is performed case-insensitively
	// on user IDs and display names"; Synapse's default includes users who share a
	// room with the requester. Accents are folded as well.
	it('finds users sharing a room by display name, case and accents folded', async () => {
		const res = await searcher.client.searchUserDirectory({ term: 'jose' });
		assert.equal(res.limited, false);
		assert.deepEqual(res.results, [{ user_id: jose.user_id, display_name: 'José Ñúñez' }]);
		assert.deepEqual(await ids(searcher, 'NUNEZ'), [jose.user_id]);
		assert.deepEqual(await ids(searcher, 'Émile'), [emile.user_id]);
		assert.deepEqual(await ids(searcher, 'emile zo'), [emile.user_id]);
		assert.deepEqual(await ids(searcher, 'zola émile'), [emile.user_id]);
		// German sharp s: case folding makes ß and "ss" the same.
		assert.deepEqual(await ids(searcher, 'grosse'), [grosse.user_id]);
		assert.deepEqual(await ids(searcher, 'GROẞE'), [grosse.user_id]);
		assert.deepEqual(await ids(searcher, 'herr gro'), [grosse.user_id]);
		// And back: the others find the searcher.
		assert.deepEqual(await ids(jose, 'the searcher'), [searcher.user_id]);
	});

	// Spec: "The search is performed ... on user IDs": the localpart and a pasted user ID.
	it('finds users by localpart and by full user ID', async () => {
		assert.deepEqual(await ids(searcher, 'emi'), [emile.user_id]);
		assert.deepEqual(await ids(searcher, emile.user_id), [emile.user_id]);
	});

	// Synapse's default (search_all_users false): no shared room, no public room, not found.
	it('does not find users who share no room with the searcher', async () => {
		assert.deepEqual(await ids(searcher, 'loner'), []);
		assert.deepEqual(await ids(searcher, 'solo'), []);
		assert.deepEqual(await ids(searcher, 'lonely'), []);
		// "jose" matches loner's "Josélito" too, but only the shared user is found.
		assert.deepEqual(await ids(searcher, 'jos'), [jose.user_id]);
		// loner, in no room with anyone, finds none of the private room's members.
		assert.deepEqual(await ids(loner, 'jose'), []);
		assert.deepEqual(await ids(loner, 'searcher'), []);
	});

	// Synapse: users in rooms with join rule "public" or history visibility
	// "world_readable" are visible to everyone; so are members of rooms published
	// in the room directory.
	it('finds users who are in a public room', async () => {
		assert.deepEqual(await ids(searcher, 'muller'), [pubbie.user_id]);
		assert.deepEqual(await ids(loner, 'pubbie'), [pubbie.user_id]);
		assert.deepEqual(await ids(searcher, 'rosa'), [readable.user_id]);
		assert.deepEqual(await ids(searcher, 'lucja'), [listed.user_id]);
		// A member of a public room finds themselves there.
		assert.deepEqual(await ids(pubbie, 'pubbie'), [pubbie.user_id]);
	});

	// Spec: PUT /profile/{userId}/displayname; the directory follows the new name.
	it('follows display name changes', async () => {
		await jose.client.setDisplayName('Zoë Ångström');
		assert.deepEqual(await ids(searcher, 'zoe angstrom'), [jose.user_id]);
		assert.deepEqual(await ids(searcher, 'nunez'), []);
		const res = await searcher.client.searchUserDirectory({ term: 'zoe' });
		assert.equal(res.results[0].display_name, 'Zoë Ångström');
		await jose.client.setAvatarUrl('mxc://localhost/avatarOfJose');
		const again = await searcher.client.searchUserDirectory({ term: 'zoe' });
		assert.equal(again.results[0].avatar_url, 'mxc://localhost/avatarOfJose');
		await jose.client.setDisplayName('José Ñúñez');
		assert.deepEqual(await ids(searcher, 'zoe'), []);
		assert.deepEqual(await ids(searcher, 'jose'), [jose.user_id]);
	});

	// Synapse: "Deactivated users aren't contactable, so should not appear in the user directory."
	it('does not find deactivated users', async () => {
		assert.deepEqual(await ids(searcher, 'gone away'), [gone.user_id]);
		await withUia((auth) => gone.client.deactivateAccount(auth), passwordAuth(gone.user_id, 'gone-pw'));
		assert.deepEqual(await ids(searcher, 'gone away'), []);
		assert.deepEqual(await ids(searcher, 'gone'), []);
	});

	// Spec: limit "The maximum number of results to return. Defaults to 10."; limited
	// "Indicates if the result list has been truncated by the limit". Synapse caps the
	// limit at 50.
	it('honours limit and reports limited', async () => {
		const many = await Promise.all(
			Array.from({ length: 12 }, (_, i) => register(srv, `crowd${String(i).padStart(2, '0')}`, 'crowd-pw')),
		);
		const { room_id: crowdRoom } = await many[0].client.createRoom({ preset: 'public_chat' });
		for (const [i, u] of many.entries()) {
			await u.client.setDisplayName(`Crowd Member ${i}`);
			if (i > 0) await u.client.joinRoom(crowdRoom);
		}
		let res = await searcher.client.searchUserDirectory({ term: 'crowd member' });
		assert.equal(res.results.length, 10);
		assert.equal(res.limited, true);
		res = await searcher.client.searchUserDirectory({ term: 'crowd member', limit: 5 });
		assert.equal(res.results.length, 5);
		assert.equal(res.limited, true);
		res = await searcher.client.searchUserDirectory({ term: 'crowd member', limit: 12 });
		assert.equal(res.results.length, 12);
		assert.equal(res.limited, false);
		res = await searcher.client.searchUserDirectory({ term: 'crowd', limit: 1000 });
		assert.equal(res.results.length, 12);
		assert.equal(res.limited, false);
		assert.deepEqual(new Set(res.results.map((r) => r.user_id)), new Set(many.map((u) => u.user_id)));
		// An exact localpart comes first.
		res = await searcher.client.searchUserDirectory({ term: 'crowd03' });
		assert.equal(res.results[0].user_id, many[3].user_id);
	});

	// Spec: request body { search_term (required string), limit (integer) }.
	it('rejects malformed requests', async () => {
		const token = searcher.access_token;
		assertError(await api(srv, 'POST', PATH, { token, json: {} }), 400, 'M_MISSING_PARAM');
		assertError(await api(srv, 'POST', PATH, { token, json: { search_term: 42 } }), 400, 'M_BAD_JSON');
		assertError(await api(srv, 'POST', PATH, { token, json: { search_term: 'x', limit: 'ten' } }), 400, 'M_BAD_JSON');
		assertError(await api(srv, 'POST', PATH, { token, json: { search_term: 'x', limit: 1.5 } }), 400, 'M_BAD_JSON');
		assertError(await api(srv, 'POST', PATH, { token, body: 'not json' }), 400, 'M_NOT_JSON');
		assertError(await api(srv, 'POST', PATH, { json: { search_term: 'x' } }), 401, 'M_MISSING_TOKEN');
		// A term with no letters or digits matches nobody.
		const res = await api(srv, 'POST', PATH, { token, json: { search_term: '%_ !' } });
		assert.equal(res.status, 200, res.text);
		assert.deepEqual(res.json, { results: [], limited: false });
	});

	// Synapse: the endpoint is not open to guests (allow_guest=False).
	it('refuses guests', async () => {
		const res = await api(srv, 'POST', '/_matrix/client/v3/register?kind=guest', { json: {} });
		assert.equal(res.status, 200, res.text);
		const search = await api(srv, 'POST', PATH, { token: res.json.access_token, json: { search_term: 'jose' } });
		assertError(search, 403, 'M_GUEST_ACCESS_FORBIDDEN');
	});

});
