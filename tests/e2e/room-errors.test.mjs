// SPDX-License-Identifier: Apache-2.0
//
// Bad input to the room endpoints: each gets a clear 4xx Matrix error and
// changes nothing (the room's state and messages are checked before and
// after). Malformed JSON, oversize state keys, types and events,
// non-canonical numbers, unknown room versions, invalid room and user ids,
// bad pagination parameters, rooms the user is not in, power the user does
// not have; and idempotent transaction ids.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, login, register, rejects } from './lib/matrix.mjs';
import { rawMessages } from './lib/rooms.mjs';

const srv = useServer({ config: { rc_message: { per_second: 10000, burst_count: 10000 } } });
const enc = encodeURIComponent;
let txnCounter = 0;
const txn = () => `e-${process.pid}-${++txnCounter}`;

describe('bad input to rooms', () => {
	let alice, bob, roomId;

	before(async () => {
		alice = await register(srv, 'alice', 'alice-password');
		bob = await register(srv, 'bob', 'bob-password');
		({ room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat', name: 'Errors' }));
		await bob.client.joinRoom(roomId);
		await alice.client.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'baseline' }, txn());
	});

	/** The room as alice sees it: the state (sorted) and the last 20 event ids. */
	async function snapshot() {
		const state = (await alice.client.roomState(roomId)).map((e) => `${e.type}|${e.state_key}|${e.event_id}`).sort();
		const res = await rawMessages(srv, alice, roomId, { dir: 'b', limit: 20 });
		assert.equal(res.status, 200, res.text);
		return { state, events: res.json.chunk.map((e) => e.event_id) };
	}

	/** Runs the bad request(s) in fn, then checks that the room did not change. */
	async function unchanged(fn) {
		const before = await snapshot();
		await fn();
		assert.deepEqual(await snapshot(), before, 'the room did not change');
	}

	const put = (user, path, body, headers) =>
		api(srv, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}${path}`, { token: user.accessToken, body, headers });

	// Spec: "API Standards": a body that is not JSON is 400 M_NOT_JSON; PUT /send.
	it('malformed JSON on /send is 400 M_NOT_JSON', async () => {
		await unchanged(async () => {
			for (const body of ['{"msgtype": "m.text", "body": ', 'not json at all', '{"a":1}}', '']) {
				const res = await put(alice, `/send/m.room.message/${txn()}`, body);
				assertError(res, 400, ['M_NOT_JSON', 'M_BAD_JSON'], JSON.stringify(body));
			}
			const res = await put(alice, `/send/m.room.message/${txn()}`, '{"body": "x"');
			assertError(res, 400, 'M_NOT_JSON');
			// JSON, but not an object.
			for (const body of ['[1,2,3]', '"text"', '42', 'null']) {
				const r = await put(alice, `/send/m.room.message/${txn()}`, body);
				assertError(r, 400, ['M_BAD_JSON', 'M_NOT_JSON'], body);
			}
			// Duplicate keys are not valid canonical JSON.
			const dup = await put(alice, `/send/m.room.message/${txn()}`, '{"body": "a", "body": "b", "msgtype": "m.text"}');
			assertError(dup, 400, ['M_BAD_JSON', 'M_NOT_JSON'], 'duplicate keys');
		});
	});

	// Spec: "Size limits": state_key and type at most 255 bytes.
	it('a state_key or event type of 256+ bytes is refused', async () => {
		await unchanged(async () => {
			const longKey = 'k'.repeat(256);
			const res = await put(alice, `/state/m.room.topic/${longKey}`, JSON.stringify({ topic: 'x' }));
			assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
			assertError(res, res.status, ['M_INVALID_PARAM', 'M_TOO_LARGE', 'M_BAD_JSON', 'M_UNKNOWN']);
			// Multi-byte: 128 two-byte characters are 256 bytes.
			const wide = await put(alice, `/state/com.example.state/${enc('é'.repeat(128))}`, JSON.stringify({ a: 1 }));
			assert.ok(wide.status >= 400 && wide.status < 500, `256 bytes in 128 characters: ${wide.status} ${wide.text}`);
			const longType = 't'.repeat(256);
			const t = await put(alice, `/send/${longType}/${txn()}`, JSON.stringify({ body: 'x' }));
			assert.ok(t.status >= 400 && t.status < 500, `${t.status} ${t.text}`);
			const st = await put(alice, `/state/${longType}/`, JSON.stringify({ a: 1 }));
			assert.ok(st.status >= 400 && st.status < 500, `${st.status} ${st.text}`);
		});
		// 255 bytes is fine.
		const ok = await put(alice, `/state/com.example.state/${'k'.repeat(255)}`, JSON.stringify({ a: 1 }));
		assert.equal(ok.status, 200, ok.text);
	});

	// Spec: "Size limits": the complete event must not exceed 65,536 bytes: 413 M_TOO_LARGE.
	it('an event over 65,536 bytes is 413 M_TOO_LARGE', async () => {
		await unchanged(async () => {
			for (const size of [65_000, 65_536, 70_000]) {
				const res = await put(alice, `/send/m.room.message/${txn()}`, JSON.stringify({ msgtype: 'm.text', body: 'x'.repeat(size) }));
				assertError(res, 413, 'M_TOO_LARGE', `body of ${size}`);
			}
			const st = await put(alice, '/state/m.room.topic/', JSON.stringify({ topic: 'y'.repeat(66_000) }));
			assertError(st, 413, 'M_TOO_LARGE', 'state event');
		});
		// Comfortably under the limit works.
		const ok = await put(alice, `/send/m.room.message/${txn()}`, JSON.stringify({ msgtype: 'm.text', body: 'z'.repeat(60_000) }));
		assert.equal(ok.status, 200, ok.text);
		assert.equal((await alice.client.fetchRoomEvent(roomId, ok.json.event_id)).content.body.length, 60_000);
	});

	// Spec: "Canonical JSON" / room versions 6+: integers outside [-(2^53)+1, 2^53-1] and
	// floats cannot be in an event: 400 M_BAD_JSON.
	it('numbers that canonical JSON cannot carry are 400 M_BAD_JSON', async () => {
		await unchanged(async () => {
			for (const body of ['{"n": 9007199254740992}', '{"n": -9007199254740992}', '{"n": 1.5}', '{"n": 1e3}']) {
				const res = await put(alice, `/send/com.example.num/${txn()}`, body);
				assertError(res, 400, 'M_BAD_JSON', body);
			}
		});
		const ok = await put(alice, `/send/com.example.num/${txn()}`, '{"n": 9007199254740991}');
		assert.equal(ok.status, 200, ok.text);
	});

	// Spec: POST /createRoom: 400 M_UNSUPPORTED_ROOM_VERSION; no room is made.
	it('an unknown room version is 400 M_UNSUPPORTED_ROOM_VERSION, and no room is made', async () => {
		const before = (await alice.client.getJoinedRooms()).joined_rooms.sort();
		await rejects(alice.client.createRoom({ room_version: '999' }), 400, 'M_UNSUPPORTED_ROOM_VERSION');
		await rejects(alice.client.createRoom({ room_version: '' }), 400, 'M_UNSUPPORTED_ROOM_VERSION');
		// Other bad createRoom bodies.
		await rejects(alice.client.createRoom({ preset: 'party' }), 400);
		await rejects(alice.client.createRoom({ visibility: 'secret' }), 400);
		await rejects(alice.client.createRoom({ invite: 'bob' }), 400);
		await rejects(alice.client.createRoom({ invite: ['not a user id'] }), 400, 'M_INVALID_PARAM');
		await rejects(alice.client.createRoom({ initial_state: [{ content: {} }] }), 400);
		await rejects(alice.client.createRoom({ room_alias_name: 'bad:alias' }), 400);
		await rejects(alice.client.createRoom({ name: 42 }), 400);
		await rejects(alice.client.createRoom({ power_level_content_override: 'x' }), 400);
		const notJson = await api(srv, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, body: '{"preset":' });
		assertError(notJson, 400, 'M_NOT_JSON');
		assert.deepEqual((await alice.client.getJoinedRooms()).joined_rooms.sort(), before, 'no room was created');
	});

	// Spec: "Room IDs", "User Identifiers": malformed ids in paths and bodies are a 4xx,
	// never a crash; well-formed but unknown rooms are 403/404.
	it('invalid room ids and user ids in paths and bodies', async () => {
		await unchanged(async () => {
			const post = (path, json) => api(srv, 'POST', `/_matrix/client/v3${path}`, { token: alice.accessToken, json });
			for (const bad of ['notaroom', '!', '#', '#noserver', '!' + 'x'.repeat(300) + ':localhost']) {
				const res = await post(`/join/${enc(bad)}`, {});
				assert.ok(res.status === 400 || res.status === 404, `join ${bad.slice(0, 20)}: ${res.status} ${res.text}`);
				assertError(res, res.status, ['M_INVALID_PARAM', 'M_NOT_FOUND', 'M_BAD_JSON']);
			}
			for (const user of ['bob', '@bob', '@:localhost', 'not a user', '@bob:localhost:xyz:abc/', 42, null]) {
				for (const op of ['invite', 'kick', 'ban', 'unban']) {
					const res = await post(`/rooms/${enc(roomId)}/${op}`, { user_id: user });
					assert.ok(res.status === 400, `${op} ${JSON.stringify(user)}: ${res.status} ${res.text}`);
					assertError(res, 400, ['M_INVALID_PARAM', 'M_BAD_JSON', 'M_MISSING_PARAM']);
				}
			}
			const missing = await post(`/rooms/${enc(roomId)}/invite`, {});
			assertError(missing, 400, ['M_MISSING_PARAM', 'M_BAD_JSON']);
			// Unknown but well-formed.
			const unknownRoom = `!doesnotexist:${srv.serverName}`;
			const join = await post(`/rooms/${enc(unknownRoom)}/join`, {});
			assert.ok(join.status === 404 || join.status === 403, `${join.status} ${join.text}`);
			const send = await api(srv, 'PUT', `/_matrix/client/v3/rooms/${enc(unknownRoom)}/send/m.room.message/${txn()}`, { token: alice.accessToken, json: { body: 'x' } });
			assert.ok(send.status === 403 || send.status === 404, `${send.status} ${send.text}`);
			const inviteUnknown = await post(`/rooms/${enc(roomId)}/invite`, { user_id: `@nobody:${srv.serverName}` });
			assert.ok(inviteUnknown.status >= 400 && inviteUnknown.status < 500, `${inviteUnknown.status} ${inviteUnknown.text}`);
			for (const path of ['/rooms/notaroom/messages?dir=b', '/rooms/notaroom/state', '/rooms/notaroom/members', `/rooms/${enc(roomId)}/event/notanevent`, `/rooms/${enc(roomId)}/context/notanevent`]) {
				const res = await api(srv, 'GET', `/_matrix/client/v3${path}`, { token: alice.accessToken });
				assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status} ${res.text}`);
				assert.equal(typeof res.json?.errcode, 'string', `${path}: a Matrix error`);
			}
			const redact = await put(alice, `/redact/notanevent/${txn()}`, '{}');
			assertError(redact, 400, ['M_INVALID_PARAM', 'M_BAD_JSON']);
		});
	});

	// Spec: GET /rooms/{roomId}/messages: dir is required, "b" or "f"; from/to tokens
	// must be ones the server gave (400 M_INVALID_PARAM); limit a non-negative integer.
	it('/messages with a bad dir, token or limit is 400 M_INVALID_PARAM', async () => {
		for (const q of ['', 'dir=x', 'dir=', 'dir=back', 'dir=b&from=garbage', 'dir=f&from=t', 'dir=b&to=%00', 'dir=b&from=t-5', 'dir=b&limit=-1', 'dir=b&limit=ten', 'dir=b&filter=%7Bbad']) {
			const res = await api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?${q}`, { token: bob.accessToken });
			assertError(res, 400, ['M_INVALID_PARAM', 'M_MISSING_PARAM', 'M_BAD_JSON', 'M_NOT_JSON'], q);
		}
		const ok = await rawMessages(srv, bob, roomId, { dir: 'b', limit: 1 });
		assert.equal(ok.status, 200, ok.text);
	});

	// Spec: PUT /send, PUT /state: 403 M_FORBIDDEN for a user not in the room; nothing is sent.
	it('sending to a room one is not in is 403', async () => {
		const carol = await register(srv, 'carol', 'carol-password');
		await unchanged(async () => {
			const res = await put(carol, `/send/m.room.message/${txn()}`, JSON.stringify({ msgtype: 'm.text', body: 'let me in' }));
			assertError(res, 403, 'M_FORBIDDEN');
			const st = await put(carol, '/state/m.room.topic/', JSON.stringify({ topic: 'hijack' }));
			assertError(st, 403, 'M_FORBIDDEN');
			const redact = await put(carol, `/redact/${enc((await snapshot()).events[0])}/${txn()}`, '{}');
			assertError(redact, 403, 'M_FORBIDDEN');
		});
		// A user who left cannot send either.
		await bob.client.leave(roomId);
		await unchanged(async () => {
			const left = await put(bob, `/send/m.room.message/${txn()}`, JSON.stringify({ msgtype: 'm.text', body: 'I left' }));
			assertError(left, 403, 'M_FORBIDDEN');
		});
		await bob.client.joinRoom(roomId);
	});

	// Spec: "Power levels": sending state above one's power level is 403 and changes nothing.
	it('state changes without the power level are 403 and change nothing', async () => {
		await unchanged(async () => {
			for (const [type, content] of [
				['m.room.name', { name: 'bob was here' }],
				['m.room.power_levels', { users: { [bob.userId]: 100 } }],
				['m.room.join_rules', { join_rule: 'invite' }],
				['m.room.history_visibility', { history_visibility: 'joined' }],
			]) {
				const res = await put(bob, `/state/${type}/`, JSON.stringify(content));
				assertError(res, 403, 'M_FORBIDDEN', type);
			}
			// Member events only through the membership endpoints.
			const mem = await put(alice, `/state/m.room.member/${enc(bob.userId)}`, JSON.stringify({ membership: 'ban' }));
			assert.ok(mem.status >= 400 && mem.status < 500, `${mem.status} ${mem.text}`);
		});
	});

	// Spec: "Transaction identifiers": the same txn id from the same device returns the
	// same event_id and makes one event; from another device it is a new event.
	it('PUT /send is idempotent per transaction id and device', async () => {
		const id = txn();
		const body = JSON.stringify({ msgtype: 'm.text', body: `idempotent ${id}` });
		const first = await put(alice, `/send/m.room.message/${id}`, body);
		assert.equal(first.status, 200, first.text);
		const results = await Promise.all([1, 2, 3].map(() => put(alice, `/send/m.room.message/${id}`, body)));
		for (const r of results) {
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.event_id, first.json.event_id, 'the same event id');
		}
		// Even with a different body, the retry answers with the first event.
		const changed = await put(alice, `/send/m.room.message/${id}`, JSON.stringify({ msgtype: 'm.text', body: 'different' }));
		assert.equal(changed.json.event_id, first.json.event_id);
		const count = async (text) => {
			const res = await rawMessages(srv, alice, roomId, { dir: 'b', limit: 50 });
			return res.json.chunk.filter((e) => e.content?.body === text).length;
		};
		assert.equal(await count(`idempotent ${id}`), 1, 'one event');
		assert.equal(await count('different'), 0);

		// Another device of alice with the same txn id: a new event.
		const other = await login(srv, 'alice', 'alice-password');
		const second = await api(srv, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${id}`, { token: other.access_token, body });
		assert.equal(second.status, 200, second.text);
		assert.notEqual(second.json.event_id, first.json.event_id);
		assert.equal(await count(`idempotent ${id}`), 2);

		// Concurrent first sends with one txn id still make one event.
		const id2 = txn();
		const body2 = JSON.stringify({ msgtype: 'm.text', body: `race ${id2}` });
		const race = await Promise.all([1, 2, 3, 4, 5].map(() => put(alice, `/send/m.room.message/${id2}`, body2)));
		for (const r of race) assert.equal(r.status, 200, r.text);
		assert.equal(new Set(race.map((r) => r.json.event_id)).size, 1, 'one event id for all');
		assert.equal(await count(`race ${id2}`), 1, 'one event');
	});

	// Spec: PUT /redact/{eventId}/{txnId} is idempotent too.
	it('a redaction retried with its txn id is one redaction', async () => {
		const { event_id: target } = await alice.client.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'to redact' }, txn());
		const id = txn();
		const a = await put(alice, `/redact/${enc(target)}/${id}`, '{}');
		const b = await put(alice, `/redact/${enc(target)}/${id}`, '{}');
		assert.equal(a.status, 200, a.text);
		assert.equal(b.json.event_id, a.json.event_id);
		const res = await rawMessages(srv, alice, roomId, { dir: 'b', limit: 10 });
		assert.equal(res.json.chunk.filter((e) => e.type === 'm.room.redaction' && e.redacts === target).length, 1);
	});
});

