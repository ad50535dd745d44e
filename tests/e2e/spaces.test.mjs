// SPDX-License-Identifier: Apache-2.0
//
// Spaces (SPEC: client-server-api#spaces, GET /rooms/{roomId}/hierarchy;
// server-server-api#spaces, GET /hierarchy/{roomId}), driven through
// matrix-js-sdk's getRoomHierarchy: nested spaces walked depth-first with
// children in the spec's order, suggested_only, max_depth, pages of
// `limit` rooms followed with `from` until exhausted, which rooms a user
// may see (joined, invited, public, world-readable, restricted to a room
// they are in), loops, and the errors for the root. Then over federation,
// between two Myelin servers with TLS listeners and a hand-written remote:
// a space on A whose children live on B (described by B), the inbound
// endpoint answering signed requests only, and remote answers cached.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { useServer, assertCleanExit, freePort } from './lib/server.mjs';
import { api, assertError, register, rejects, uniqueName } from './lib/matrix.mjs';
import { makeTestPki, federatingServer, FakeRemote } from './lib/federation.mjs';

const srv = useServer({ config: { rc_message: { per_second: 1000, burst_count: 1000 } } });
const enc = encodeURIComponent;

const SPACE = { creation_content: { type: 'm.space' } };

/** Create a room (a space with space: true) as client; returns its id. */
async function makeRoom(client, name, { space = false, preset = 'public_chat', initialState = [], ...extra } = {}) {
	const res = await client.createRoom({
		name,
		preset,
		...(space ? SPACE : {}),
		initial_state: initialState,
		...extra,
	});
	return res.room_id;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/*
 * Link child into space (m.space.child with via the given server). A short
 * pause first, so that links made one after the other have distinct
 * origin_server_ts (their order when they have no "order").
 */
async function link(client, space, child, server, extra = {}) {
	await sleep(3);
	return client.sendStateEvent(space, 'm.space.child', { via: [server], ...extra }, child);
}

/** Every page of the hierarchy, following next_batch; returns { rooms, pages }. */
async function walkAll(client, root, { limit, maxDepth, suggestedOnly = false } = {}) {
	const rooms = [];
	let from;
	let pages = 0;
	for (;;) {
		const res = await client.getRoomHierarchy(root, limit, maxDepth, suggestedOnly, from);
		pages++;
		assert.ok(pages < 100, 'pagination ends');
		if (limit) assert.ok(res.rooms.length <= limit, `page of ${res.rooms.length} > limit ${limit}`);
		rooms.push(...res.rooms);
		if (!res.next_batch) break;
		from = res.next_batch;
	}
	return { rooms, pages };
}

const ids = (rooms) => rooms.map((r) => r.room_id);

/* A path segment as Myelin escapes it (every byte but [A-Za-z0-9-._~]). */
const escapeSegment = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

describe('the space hierarchy', () => {
	let alice, bob;
	let space, sub, r1, r2, r3, priv, wr, enc1, restricted;
	const names = new Map();

	before(async () => {
		alice = await register(srv, uniqueName('sp_alice'));
		bob = await register(srv, uniqueName('sp_bob'));
		const c = alice.client;
		space = await makeRoom(c, 'Top', { space: true, topic: 'The top space' });
		sub = await makeRoom(c, 'Sub', { space: true });
		r1 = await makeRoom(c, 'R1');
		r2 = await makeRoom(c, 'R2');
		r3 = await makeRoom(c, 'R3');
		priv = await makeRoom(c, 'Private', { preset: 'private_chat' });
		wr = await makeRoom(c, 'Readable', {
			preset: 'private_chat',
			initialState: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }],
		});
		enc1 = await makeRoom(c, 'Encrypted', {
			initialState: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
		});
		restricted = await makeRoom(c, 'Restricted', {
			preset: 'private_chat',
			initialState: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: space }] } }],
		});
		for (const [id, n] of [[space, 'Top'], [sub, 'Sub'], [r1, 'R1'], [r2, 'R2'], [r3, 'R3'], [priv, 'Private'], [wr, 'Readable'], [enc1, 'Encrypted'], [restricted, 'Restricted']]) names.set(id, n);
		const s = srv.serverName;
		// Top: Sub (order "a"), R1 (order "b"), then by timestamp:
		// Restricted, Private, Encrypted, Readable (linked again last). Sub:
		// R3 (order "x"), R2, and a loop back to Top.
		await link(c, space, restricted, s);
		await link(c, space, priv, s);
		await link(c, space, wr, s);
		await link(c, space, enc1, s);
		await link(c, space, r1, s, { order: 'b', suggested: true });
		await link(c, space, sub, s, { order: 'a', suggested: true });
		// Sent first, so its timestamp is the smallest: it must still come
		// after every child with a valid order.
		await link(c, sub, r2, s, { suggested: true });
		await link(c, sub, r3, s, { order: 'x' });
		await link(c, sub, space, s);
		// A removed child (no via) and a child linking the space to itself.
		await c.sendStateEvent(space, 'm.space.child', {}, r2);
		await link(c, space, space, s);
		// A child's place follows its current event: Readable moves last
		// (a new event: the same content again would change nothing).
		await link(c, space, wr, s, { suggested: false });
	});

	// The full walk as alice, who is in every room.
	const everything = () => [space, sub, r3, r2, r1, restricted, priv, enc1, wr];

	it('walks nested spaces depth-first, children in the spec\'s order, each room once', async () => {
		const res = await alice.client.getRoomHierarchy(space);
		assert.equal(res.next_batch, undefined);
		assert.deepEqual(ids(res.rooms), everything(), res.rooms.map((r) => names.get(r.room_id) ?? r.room_id).join(', '));

		const top = res.rooms[0];
		assert.equal(top.name, 'Top');
		assert.equal(top.topic, 'The top space');
		assert.equal(top.room_type, 'm.space');
		assert.equal(top.join_rule, 'public');
		assert.equal(top.num_joined_members, 1);
		assert.equal(top.world_readable, false);
		assert.equal(top.guest_can_join, false);
		assert.equal(typeof top.room_version, 'string');
		// children_state: stripped m.space.child events with origin_server_ts,
		// in order, without the removed child; the self-link is listed.
		const kids = top.children_state.map((e) => e.state_key);
		assert.deepEqual(kids, [sub, r1, restricted, priv, enc1, space, wr]);
		assert.ok(!kids.includes(r2), 'a child without via is no child');
		for (const ev of top.children_state) {
			assert.equal(ev.type, 'm.space.child');
			assert.equal(ev.sender, alice.user_id);
			assert.equal(typeof ev.origin_server_ts, 'number');
			assert.ok(Array.isArray(ev.content.via));
			assert.equal(ev.event_id, undefined, 'stripped state has no event_id');
		}
		assert.equal(top.children_state[0].content.order, 'a');

		const room = (id) => res.rooms.find((r) => r.room_id === id);
		assert.deepEqual(room(r1).children_state, [], 'a room that is not a space has no children');
		assert.equal(room(r1).room_type, undefined);
		assert.equal(room(enc1).encryption, 'm.megolm.v1.aes-sha2');
		assert.equal(room(r1).encryption, undefined);
		assert.equal(room(wr).world_readable, true);
		assert.equal(room(priv).join_rule, 'invite');
		assert.equal(room(restricted).join_rule, 'restricted');
		assert.deepEqual(room(restricted).allowed_room_ids, [space]);
		assert.equal(room(sub).children_state.length, 3);
	});

	it('orders children by order (valid ones only), then timestamp, then room id', async () => {
		const c = alice.client;
		const s = srv.serverName;
		const root = await makeRoom(c, 'Ordered', { space: true });
		const kids = {};
		for (const k of ['b', 'a', 'c', 'e', 'd', 'long', 'ctrl']) kids[k] = await makeRoom(c, `Kid ${k}`);
		// The spec's example: b " ", a "aaaa", c "first", then e and d by
		// timestamp; orders too long or with characters outside 0x20-0x7E
		// count as none.
		await link(c, root, kids.long, s, { order: 'x'.repeat(51) });
		await link(c, root, kids.e, s);
		await link(c, root, kids.ctrl, s, { order: 'a\u00e9' });
		await link(c, root, kids.d, s);
		await link(c, root, kids.c, s, { order: 'first' });
		await link(c, root, kids.a, s, { order: 'aaaa' });
		await link(c, root, kids.b, s, { order: ' ' });
		const res = await c.getRoomHierarchy(root);
		assert.deepEqual(ids(res.rooms), [root, kids.b, kids.a, kids.c, kids.long, kids.e, kids.ctrl, kids.d]);
		assert.deepEqual(res.rooms[0].children_state.map((e) => e.state_key), ids(res.rooms).slice(1));
	});

	it('suggested_only follows suggested children only', async () => {
		const res = await alice.client.getRoomHierarchy(space, undefined, undefined, true);
		assert.deepEqual(ids(res.rooms), [space, sub, r2, r1]);
		assert.deepEqual(res.rooms[0].children_state.map((e) => e.state_key), [sub, r1]);
	});

	it('max_depth stops the walk at that depth', async () => {
		assert.deepEqual(ids((await alice.client.getRoomHierarchy(space, undefined, 0)).rooms), [space]);
		assert.deepEqual(ids((await alice.client.getRoomHierarchy(space, undefined, 1)).rooms),
			[space, sub, r1, restricted, priv, enc1, wr]);
		assert.deepEqual(ids((await alice.client.getRoomHierarchy(space, undefined, 2)).rooms), everything());
	});

	it('pages of limit rooms follow next_batch to the end, no room twice', async () => {
		for (const limit of [1, 2, 4, 9]) {
			const { rooms, pages } = await walkAll(alice.client, space, { limit });
			assert.deepEqual(ids(rooms), everything(), `limit ${limit}`);
			assert.equal(pages, Math.ceil(9 / limit), `limit ${limit}: pages`);
		}
		const { rooms } = await walkAll(alice.client, space, { limit: 2, maxDepth: 1, suggestedOnly: false });
		assert.deepEqual(ids(rooms), [space, sub, r1, restricted, priv, enc1, wr]);
		const sugg = await walkAll(alice.client, space, { limit: 1, suggestedOnly: true });
		assert.deepEqual(ids(sugg.rooms), [space, sub, r2, r1]);
	});

	it('a token is good for the same request only; bad parameters are 400', async () => {
		const first = await alice.client.getRoomHierarchy(space, 2);
		assert.ok(first.next_batch);
		// SPEC: max_depth and suggested_only cannot change during pagination.
		await rejects(alice.client.getRoomHierarchy(space, 2, undefined, true, first.next_batch), 400, 'M_INVALID_PARAM');
		await rejects(alice.client.getRoomHierarchy(space, 2, 3, false, first.next_batch), 400, 'M_INVALID_PARAM');
		await rejects(alice.client.getRoomHierarchy(sub, 2, undefined, false, first.next_batch), 400, 'M_INVALID_PARAM');
		await rejects(bob.client.getRoomHierarchy(space, 2, undefined, false, first.next_batch), 400, 'M_INVALID_PARAM');
		await rejects(alice.client.getRoomHierarchy(space, 2, undefined, false, 'garbage!'), 400, 'M_INVALID_PARAM');
		// limit may change between pages.
		const second = await alice.client.getRoomHierarchy(space, 5, undefined, false, first.next_batch);
		assert.deepEqual(ids(second.rooms), everything().slice(2, 7));

		const q = (qs) => api(srv, 'GET', `/_matrix/client/v1/rooms/${enc(space)}/hierarchy?${qs}`, { token: alice.access_token });
		assertError(await q('limit=0'), 400, 'M_INVALID_PARAM');
		assertError(await q('limit=x'), 400, 'M_INVALID_PARAM');
		assertError(await q('max_depth=-1'), 400, 'M_INVALID_PARAM');
		assertError(await q('suggested_only=maybe'), 400, 'M_INVALID_PARAM');
		// A limit above the cap is capped (50, as Synapse).
		const big = await q('limit=1000');
		assert.equal(big.status, 200, big.text);
		assert.equal(big.json.rooms.length, 9);
		assertError(await api(srv, 'GET', `/_matrix/client/v1/rooms/${enc(space)}/hierarchy`), 401, 'M_MISSING_TOKEN');
	});

	it('a user sees the rooms they may join or read, not private ones', async () => {
		// bob is in none of them: public and world-readable rooms only.
		let res = await bob.client.getRoomHierarchy(space);
		assert.deepEqual(ids(res.rooms), [space, sub, r3, r2, r1, enc1, wr]);
		// The hidden rooms stay listed in children_state (they are state of a
		// room he may see), but are not described.
		assert.ok(res.rooms[0].children_state.some((e) => e.state_key === priv));

		// Invited: he may join, so he sees it.
		await alice.client.invite(priv, bob.user_id);
		res = await bob.client.getRoomHierarchy(space);
		assert.ok(ids(res.rooms).includes(priv));

		// Restricted to members of the space: visible once he joins it.
		assert.ok(!ids(res.rooms).includes(restricted));
		await bob.client.joinRoom(space);
		res = await bob.client.getRoomHierarchy(space);
		assert.deepEqual(ids(res.rooms), everything());
		assert.equal(res.rooms[0].num_joined_members, 2);
	});

	it('loops are cut: every room appears once', async () => {
		const c = alice.client;
		const s = srv.serverName;
		const x = await makeRoom(c, 'X', { space: true });
		const y = await makeRoom(c, 'Y', { space: true });
		const z = await makeRoom(c, 'Z', { space: true });
		await link(c, x, y, s);
		await link(c, y, z, s);
		await link(c, z, x, s);
		await link(c, z, y, s);
		await link(c, y, y, s);
		assert.deepEqual(ids((await c.getRoomHierarchy(x)).rooms), [x, y, z]);
		assert.deepEqual(ids((await c.getRoomHierarchy(z)).rooms), [z, x, y]);
		const { rooms } = await walkAll(c, y, { limit: 1 });
		assert.deepEqual(ids(rooms), [y, z, x]);
	});

	it('the root: 404 when unknown, 403 when the user may not see it', async () => {
		const hidden = await makeRoom(alice.client, 'Hidden space', { space: true, preset: 'private_chat' });
		await rejects(bob.client.getRoomHierarchy(hidden), 403, 'M_FORBIDDEN');
		await rejects(bob.client.getRoomHierarchy(`!unknown${Date.now()}:${srv.serverName}`), 404, 'M_NOT_FOUND');
		const bad = await api(srv, 'GET', `/_matrix/client/v1/rooms/${enc('not-a-room')}/hierarchy`, { token: bob.access_token });
		assertError(bad, 400, 'M_INVALID_PARAM');
		// A room that is not a space is its own one-room hierarchy.
		const plain = await bob.client.getRoomHierarchy(r1);
		assert.deepEqual(ids(plain.rooms), [r1]);
		assert.deepEqual(plain.rooms[0].children_state, []);
		// Someone who left a private room no longer sees it.
		await alice.client.invite(hidden, bob.user_id);
		assert.deepEqual(ids((await bob.client.getRoomHierarchy(hidden)).rooms), [hidden]);
		await bob.client.leave(hidden);
		await rejects(bob.client.getRoomHierarchy(hidden), 403, 'M_FORBIDDEN');
	});
});

