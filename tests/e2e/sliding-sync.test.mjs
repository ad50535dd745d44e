// SPDX-License-Identifier: Apache-2.0
//
// Simplified sliding sync (MSC4186, the sync Element X speaks), raw:
// lists in recency order with ranges, range growth sending only the rooms
// new to the window, incremental syncs with only the changed rooms, the
// long-poll, required_state ("*", "$LAZY", "$ME" and the MSC's
// include/exclude form), timeline_limit, room subscriptions, invites with
// their stripped state, the to_device / e2ee / account_data extensions,
// and bad bodies.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { useServer } from './lib/server.mjs';
import { api, assertError, canonicalJson, register } from './lib/matrix.mjs';

const srv = useServer({ config: { rc_message: { per_second: 10000, burst_count: 10000 } } });
const PATH = '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync';
const enc = encodeURIComponent;
const b64 = (buf) => Buffer.from(buf).toString('base64').replace(/=+$/, '');
let txn = 0;

const call = (user, path, method, json) => api(srv, method, `/_matrix/client/v3${path}`, { token: user.accessToken, json });
async function ok(user, path, method, json) {
	const res = await call(user, path, method, json);
	assert.equal(res.status, 200, `${method} ${path}: ${res.status} ${res.text.slice(0, 300)}`);
	return res.json;
}
const createRoom = async (user, body) => (await ok(user, '/createRoom', 'POST', body)).room_id;
const send = async (user, roomId, body) =>
	(await ok(user, `/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, 'PUT', { msgtype: 'm.text', body })).event_id;
const ss = (user, body) => api(srv, 'POST', PATH, { token: user.accessToken, json: body });
async function sliding(user, body) {
	const res = await ss(user, body);
	assert.equal(res.status, 200, `sliding sync: ${res.status} ${res.text.slice(0, 500)}`);
	assert.equal(typeof res.json.pos, 'string');
	return res.json;
}
const list = (extra = {}) => ({ all: { ranges: [[0, 2]], timeline_limit: 1, required_state: [['m.room.name', '']], ...extra } });
const keys = (events) => events.map((e) => `${e.type}|${e.state_key}`).sort();

describe('sliding sync (MSC4186)', () => {
	let alice, bob;
	const rooms = [];

	before(async () => {
		alice = await register(srv, 'ssalice');
		bob = await register(srv, 'ssbob');
		for (let i = 0; i < 5; i++) rooms.push(await createRoom(alice, { name: `room ${i}` }));
		await send(alice, rooms[1], 'bump'); // order now: 1, 4, 3, 2, 0
	});

	it('is advertised in /versions', async () => {
		const res = await api(srv, 'GET', '/_matrix/client/versions');
		assert.equal(res.json.unstable_features['org.matrix.simplified_msc3575'], true);
	});

	it('lists rooms by recency within the range, then sends only rooms new to a grown range', async () => {
		const first = await sliding(alice, { conn_id: 'main', lists: list() });
		assert.equal(first.lists.all.count, 5);
		const got = Object.keys(first.rooms);
		assert.deepEqual(got.sort(), [rooms[1], rooms[4], rooms[3]].sort());
		const byStamp = got.sort((a, b) => first.rooms[b].bump_stamp - first.rooms[a].bump_stamp);
		assert.deepEqual(byStamp, [rooms[1], rooms[4], rooms[3]]);
		const r1 = first.rooms[rooms[1]];
		assert.equal(r1.initial, true);
		assert.equal(r1.name, 'room 1');
		assert.equal(r1.membership, 'join');
		assert.deepEqual(r1.lists, ['all']);
		assert.equal(r1.joined_count, 1);
		assert.equal(r1.timeline.length, 1);
		assert.equal(r1.timeline[0].content.body, 'bump');
		assert.equal(r1.limited, true);
		assert.equal(typeof r1.prev_batch, 'string');
		assert.deepEqual(keys(r1.required_state), ['m.room.name|']);

		const grown = await sliding(alice, { conn_id: 'main', pos: first.pos, timeout: 0, lists: list({ ranges: [[0, 4]] }) });
		assert.deepEqual(Object.keys(grown.rooms).sort(), [rooms[2], rooms[0]].sort());
		assert.equal(grown.rooms[rooms[0]].initial, true);
		assert.equal(grown.rooms[rooms[0]].num_live, 0);

		// Incremental: a message in one room returns that room and its event only.
		const eventId = await send(alice, rooms[2], 'new one');
		const inc = await sliding(alice, { conn_id: 'main', pos: grown.pos, timeout: 0, lists: list({ ranges: [[0, 4]] }) });
		assert.deepEqual(Object.keys(inc.rooms), [rooms[2]]);
		const r2 = inc.rooms[rooms[2]];
		assert.equal(r2.initial, undefined);
		assert.deepEqual(r2.timeline.map((e) => e.event_id), [eventId]);
		assert.equal(r2.num_live, 1);
		assert.equal(r2.limited, false);
		assert.equal(r2.name, undefined, 'the name did not change');
		assert.deepEqual(r2.required_state, []);

		// Nothing new: an empty answer after the timeout.
		const t0 = Date.now();
		const idle = await sliding(alice, { conn_id: 'main', pos: inc.pos, timeout: 400, lists: list({ ranges: [[0, 4]] }) });
		assert.ok(Date.now() - t0 >= 350, 'waited for the timeout');
		assert.deepEqual(idle.rooms, {});
		assert.equal(idle.lists.all.count, 5);

		// Long-poll: woken by a message at once.
		const waiting = sliding(alice, { conn_id: 'main', pos: idle.pos, timeout: 10000, lists: list({ ranges: [[0, 4]] }) });
		await new Promise((r) => setTimeout(r, 200));
		const t1 = Date.now();
		await send(alice, rooms[0], 'wake up');
		const woke = await waiting;
		assert.ok(Date.now() - t1 < 3000, 'the long-poll returned on the message');
		assert.deepEqual(Object.keys(woke.rooms), [rooms[0]]);
		assert.equal(woke.rooms[rooms[0]].timeline.at(-1).content.body, 'wake up');
	});

	it('required_state: wildcards, $ME, $LAZY and the include/exclude form', async () => {
		const roomId = await createRoom(alice, { name: 'state room', preset: 'public_chat' });
		await ok(bob, `/join/${enc(roomId)}`, 'POST', {});
		await send(bob, roomId, 'from bob');
		const one = async (requiredState, limit = 1) =>
			(await sliding(alice, { room_subscriptions: { [roomId]: { timeline_limit: limit, required_state: requiredState } } }))
				.rooms[roomId];

		const all = await one([['*', '*']]);
		for (const k of ['m.room.create|', 'm.room.name|', 'm.room.power_levels|', `m.room.member|${alice.userId}`, `m.room.member|${bob.userId}`])
			assert.ok(keys(all.required_state).includes(k), `${k} in ${keys(all.required_state)}`);
		assert.deepEqual(keys((await one([['m.room.member', '$ME']])).required_state), [`m.room.member|${alice.userId}`]);
		assert.deepEqual(keys((await one([['m.room.member', '*']])).required_state).length, 2);
		assert.deepEqual(keys((await one([['m.room.member', '$LAZY']])).required_state), [`m.room.member|${bob.userId}`]);
		const excl = await one({ include: [{}], exclude: [{ type: 'm.room.member' }] });
		assert.ok(!keys(excl.required_state).some((k) => k.startsWith('m.room.member')));
		assert.ok(keys(excl.required_state).includes('m.room.join_rules|'));
		const lazy = await one({ include: [{ type: 'm.room.create', state_key: '' }], lazy_members: true });
		assert.deepEqual(keys(lazy.required_state), ['m.room.create|', `m.room.member|${bob.userId}`]);

		// timeline_limit: the newest N, limited, prev_batch for the rest.
		const five = await one([], 5);
		assert.equal(five.timeline.length, 5);
		assert.equal(five.limited, true);
		assert.equal(five.timeline.at(-1).content.body, 'from bob');
		assert.equal(five.joined_count, 2);
		const page = await api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=1&from=${enc(five.prev_batch)}`, {
			token: alice.accessToken,
		});
		assert.equal(page.status, 200);
		assert.equal(page.json.chunk.length, 1);
	});

	it('invites come with their stripped state, and the is_invite filter', async () => {
		const roomId = await createRoom(alice, { name: 'invite room' });
		await ok(alice, `/rooms/${enc(roomId)}/invite`, 'POST', { user_id: bob.userId });
		const res = await sliding(bob, {
			lists: {
				invites: { ranges: [[0, 9]], timeline_limit: 0, required_state: [], filters: { is_invite: true } },
				joined: { ranges: [[0, 9]], timeline_limit: 0, required_state: [], filters: { is_invited: false } },
			},
		});
		assert.equal(res.lists.invites.count, 1);
		const r = res.rooms[roomId];
		assert.deepEqual(r.lists, ['invites']);
		assert.equal(r.membership, 'invite');
		const st = r.invite_state;
		assert.ok(st.some((e) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'invite'));
		assert.ok(st.some((e) => e.type === 'm.room.name' && e.content.name === 'invite room'));
		assert.deepEqual(r.stripped_state, st);
		assert.equal(r.timeline, undefined);
		assert.ok(!Object.values(res.rooms).some((x) => x.membership === 'invite' && x.lists.includes('joined')));
	});

	it('to_device and e2ee extensions deliver messages and one-time key counts', async () => {
		const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
		const pub = b64(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
		const sign = (obj) => ({
			...obj,
			signatures: { [bob.userId]: { [`ed25519:${bob.deviceId}`]: b64(crypto.sign(null, Buffer.from(canonicalJson(obj)), privateKey)) } },
		});
		const deviceKeys = sign({
			user_id: bob.userId,
			device_id: bob.deviceId,
			algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
			keys: { [`curve25519:${bob.deviceId}`]: b64(crypto.randomBytes(32)), [`ed25519:${bob.deviceId}`]: pub },
		});
		const otks = {};
		for (let i = 0; i < 2; i++) otks[`signed_curve25519:k${i}`] = sign({ key: b64(crypto.randomBytes(32)) });
		await ok(bob, '/keys/upload', 'POST', { device_keys: deviceKeys, one_time_keys: otks });
		await ok(alice, `/sendToDevice/m.test/t${++txn}`, 'PUT', { messages: { [bob.userId]: { [bob.deviceId]: { hello: 'bob' } } } });
		const ext = { to_device: { enabled: true }, e2ee: { enabled: true }, account_data: { enabled: true } };
		const first = await sliding(bob, { extensions: ext });
		const td = first.extensions.to_device;
		assert.deepEqual(td.events.map((e) => [e.sender, e.type, e.content.hello]), [[alice.userId, 'm.test', 'bob']]);
		assert.equal(typeof td.next_batch, 'string');
		assert.equal(first.extensions.e2ee.device_one_time_keys_count.signed_curve25519, 2);
		assert.ok(Array.isArray(first.extensions.e2ee.device_unused_fallback_key_types));
		assert.ok(first.extensions.account_data.global.some((e) => e.type === 'm.push_rules'));

		const again = await sliding(bob, { pos: first.pos, timeout: 0, extensions: { to_device: { enabled: true, since: td.next_batch } } });
		assert.deepEqual(again.extensions.to_device.events, []);
		// A to-device message wakes a long-poll.
		const waiting = sliding(bob, { pos: again.pos, timeout: 10000, extensions: { to_device: { enabled: true, since: again.extensions.to_device.next_batch } } });
		await new Promise((r) => setTimeout(r, 200));
		await ok(alice, `/sendToDevice/m.test/t${++txn}`, 'PUT', { messages: { [bob.userId]: { [bob.deviceId]: { hello: 'again' } } } });
		const woke = await waiting;
		assert.deepEqual(woke.extensions.to_device.events.map((e) => e.content.hello), ['again']);
	});

	it('rejects bad bodies with 400', async () => {
		assertError(await ss(alice, { lists: [] }), 400, 'M_BAD_JSON', 'lists array');
		assertError(await ss(alice, { lists: list({ ranges: [[3, 1]] }) }), 400, 'M_BAD_JSON', 'backwards range');
		assertError(await ss(alice, { lists: list({ ranges: 'all' }) }), 400, 'M_BAD_JSON', 'ranges string');
		assertError(await ss(alice, { lists: list({ timeline_limit: 'x' }) }), 400, 'M_BAD_JSON', 'timeline_limit');
		assertError(await ss(alice, { lists: list({ required_state: [['m.room.name']] }) }), 400, 'M_BAD_JSON', 'required_state');
		assertError(await ss(alice, { pos: 'garbage' }), 400, 'M_UNKNOWN_POS', 'pos');
		assertError(await ss(alice, { timeout: -1 }), 400, 'M_BAD_JSON', 'timeout');
		assertError(await ss(alice, { set_presence: 'away' }), 400, 'M_INVALID_PARAM', 'set_presence');
		const many = {};
		for (let i = 0; i < 101; i++) many[`l${i}`] = { timeline_limit: 0, required_state: [] };
		assertError(await ss(alice, { lists: many }), 400, 'M_INVALID_PARAM', 'too many lists');
		const raw = await api(srv, 'POST', PATH, { token: alice.accessToken, body: '{not json' });
		assertError(raw, 400, 'M_NOT_JSON', 'not JSON');
		assert.equal((await api(srv, 'POST', PATH, { json: {} })).status, 401);
	});
});