describe('rooms across a restart', () => {
	// Spec: "Redactions" (redacted state stays redacted) and the room's state, history and
	// transaction ids being durable: a restarted server serves the same room.
	it('state, history, redactions and txn ids survive a restart', async () => {
		const alice = await register(srv, 'ralice', 'ralice-password');
		const carol = await register(srv, 'rcarol', 'rcarol-password');
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'private_chat', name: 'Before Restart', topic: 'kept' });
		const id = txn();
		const sent = await alice.client.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'durable' }, id);
		const nameEv = (await alice.client.roomState(roomId)).find((e) => e.type === 'm.room.name');
		await alice.client.redactEvent(roomId, nameEv.event_id, txn());
		const before = (await alice.client.roomState(roomId)).map((e) => `${e.type}|${e.state_key}|${e.event_id}`).sort();

		await srv.restart();

		assert.deepEqual((await alice.client.roomState(roomId)).map((e) => `${e.type}|${e.state_key}|${e.event_id}`).sort(), before);
		const again = await alice.client.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'durable' }, id);
		assert.equal(again.event_id, sent.event_id, 'the txn id is remembered');
		const msgs = await rawMessages(srv, alice, roomId, { dir: 'b', limit: 20 });
		assert.equal(msgs.json.chunk.filter((e) => e.content?.body === 'durable').length, 1);
		// The reloaded room state is the redacted one: an invite after the restart
		// does not show the old name, and the room still works.
		await alice.client.invite(roomId, carol.userId);
		const res = await api(srv, 'GET', '/_matrix/client/v3/sync?timeout=0', { token: carol.accessToken });
		const name = res.json.rooms.invite[roomId].invite_state.events.find((e) => e.type === 'm.room.name');
		assert.equal(name?.content?.name, undefined, JSON.stringify(name));
		assert.equal(res.json.rooms.invite[roomId].invite_state.events.find((e) => e.type === 'm.room.topic').content.topic, 'kept');
		await carol.client.joinRoom(roomId);
		const after = await alice.client.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'after restart' }, txn());
		assert.equal((await carol.client.fetchRoomEvent(roomId, after.event_id)).content.body, 'after restart');
	});
});