function reply(res, status, json) {
	res.writeHead(status, { 'Content-Type': 'application/json' });
	res.end(JSON.stringify(json));
}

describe('the space hierarchy over federation', () => {
	let tmp, pki, a, b, fake, dead, dave, carol;

	before(async () => {
		tmp = await mkdtemp(path.join(os.tmpdir(), 'myelin-spaces-'));
		pki = makeTestPki(tmp);
		const generous = { rc_message: { per_second: 1000, burst_count: 1000 } };
		a = await federatingServer(pki, tmp, generous);
		b = await federatingServer(pki, tmp, generous);
		await a.start();
		await b.start();
		fake = await new FakeRemote(pki).start();
		dead = `127.0.0.1:${await freePort()}`;
		dave = await register(a, 'dave');
		carol = await register(b, 'carol');
	});

	after(async () => {
		await fake?.stop();
		for (const s of [a, b]) {
			if (s?.proc) assertCleanExit(await s.stop(), s);
		}
		for (const s of [a, b]) await s?.cleanup();
		if (tmp && !process.env.MYELIN_E2E_KEEP) await rm(tmp, { recursive: true, force: true });
	});

	it('a space on A with children on B: B describes them', async () => {
		const onB = await makeRoom(carol.client, 'On B', { topic: 'Hosted by B' });
		const privB = await makeRoom(carol.client, 'Private on B', { preset: 'private_chat' });
		const spaceB = await makeRoom(carol.client, 'Space on B', { space: true });
		const underB = await makeRoom(carol.client, 'Under the space on B');
		const hiddenB = await makeRoom(carol.client, 'Hidden under the space on B', { preset: 'private_chat' });
		await link(carol.client, spaceB, underB, b.serverName);
		await link(carol.client, spaceB, hiddenB, b.serverName);

		const spaceA = await makeRoom(dave.client, 'Space on A', { space: true });
		const localA = await makeRoom(dave.client, 'Room on A');
		await link(dave.client, spaceA, onB, b.serverName, { order: '1' });
		await link(dave.client, spaceA, privB, b.serverName, { order: '2' });
		await link(dave.client, spaceA, spaceB, b.serverName, { order: '3' });
		// A server that is down: that child is left out, quickly.
		await link(dave.client, spaceA, `!gone:${dead}`, dead, { order: '4' });
		await link(dave.client, spaceA, localA, a.serverName, { order: '5' });

		const t0 = Date.now();
		const res = await dave.client.getRoomHierarchy(spaceA);
		assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
		assert.deepEqual(ids(res.rooms), [spaceA, onB, spaceB, underB, localA]);
		const b1 = res.rooms[1];
		assert.equal(b1.name, 'On B');
		assert.equal(b1.topic, 'Hosted by B');
		assert.equal(b1.num_joined_members, 1);
		assert.equal(b1.join_rule, 'public');
		assert.deepEqual(b1.children_state, []);
		const sB = res.rooms[2];
		assert.equal(sB.room_type, 'm.space');
		assert.deepEqual(sB.children_state.map((e) => e.state_key).sort(), [underB, hiddenB].sort());
		assert.equal(res.rooms[3].name, 'Under the space on B');

		// Paged: the same rooms, B's answers reused from the cache.
		const { rooms } = await walkAll(dave.client, spaceA, { limit: 2 });
		assert.deepEqual(ids(rooms), ids(res.rooms));
	});

	it('answers other servers about its rooms, signed requests only', async () => {
		const s = a.serverName;
		const top = await makeRoom(dave.client, 'Fed top', { space: true });
		const pub = await makeRoom(dave.client, 'Fed public');
		const priv = await makeRoom(dave.client, 'Fed private', { preset: 'private_chat' });
		const inner = await makeRoom(dave.client, 'Fed inner space', { space: true });
		await link(dave.client, top, pub, s, { suggested: true });
		await link(dave.client, top, priv, s);
		await link(dave.client, top, inner, s);
		await link(dave.client, top, `!elsewhere:${fake.serverName}`, fake.serverName);
		await link(dave.client, inner, pub, s);
		const uri = (room, qs = '') => `/_matrix/federation/v1/hierarchy/${enc(room)}${qs}`;

		let res = await fake.request(a, 'GET', uri(top));
		assert.equal(res.status, 200, res.body.toString());
		assert.equal(res.json.room.room_id, top);
		assert.equal(res.json.room.name, 'Fed top');
		assert.equal(res.json.room.room_type, 'm.space');
		assert.equal(res.json.room.children_state.length, 4);
		// Rooms it may peek or join are described (without their children),
		// the rest named inaccessible, others' rooms left out.
		assert.deepEqual(res.json.children.map((c) => c.room_id).sort(), [pub, inner].sort());
		for (const c of res.json.children) assert.equal(c.children_state, undefined);
		assert.deepEqual(res.json.inaccessible_children, [priv]);

		res = await fake.request(a, 'GET', uri(top, '?suggested_only=true'));
		assert.equal(res.status, 200);
		assert.deepEqual(res.json.room.children_state.map((e) => e.state_key), [pub]);
		assert.deepEqual(res.json.children.map((c) => c.room_id), [pub]);

		// A private room, or one unknown: 404.
		res = await fake.request(a, 'GET', uri(priv));
		assertError({ ...res, text: res.body.toString(), headers: new Headers(res.headers) }, 404, 'M_NOT_FOUND');
		res = await fake.request(a, 'GET', uri(`!nope:${s}`));
		assert.equal(res.status, 404);
		// Unsigned: 401.
		res = await fake.request(a, 'GET', uri(top), { authorization: null });
		assert.equal(res.status, 401);
		assert.equal(res.json.errcode, 'M_UNAUTHORIZED');
	});

	it('asks the servers in via, checks and caches their answers', async () => {
		const remoteSpace = `!rspace:${fake.serverName}`;
		const child = `!rchild:${fake.serverName}`;
		let asked = 0;
		fake.handle('GET', `/_matrix/federation/v1/hierarchy/${escapeSegment(remoteSpace)}`, (req, res, url) => {
			asked++;
			if (!req.headers.authorization?.startsWith('X-Matrix ')) return reply(res, 401, { errcode: 'M_UNAUTHORIZED', error: 'unsigned' });
			assert.equal(url.searchParams.get('suggested_only'), 'false');
			reply(res, 200, {
				room: {
					room_id: remoteSpace,
					name: 'Remote space',
					room_type: 'm.space',
					join_rule: 'public',
					num_joined_members: 7,
					world_readable: false,
					guest_can_join: false,
					'x.junk': 'dropped',
					children_state: [
						{ type: 'm.space.child', state_key: child, sender: `@x:${fake.serverName}`, origin_server_ts: 2, content: { via: [fake.serverName] } },
						{ type: 'm.space.child', state_key: `!secret:${fake.serverName}`, sender: `@x:${fake.serverName}`, origin_server_ts: 1, content: { via: [fake.serverName] } },
					],
				},
				children: [{ room_id: child, name: 'Remote child', join_rule: 'public', num_joined_members: 3, world_readable: true, guest_can_join: false }],
				inaccessible_children: [`!secret:${fake.serverName}`],
			});
		});
		const top = await makeRoom(dave.client, 'Top with a remote space', { space: true });
		await link(dave.client, top, remoteSpace, fake.serverName);

		const res = await dave.client.getRoomHierarchy(top);
		assert.deepEqual(ids(res.rooms), [top, remoteSpace, child]);
		assert.equal(res.rooms[1].name, 'Remote space');
		assert.equal(res.rooms[1].num_joined_members, 7);
		assert.equal(res.rooms[1]['x.junk'], undefined);
		assert.equal(res.rooms[2].name, 'Remote child');
		assert.equal(asked, 1, 'the described child and the inaccessible one are not asked about');
		await dave.client.getRoomHierarchy(top);
		assert.equal(asked, 1, 'the answer is cached');
		// Only the hierarchy of the space was asked, never the secret room.
		assert.ok(!fake.requests.some(([, u]) => u.includes('secret')));
	});
});
