// SPDX-License-Identifier: Apache-2.0
//
// Room aliases, the published room directory, content reporting and room
// upgrades, driven through matrix-js-sdk: aliases created, resolved, listed
// and deleted (with who may do what), the checks on m.room.canonical_alias,
// publishing rooms and paging and searching /publicRooms, reports of
// events, rooms and users, and upgrades (the copied state, the tombstone
// and predecessor links, power levels in both rooms, aliases and the
// directory listing moving to the new room).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, register, rejects, uniqueName } from './lib/matrix.mjs';

const srv = useServer({ config: { rc_message: { per_second: 1000, burst_count: 1000 } } });
const enc = encodeURIComponent;

/** The current state of a room as a Map "type|state_key" -> event. */
async function stateOf(client, roomId) {
	const events = await client.roomState(roomId);
	return new Map(events.map((e) => [`${e.type}|${e.state_key}`, e]));
}

function content(state, type, key = '') {
	return state.get(`${type}|${key}`)?.content;
}

/** A room alias on the test server with a unique localpart. */
function aliasFor(prefix) {
	return `#${uniqueName(prefix)}:${srv.serverName}`;
}

describe('room aliases', () => {
	let alice, bob, roomId, otherRoom;

	before(async () => {
		alice = await register(srv, 'alias_alice');
		bob = await register(srv, 'alias_bob');
		({ room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat', name: 'Aliased' }));
		({ room_id: otherRoom } = await alice.client.createRoom({ preset: 'public_chat', name: 'Other' }));
	});

	// Spec: PUT and GET /directory/room/{roomAlias}: the mapping resolves to
	// {room_id, servers}; this server comes first in servers.
	it('an alias made by a member resolves to the room', async () => {
		const alias = aliasFor('cheese');
		assert.deepEqual(await alice.client.createAlias(alias, roomId), {});
		const res = await bob.client.getRoomIdForAlias(alias);
		assert.equal(res.room_id, roomId);
		assert.deepEqual(res.servers, [srv.serverName]);
		// GET needs no access token.
		const raw = await api(srv, 'GET', `/_matrix/client/v3/directory/room/${enc(alias)}`);
		assert.equal(raw.status, 200, raw.text);
		assert.equal(raw.json.room_id, roomId);
	});

	// Spec: PUT /directory/room/{roomAlias}, 409 when the alias exists; the
	// old mapping stands.
	it('an alias that is taken cannot be made again', async () => {
		const alias = aliasFor('taken');
		await alice.client.createAlias(alias, roomId);
		await rejects(alice.client.createAlias(alias, otherRoom), 409, 'M_UNKNOWN');
		assert.equal((await alice.client.getRoomIdForAlias(alias)).room_id, roomId);
	});

	// Spec: 400 M_INVALID_PARAM for an invalid alias; aliases of other servers
	// cannot be made here; a room that does not exist is refused.
	it('invalid, foreign and dangling aliases are refused', async () => {
		await rejects(alice.client.createAlias(`#elsewhere:example.org`, roomId), 400, 'M_INVALID_PARAM');
		const bad = await api(srv, 'PUT', `/_matrix/client/v3/directory/room/${enc('#nocolon')}`, {
			token: alice.access_token,
			json: { room_id: roomId },
		});
		assertError(bad, 400, 'M_INVALID_PARAM');
		const getBad = await api(srv, 'GET', `/_matrix/client/v3/directory/room/${enc('nosigil:localhost')}`);
		assertError(getBad, 400, 'M_INVALID_PARAM');
		const alias = aliasFor('dangling');
		await rejects(alice.client.createAlias(alias, `!nowhere:${srv.serverName}`), 400);
		const noRoomId = await api(srv, 'PUT', `/_matrix/client/v3/directory/room/${enc(alias)}`, {
			token: alice.access_token,
			json: {},
		});
		assertError(noRoomId, 400, 'M_MISSING_PARAM');
		await rejects(alice.client.getRoomIdForAlias(alias), 404, 'M_NOT_FOUND');
	});

	// Synapse behaviour: only members of a room may point aliases at it.
	it('a non-member cannot make an alias for the room', async () => {
		const alias = aliasFor('outsider');
		await rejects(bob.client.createAlias(alias, otherRoom), 403, 'M_FORBIDDEN');
		await rejects(bob.client.getRoomIdForAlias(alias), 404, 'M_NOT_FOUND');
	});

	// Spec: GET /rooms/{roomId}/aliases: members see the local aliases,
	// others get M_FORBIDDEN unless the room is world_readable.
	it('members list the local aliases; outsiders are refused', async () => {
		const { room_id: rid } = await alice.client.createRoom({ preset: 'private_chat' });
		const a1 = aliasFor('list');
		const a2 = aliasFor('list');
		await alice.client.createAlias(a1, rid);
		await alice.client.createAlias(a2, rid);
		const { aliases } = await alice.client.getLocalAliases(rid);
		assert.deepEqual([...aliases].sort(), [a1, a2].sort());
		await rejects(bob.client.getLocalAliases(rid), 403, 'M_FORBIDDEN');
		await alice.client.sendStateEvent(rid, 'm.room.history_visibility', { history_visibility: 'world_readable' });
		assert.equal((await bob.client.getLocalAliases(rid)).aliases.length, 2);
	});

	// Spec: DELETE /directory/room/{roomAlias}; Synapse's rule: the alias's
	// creator, or a member who may send m.room.canonical_alias.
	it('aliases are deleted by their creator or a room moderator only', async () => {
		await bob.client.joinRoom(roomId);
		const alicesAlias = aliasFor('alices');
		const bobsAlias = aliasFor('bobs');
		const bobsOther = aliasFor('bobs');
		await alice.client.createAlias(alicesAlias, roomId);
		await bob.client.createAlias(bobsAlias, roomId);
		await bob.client.createAlias(bobsOther, roomId);
		// bob (power 0) cannot delete alice's alias, which stays.
		await rejects(bob.client.deleteAlias(alicesAlias), 403, 'M_FORBIDDEN');
		assert.equal((await bob.client.getRoomIdForAlias(alicesAlias)).room_id, roomId);
		// bob deletes his own; alice (power 100) deletes another of bob's.
		assert.deepEqual(await bob.client.deleteAlias(bobsAlias), {});
		assert.deepEqual(await alice.client.deleteAlias(bobsOther), {});
		await rejects(bob.client.getRoomIdForAlias(bobsAlias), 404, 'M_NOT_FOUND');
		await rejects(bob.client.getRoomIdForAlias(bobsOther), 404, 'M_NOT_FOUND');
		// Spec: 404 for an alias that is not there.
		await rejects(alice.client.deleteAlias(bobsAlias), 404, 'M_NOT_FOUND');
	});

	// Spec: PUT /rooms/{roomId}/state/{eventType}/{stateKey}: 400 M_BAD_ALIAS when an
	// alias of m.room.canonical_alias does not point to the room, M_INVALID_PARAM
	// for bad syntax; nothing is sent then.
	it('m.room.canonical_alias may only name aliases of the room', async () => {
		const mine = aliasFor('canon');
		const alt = aliasFor('canonalt');
		const elsewhere = aliasFor('elsewhere');
		await alice.client.createAlias(mine, roomId);
		await alice.client.createAlias(alt, roomId);
		await alice.client.createAlias(elsewhere, otherRoom);
		await alice.client.sendStateEvent(roomId, 'm.room.canonical_alias', { alias: mine, alt_aliases: [alt] });
		const before = content(await stateOf(alice.client, roomId), 'm.room.canonical_alias');
		assert.deepEqual(before, { alias: mine, alt_aliases: [alt] });

		const bad = [
			[{ alias: elsewhere }, 'M_BAD_ALIAS'],
			[{ alias: aliasFor('missing') }, 'M_BAD_ALIAS'],
			[{ alias: mine, alt_aliases: [alt, elsewhere] }, 'M_BAD_ALIAS'],
			[{ alias: 'no-sigil' }, 'M_INVALID_PARAM'],
			[{ alias: mine, alt_aliases: 'not-a-list' }, 'M_INVALID_PARAM'],
			[{ alias: mine, alt_aliases: [42] }, 'M_INVALID_PARAM'],
		];
		for (const [c, code] of bad) {
			await rejects(alice.client.sendStateEvent(roomId, 'm.room.canonical_alias', c), 400, code);
		}
		// Another server's alias is asked of that server (federation-query.test.mjs);
		// one that cannot be reached is 502, as in Synapse.
		await rejects(alice.client.sendStateEvent(roomId, 'm.room.canonical_alias', { alias: mine, alt_aliases: ['#x:remote.invalid'] }), 502);
		// Authorisation comes first: bob (power 0) is refused as such.
		await rejects(bob.client.sendStateEvent(roomId, 'm.room.canonical_alias', { alias: elsewhere }), 403, 'M_FORBIDDEN');
		assert.deepEqual(content(await stateOf(alice.client, roomId), 'm.room.canonical_alias'), before);
		// Clearing it is always allowed.
		await alice.client.sendStateEvent(roomId, 'm.room.canonical_alias', {});
		await alice.client.sendStateEvent(roomId, 'm.room.canonical_alias', { alias: mine, alt_aliases: [alt] });
	});

	// Spec: DELETE /directory/room/{roomAlias}, note: the server may drop the
	// alias from m.room.canonical_alias (Synapse does).
	it('deleting an alias removes it from the canonical alias event', async () => {
		const state = await stateOf(alice.client, roomId);
		const { alias, alt_aliases: alts } = content(state, 'm.room.canonical_alias');
		await alice.client.deleteAlias(alts[0]);
		let c = content(await stateOf(alice.client, roomId), 'm.room.canonical_alias');
		assert.deepEqual(c, { alias });
		await alice.client.deleteAlias(alias);
		c = content(await stateOf(alice.client, roomId), 'm.room.canonical_alias');
		assert.deepEqual(c, {});
	});
});

describe('published room directory', () => {
	let alice, bob, carol;
	let big, mid, small, space, invite;
	const tag = uniqueName('dirtag');

	before(async () => {
		alice = await register(srv, 'pub_alice');
		bob = await register(srv, 'pub_bob');
		carol = await register(srv, 'pub_carol');
		const mk = async (opts) => (await alice.client.createRoom(opts)).room_id;
		big = await mk({ preset: 'public_chat', name: `Big ${tag}`, topic: 'Lots of Cheese' });
		mid = await mk({ preset: 'public_chat', name: `Mid ${tag}`, room_alias_name: uniqueName('midalias') });
		small = await mk({ preset: 'public_chat', name: `Small ${tag}` });
		space = await mk({ preset: 'public_chat', name: `Space ${tag}`, creation_content: { type: 'm.space' } });
		invite = await mk({ preset: 'private_chat', name: `Invite ${tag}` });
		await bob.client.joinRoom(big);
		await carol.client.joinRoom(big);
		await bob.client.joinRoom(mid);
	});

	// Spec: GET /directory/list/room/{roomId}: rooms start private; 404 for an
	// unknown room.
	it('a new room is not published', async () => {
		assert.deepEqual(await bob.client.getRoomDirectoryVisibility(big), { visibility: 'private' });
		await rejects(bob.client.getRoomDirectoryVisibility(`!unknown:${srv.serverName}`), 404, 'M_NOT_FOUND');
	});

	// Spec: PUT /directory/list/room/{roomId}; Synapse's rule: only those who
	// may send m.room.canonical_alias (moderators) may publish.
	it('only moderators publish a room', async () => {
		await rejects(bob.client.setRoomDirectoryVisibility(big, 'public'), 403, 'M_FORBIDDEN');
		assert.equal((await bob.client.getRoomDirectoryVisibility(big)).visibility, 'private');
		const bad = await api(srv, 'PUT', `/_matrix/client/v3/directory/list/room/${enc(big)}`, {
			token: alice.access_token,
			json: { visibility: 'secret' },
		});
		assertError(bad, 400, 'M_INVALID_PARAM');
		for (const r of [big, mid, small, space, invite]) await alice.client.setRoomDirectoryVisibility(r, 'public');
		assert.equal((await bob.client.getRoomDirectoryVisibility(big)).visibility, 'public');
		// The body's visibility defaults to public.
		const res = await api(srv, 'PUT', `/_matrix/client/v3/directory/list/room/${enc(small)}`, {
			token: alice.access_token,
			json: {},
		});
		assert.equal(res.status, 200, res.text);
		await rejects(alice.client.setRoomDirectoryVisibility(`!unknown:${srv.serverName}`, 'public'), 404, 'M_NOT_FOUND');
	});

	const ours = (chunk) => chunk.filter((r) => [big, mid, small, space, invite].includes(r.room_id));

	// Spec: GET /publicRooms: the PublishedRoomsChunk fields, largest rooms
	// first; no access token needed. Like Synapse, invite-only rooms are not
	// listed even when published.
	it('publicRooms lists the published rooms with their details', async () => {
		const res = await bob.client.publicRooms({});
		const list = ours(res.chunk);
		assert.equal(list[0].room_id, big); // 3 members
		assert.equal(list[1].room_id, mid); // 2 members
		assert.deepEqual(new Set(list.map((r) => r.room_id)), new Set([big, mid, small, space]));
		const b = list[0];
		assert.equal(b.name, `Big ${tag}`);
		assert.equal(b.topic, 'Lots of Cheese');
		assert.equal(b.num_joined_members, 3);
		assert.equal(b.world_readable, false);
		assert.equal(b.guest_can_join, false);
		assert.equal(b.join_rule, 'public');
		assert.equal(b.room_type, undefined);
		const m = list.find((r) => r.room_id === mid);
		assert.equal(m.num_joined_members, 2);
		assert.match(m.canonical_alias, /^#midalias/);
		assert.equal(list.find((r) => r.room_id === space).room_type, 'm.space');
		assert.ok(res.total_room_count_estimate >= 4);
		const anon = await api(srv, 'GET', '/_matrix/client/v3/publicRooms');
		assert.equal(anon.status, 200, anon.text);
		assert.deepEqual(new Set(ours(anon.json.chunk).map((r) => r.room_id)), new Set([big, mid, small, space]));
	});

	// Spec: POST /publicRooms filter.generic_search_term (name, topic, alias)
	// and filter.room_types (null: rooms without a type).
	it('publicRooms searches and filters by room type', async () => {
		const byTerm = async (t) => ours((await bob.client.publicRooms({ filter: { generic_search_term: t } })).chunk).map((r) => r.room_id);
		assert.deepEqual(await byTerm('cheese'), [big]); // topic, any case
		assert.deepEqual(await byTerm('MIDALIAS'), [mid]); // canonical alias
		assert.deepEqual(new Set(await byTerm(tag)), new Set([big, mid, small, space]));
		assert.deepEqual(await byTerm('no room has this'), []);
		const byType = async (types) => ours((await bob.client.publicRooms({ filter: { room_types: types } })).chunk).map((r) => r.room_id);
		assert.deepEqual(await byType(['m.space']), [space]);
		assert.deepEqual(new Set(await byType([null])), new Set([big, mid, small]));
		assert.deepEqual(new Set(await byType([null, 'm.space'])), new Set([big, mid, small, space]));
	});

	// Spec: publicRooms pagination: limit, next_batch / prev_batch as since.
	it('publicRooms pages forwards and backwards', async () => {
		const filter = { generic_search_term: tag };
		const seen = [];
		let since;
		const pages = [];
		for (let i = 0; i < 10; i++) {
			const page = await bob.client.publicRooms({ limit: 1, since, filter });
			pages.push(page);
			assert.ok(page.chunk.length <= 1);
			seen.push(...page.chunk.map((r) => r.room_id));
			if (i === 0) assert.equal(page.prev_batch, undefined);
			else assert.ok(page.prev_batch, 'a later page has prev_batch');
			if (!page.next_batch) break;
			since = page.next_batch;
		}
		assert.equal(seen.length, 4);
		assert.equal(seen[0], big);
		assert.equal(seen[1], mid);
		assert.deepEqual(new Set(seen), new Set([big, mid, small, space]));
		// Back from the last page.
		const back = await bob.client.publicRooms({ limit: 2, since: pages[pages.length - 1].prev_batch, filter });
		assert.deepEqual(back.chunk.map((r) => r.room_id), seen.slice(1, 3));
		// GET takes the same tokens.
		const get = await bob.client.publicRooms({ limit: 2 });
		assert.ok(get.chunk.length === 2 && get.next_batch);
		const bad = await api(srv, 'GET', '/_matrix/client/v3/publicRooms?since=garbage', { token: bob.access_token });
		assertError(bad, 400, 'M_INVALID_PARAM');
	});

	// Spec: publicRooms server parameter: our own name is the local list;
	// third-party networks (none here) list nothing.
	it('publicRooms takes our server name and third-party options', async () => {
		const res = await bob.client.publicRooms({ server: srv.serverName, limit: 100 });
		assert.equal(ours(res.chunk).length, 4);
		const tp = await bob.client.publicRooms({ third_party_instance_id: 'irc-freenode' });
		assert.deepEqual(tp.chunk, []);
		const all = await bob.client.publicRooms({ include_all_networks: true, filter: { generic_search_term: tag } });
		assert.equal(all.chunk.length, 4);
		const both = await api(srv, 'POST', '/_matrix/client/v3/publicRooms', {
			token: bob.access_token,
			json: { include_all_networks: true, third_party_instance_id: 'irc' },
		});
		assertError(both, 400, 'M_INVALID_PARAM');
		const badLimit = await api(srv, 'POST', '/_matrix/client/v3/publicRooms', { token: bob.access_token, json: { limit: 'ten' } });
		assertError(badLimit, 400, 'M_BAD_JSON');
	});

	// Spec: unpublishing takes the room off the list.
	it('an unpublished room leaves the list', async () => {
		await alice.client.setRoomDirectoryVisibility(small, 'private');
		const res = await bob.client.publicRooms({ filter: { generic_search_term: tag } });
		assert.deepEqual(new Set(res.chunk.map((r) => r.room_id)), new Set([big, mid, space]));
	});
});

describe('reporting content', () => {
	let alice, bob, roomId, eventId;

	before(async () => {
		alice = await register(srv, 'rep_alice');
		bob = await register(srv, 'rep_bob');
		({ room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat' }));
		({ event_id: eventId } = await alice.client.sendMessage(roomId, { msgtype: 'm.text', body: 'offensive' }));
	});

	// Spec: POST /rooms/{roomId}/report/{eventId}: the reporter must be joined
	// (v1.8) and see the event; 404 otherwise.
	it('a joined member reports an event; others get 404', async () => {
		await rejects(bob.client.reportEvent(roomId, eventId, -100, 'not joined'), 404, 'M_NOT_FOUND');
		await bob.client.joinRoom(roomId);
		assert.deepEqual(await bob.client.reportEvent(roomId, eventId, -100, 'this makes me sad'), {});
		await rejects(bob.client.reportEvent(roomId, '$doesnotexist', 0, 'x'), 404, 'M_NOT_FOUND');
		const noScore = await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/report/${enc(eventId)}`, {
			token: bob.access_token,
			json: {},
		});
		assert.equal(noScore.status, 200, noScore.text);
	});

	// score (deprecated, removed in v1.18) is still checked when sent: -100..0.
	it('bad score and reason values are refused', async () => {
		await rejects(bob.client.reportEvent(roomId, eventId, 5, 'x'), 400, 'M_INVALID_PARAM');
		const bad = await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/report/${enc(eventId)}`, {
			token: bob.access_token,
			json: { reason: 42 },
		});
		assertError(bad, 400, 'M_BAD_JSON');
	});

	// Spec: POST /rooms/{roomId}/report (v1.13): no membership needed, reason required.
	it('anyone reports a room that exists', async () => {
		const carol = await register(srv, 'rep_carol');
		assert.deepEqual(await carol.client.reportRoom(roomId, 'spam room'), {});
		await rejects(carol.client.reportRoom(`!nope:${srv.serverName}`, 'x'), 404, 'M_NOT_FOUND');
		const noReason = await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/report`, {
			token: carol.access_token,
			json: {},
		});
		assertError(noReason, 400, 'M_BAD_JSON');
	});

	// Spec: POST /users/{userId}/report (v1.14); like Synapse, 200 whether or
	// not the user exists.
	it('users are reported', async () => {
		const path = (u) => `/_matrix/client/v3/users/${enc(u)}/report`;
		let res = await api(srv, 'POST', path(alice.user_id), { token: bob.access_token, json: { reason: 'rude' } });
		assert.equal(res.status, 200, res.text);
		res = await api(srv, 'POST', path(`@ghost:${srv.serverName}`), { token: bob.access_token, json: { reason: '' } });
		assert.equal(res.status, 200, res.text);
		res = await api(srv, 'POST', path('not-a-user'), { token: bob.access_token, json: { reason: 'x' } });
		assertError(res, 400, 'M_INVALID_PARAM');
		res = await api(srv, 'POST', path(alice.user_id), { token: bob.access_token, json: { reason: 'x'.repeat(1001) } });
		assertError(res, 400, 'M_BAD_JSON');
	});
});

describe('room upgrades', () => {
	let alice, bob, carol;

	before(async () => {
		alice = await register(srv, 'up_alice');
		bob = await register(srv, 'up_bob');
		carol = await register(srv, 'up_carol');
	});

	/** A room of version v with the state an upgrade copies, bob joined, carol banned. */
	async function richRoom(version) {
		const alias = aliasFor('uproom');
		const { room_id: rid } = await alice.client.createRoom({
			preset: 'public_chat',
			room_version: version,
			name: 'Upgrade me',
			topic: 'Before the upgrade',
			room_alias_name: alias.slice(1, alias.indexOf(':')),
			initial_state: [
				{ type: 'm.room.avatar', content: { url: 'mxc://localhost/avatar' } },
				{ type: 'm.room.guest_access', content: { guest_access: 'can_join' } },
				{ type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } },
				{ type: 'm.room.server_acl', content: { allow: ['*'], deny: ['evil.example'], allow_ip_literals: false } },
				{ type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
				{ type: 'org.example.custom', content: { not: 'copied' } },
			],
		});
		await bob.client.joinRoom(rid);
		await alice.client.ban(rid, carol.user_id, 'spam');
		const pl = content(await stateOf(alice.client, rid), 'm.room.power_levels');
		pl.users = { ...pl.users, [bob.user_id]: 20 };
		await alice.client.sendStateEvent(rid, 'm.room.power_levels', pl);
		const alt = aliasFor('upalt');
		await alice.client.createAlias(alt, rid);
		await alice.client.sendStateEvent(rid, 'm.room.canonical_alias', { alias, alt_aliases: [alt] });
		await alice.client.setRoomDirectoryVisibility(rid, 'public');
		return { rid, alias, alt, pl };
	}

	// Spec: POST /rooms/{roomId}/upgrade: 403 without the power to send
	// m.room.tombstone, 400 M_UNSUPPORTED_ROOM_VERSION, 404 for an unknown room;
	// nothing changes.
	it('refuses users without power and unknown versions', async () => {
		const { rid } = await richRoom('11');
		await rejects(bob.client.upgradeRoom(rid, '12'), 403, 'M_FORBIDDEN');
		await rejects(carol.client.upgradeRoom(rid, '12'), 403, 'M_FORBIDDEN');
		await rejects(alice.client.upgradeRoom(rid, '999'), 400, 'M_UNSUPPORTED_ROOM_VERSION');
		await rejects(alice.client.upgradeRoom(`!nope:${srv.serverName}`, '12'), 404, 'M_NOT_FOUND');
		const missing = await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(rid)}/upgrade`, { token: alice.access_token, json: {} });
		assertError(missing, 400, 'M_MISSING_PARAM');
		const state = await stateOf(alice.client, rid);
		assert.equal(state.get('m.room.tombstone|'), undefined);
	});

	// Spec: room upgrades, server behaviour: the new room's create event has
	// predecessor; transferable state is copied; local aliases move; the
	// tombstone names the replacement; the old room's power levels stop
	// ordinary members (events_default and invite to 50).
	for (const [from, to] of [['11', '12'], ['10', '11']]) {
		it(`upgrades a v${from} room to v${to} with its state, bans and aliases`, async () => {
			const { rid, alias, alt, pl } = await richRoom(from);
			const { replacement_room: nid } = await alice.client.upgradeRoom(rid, to);
			assert.ok(nid && nid !== rid);

			const old = await stateOf(alice.client, rid);
			const tomb = old.get('m.room.tombstone|');
			assert.equal(tomb.content.replacement_room, nid);
			assert.equal(typeof tomb.content.body, 'string');
			const oldPl = content(old, 'm.room.power_levels');
			assert.equal(oldPl.events_default, 50);
			assert.equal(oldPl.invite, 50);
			assert.deepEqual(content(old, 'm.room.canonical_alias'), {});

			const now = await stateOf(alice.client, nid);
			const create = now.get('m.room.create|');
			assert.equal(create.content.room_version, to);
			assert.equal(create.content.predecessor.room_id, rid);
			if (to === '12') assert.equal(create.content.predecessor.event_id, undefined);
			else assert.equal(create.content.predecessor.event_id, tomb.event_id);
			assert.equal(create.sender, alice.user_id);
			for (const type of ['m.room.name', 'm.room.topic', 'm.room.avatar', 'm.room.join_rules', 'm.room.guest_access',
				'm.room.history_visibility', 'm.room.server_acl', 'm.room.encryption']) {
				assert.deepEqual(content(now, type), content(old, type), type);
			}
			assert.equal(now.get('org.example.custom|'), undefined);
			assert.equal(content(now, 'm.room.member', alice.user_id).membership, 'join');
			assert.equal(now.get(`m.room.member|${bob.user_id}`), undefined);
			assert.equal(content(now, 'm.room.member', carol.user_id).membership, 'ban');
			const newPl = content(now, 'm.room.power_levels');
			assert.equal(newPl.users[bob.user_id], 20);
			assert.equal(newPl.events_default, pl.events_default);
			if (to === '12') assert.equal(newPl.users[alice.user_id], undefined); // creators are implicit
			else assert.equal(newPl.users[alice.user_id], pl.users[alice.user_id]);
			assert.deepEqual(content(now, 'm.room.canonical_alias'), { alias, alt_aliases: [alt] });

			// The aliases and the directory entry moved.
			assert.equal((await bob.client.getRoomIdForAlias(alias)).room_id, nid);
			assert.equal((await bob.client.getRoomIdForAlias(alt)).room_id, nid);
			assert.deepEqual((await alice.client.getLocalAliases(rid)).aliases, []);
			assert.equal((await bob.client.getRoomDirectoryVisibility(rid)).visibility, 'private');
			assert.equal((await bob.client.getRoomDirectoryVisibility(nid)).visibility, 'public');

			// bob follows the tombstone into the new room; old-room chatter is now refused.
			await bob.client.joinRoom(nid);
			await rejects(bob.client.sendMessage(rid, { msgtype: 'm.text', body: 'late' }), 403, 'M_FORBIDDEN');
		});
	}

	// Synapse behaviour: the upgrader is raised to the level needed to copy
	// the state (bans need `ban`), then the old levels are restored.
	it('an upgrader below the needed level is raised, then restored', async () => {
		const { room_id: rid } = await alice.client.createRoom({
			preset: 'public_chat',
			room_version: '11',
			power_level_content_override: { ban: 90, events: { 'm.room.tombstone': 50, 'm.room.power_levels': 50 } },
		});
		await bob.client.joinRoom(rid);
		const pl = content(await stateOf(alice.client, rid), 'm.room.power_levels');
		pl.users[bob.user_id] = 50;
		await alice.client.sendStateEvent(rid, 'm.room.power_levels', pl);
		await alice.client.ban(rid, carol.user_id);
		const { replacement_room: nid } = await bob.client.upgradeRoom(rid, '11');
		const now = await stateOf(bob.client, nid);
		assert.equal(content(now, 'm.room.member', carol.user_id).membership, 'ban');
		const newPl = content(now, 'm.room.power_levels');
		assert.equal(newPl.users[bob.user_id], 50);
		assert.equal(newPl.users[alice.user_id], 100);
		assert.equal(newPl.ban, 90);
	});

	// Spec: the create event's type is copied (v1.4); Synapse copies a space's
	// m.space.child events. additional_creators (v1.16) name more creators.
	it('a space keeps its type and children; additional creators are set', async () => {
		const { room_id: rid } = await alice.client.createRoom({
			preset: 'public_chat',
			room_version: '11',
			creation_content: { type: 'm.space' },
		});
		const child = `!child:${srv.serverName}`;
		await alice.client.sendStateEvent(rid, 'm.space.child', { via: [srv.serverName] }, child);
		await alice.client.sendStateEvent(rid, 'm.space.child', {}, `!removed:${srv.serverName}`);
		const { replacement_room: nid } = await alice.client.upgradeRoom(rid, '12', [bob.user_id]);
		const now = await stateOf(alice.client, nid);
		const create = now.get('m.room.create|');
		assert.equal(create.content.type, 'm.space');
		assert.deepEqual(create.content.additional_creators, [bob.user_id]);
		assert.deepEqual(content(now, 'm.space.child', child), { via: [srv.serverName] });
		assert.equal(now.get(`m.space.child|!removed:${srv.serverName}`), undefined);
		const pl = content(now, 'm.room.power_levels');
		assert.equal(pl.users?.[bob.user_id], undefined);
		const bad = await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(nid)}/upgrade`, {
			token: alice.access_token,
			json: { new_version: '12', additional_creators: ['not-a-user'] },
		});
		assertError(bad, 400, 'M_INVALID_PARAM');
	});
});
