// SPDX-License-Identifier: Apache-2.0
//
// Ephemeral data and per-room user data with real clients running the SDK's
// own sync loop: typing notifications (and their expiry), read receipts
// (public, private, threaded) and read markers, presence, room tags, and
// ignoring users in /sync and /messages.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RoomEvent, RoomMemberEvent, UserEvent } from 'matrix-js-sdk';
import { useServer } from './lib/server.mjs';
import { api, assertError } from './lib/matrix.mjs';
import {
	eventually,
	rawMessages,
	rawSync,
	sendText,
	stopAll,
	syncingUser,
	txnId,
	waitForEventId,
	waitForMembership,
	withTimeout,
} from './lib/rooms.mjs';

const srv = useServer({ config: { rc_message: { per_second: 1000, burst_count: 1000 } } });
const enc = encodeURIComponent;

/** Resolves when emitter emits `event` with arguments matching pred (checked at once with now() first). */
function waitForEmit(emitter, event, pred, what, ms = 5000, now = () => false) {
	if (now()) return Promise.resolve();
	let on;
	const p = new Promise((resolve) => {
		on = (...args) => {
			if (pred(...args)) resolve(args);
		};
		emitter.on(event, on);
	});
	return withTimeout(p, ms, what).finally(() => emitter.off(event, on));
}

/** The ephemeral events of roomId in a /sync response. */
const ephemeral = (sync, roomId) => sync.rooms?.join?.[roomId]?.ephemeral?.events ?? [];

describe('ephemeral events with syncing clients', () => {
	let alice, bob, carol, roomId;

	before(async () => {
		alice = await syncingUser(srv, 'alice');
		bob = await syncingUser(srv, 'bob');
		carol = await syncingUser(srv, 'carol');
		({ room_id: roomId } = await alice.client.createRoom({ preset: 'private_chat', invite: [bob.userId] }));
		await waitForMembership(bob.client, roomId, bob.userId, 'invite');
		await bob.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, bob.userId, 'join');
	});

	after(() => stopAll(alice?.client, bob?.client, carol?.client));

	describe('typing', () => {
		// Spec: "Typing Notifications": PUT /rooms/{roomId}/typing/{userId};
		// m.typing in the room's ephemeral events of /sync.
		it("reaches the other member's client, and so does stopping", async () => {
			const typingIs = (v) => (_ev, m) => m.roomId === roomId && m.userId === alice.userId && m.typing === v;
			const started = waitForEmit(bob.client, RoomMemberEvent.Typing, typingIs(true), 'alice typing (seen by bob)');
			await alice.client.sendTyping(roomId, true, 20000);
			await started;
			assert.equal(bob.client.getRoom(roomId).getMember(alice.userId).typing, true);
			const stopped = waitForEmit(bob.client, RoomMemberEvent.Typing, typingIs(false), 'alice not typing (seen by bob)');
			await alice.client.sendTyping(roomId, false);
			await stopped;
		});

		// Spec: typing "for the next N milliseconds where N is the value specified in the timeout key".
		it('expires after its timeout and the others are told', async () => {
			const typingIs = (v) => (_ev, m) => m.roomId === roomId && m.userId === bob.userId && m.typing === v;
			const started = waitForEmit(alice.client, RoomMemberEvent.Typing, typingIs(true), 'bob typing');
			const t0 = Date.now();
			await bob.client.sendTyping(roomId, true, 1000);
			await started;
			await waitForEmit(alice.client, RoomMemberEvent.Typing, typingIs(false), 'bob typing to expire', 5000);
			assert.ok(Date.now() - t0 >= 900, `typing ended after ${Date.now() - t0} ms, before its 1000 ms timeout`);
		});

		// Spec: PUT typing: "The user who has started to type": only yourself; only joined rooms.
		it('is refused for another user, outside the room and with a bad body', async () => {
			const path = (u) => `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(u)}`;
			assertError(await api(srv, 'PUT', path(alice.userId), { token: bob.accessToken, json: { typing: true, timeout: 1000 } }), 403, 'M_FORBIDDEN');
			assertError(await api(srv, 'PUT', path(carol.userId), { token: carol.accessToken, json: { typing: true, timeout: 1000 } }), 403, 'M_FORBIDDEN');
			assertError(await api(srv, 'PUT', path(bob.userId), { token: bob.accessToken, json: { typing: 'yes' } }), 400, 'M_BAD_JSON');
			assertError(await api(srv, 'PUT', path(bob.userId), { token: bob.accessToken, json: { typing: true, timeout: 'long' } }), 400, 'M_BAD_JSON');
			// Nothing was recorded: a fresh sync shows nobody typing.
			const sync = await rawSync(srv, alice);
			const typing = ephemeral(sync, roomId).find((e) => e.type === 'm.typing');
			assert.ok(!typing || typing.content.user_ids.length === 0, JSON.stringify(typing));
		});
	});

	describe('receipts and read markers', () => {
		// Spec: "Receipts": POST /rooms/{roomId}/receipt/m.read/{eventId}; m.receipt in ephemeral.
		it("a public read receipt reaches the other member's client", async () => {
			const eventId = await sendText(alice.client, roomId, 'read me');
			const ev = await waitForEventId(bob.client, roomId, eventId);
			const seen = waitForEmit(alice.client, RoomEvent.Receipt, () =>
				alice.client.getRoom(roomId).getUsersReadUpTo(alice.client.getRoom(roomId).findEventById(eventId)).includes(bob.userId),
			'bob\'s receipt (seen by alice)');
			await bob.client.sendReadReceipt(ev);
			await seen;
			// The initial sync of a new client carries the room's receipts too.
			const sync = await rawSync(srv, alice);
			const receipt = ephemeral(sync, roomId).find((e) => e.type === 'm.receipt');
			assert.ok(receipt?.content?.[eventId]?.['m.read']?.[bob.userId]?.ts > 0, JSON.stringify(receipt));
		});

		// Spec: "Private read receipts": "Servers MUST NOT send the m.read.private
		// receipt to any other user than the one which originally sent it."
		it('a private receipt reaches only its owner', async () => {
			const before = (await rawSync(srv, alice)).next_batch;
			const eventId = await sendText(alice.client, roomId, 'read me privately');
			await waitForEventId(bob.client, roomId, eventId);
			const res = await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read.private/${enc(eventId)}`, { token: bob.accessToken, json: {} });
			assert.equal(res.status, 200, res.text);
			const mine = ephemeral(await rawSync(srv, bob), roomId).find((e) => e.type === 'm.receipt');
			assert.ok(mine?.content?.[eventId]?.['m.read.private']?.[bob.userId], `bob sees his own private receipt: ${JSON.stringify(mine)}`);
			// alice: neither in an initial sync nor in an incremental one.
			for (const sync of [await rawSync(srv, alice), await rawSync(srv, alice, { since: before })]) {
				const text = JSON.stringify(ephemeral(sync, roomId));
				assert.ok(!text.includes('m.read.private'), text);
			}
			assert.notEqual(alice.client.getRoom(roomId).getEventReadUpTo(bob.userId), eventId);
		});

		// Spec: "Threaded read receipts"; POST receipt: 400 when "the event_id is not related to the thread_id".
		it('threaded receipts are checked against the thread', async () => {
			const rootId = await sendText(alice.client, roomId, 'thread root');
			const { event_id: inThread } = await alice.client.sendEvent(roomId, 'm.room.message', {
				msgtype: 'm.text', body: 'in the thread', 'm.relates_to': { rel_type: 'm.thread', event_id: rootId },
			}, txnId());
			const post = (type, ev, json) => api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/receipt/${type}/${enc(ev)}`, { token: bob.accessToken, json });
			assert.equal((await post('m.read', inThread, { thread_id: rootId })).status, 200);
			assert.equal((await post('m.read', rootId, { thread_id: 'main' })).status, 200);
			assert.equal((await post('m.read', rootId, { thread_id: rootId })).status, 200);
			assertError(await post('m.read', inThread, { thread_id: 'main' }), 400, 'M_INVALID_PARAM');
			assertError(await post('m.read', rootId, { thread_id: '' }), 400, 'M_INVALID_PARAM');
			assertError(await post('m.read', rootId, { thread_id: 5 }), 400, 'M_INVALID_PARAM');
			assertError(await post('m.fully_read', rootId, { thread_id: 'main' }), 400, 'M_INVALID_PARAM');
			assertError(await post('m.bogus', rootId, {}), 400, 'M_INVALID_PARAM');
			assertError(await post('m.read', '$nosuchevent', {}), 404, 'M_NOT_FOUND');
			assertError(await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(rootId)}`, { token: carol.accessToken, json: {} }), 403, 'M_FORBIDDEN');
			const receipt = ephemeral(await rawSync(srv, alice), roomId).find((e) => e.type === 'm.receipt');
			assert.equal(receipt.content[inThread]['m.read'][bob.userId].thread_id, rootId);
			// The receipt on the root in thread rootId was behind the one on
			// inThread: receipts only move forward, so it changed nothing.
			assert.equal(receipt.content[rootId]['m.read'][bob.userId].thread_id, 'main');
		});

		// Spec: "Fully read markers": POST /read_markers sets m.fully_read (room
		// account data, sent down /sync) and the read receipt at once.
		it('read markers set m.fully_read and the receipt, and only move forward', async () => {
			const first = await sendText(alice.client, roomId, 'marker 1');
			const second = await sendText(alice.client, roomId, 'marker 2');
			await waitForEventId(bob.client, roomId, second);
			const marker = waitForEmit(bob.client, RoomEvent.AccountData, (ev) => ev.getType() === 'm.fully_read' && ev.getContent().event_id === second, 'bob\'s m.fully_read');
			const res = await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/read_markers`, { token: bob.accessToken, json: { 'm.fully_read': second, 'm.read': second } });
			assert.equal(res.status, 200, res.text);
			await marker;
			await eventually(() => alice.client.getRoom(roomId).getEventReadUpTo(bob.userId) === second, 5000, 'bob\'s receipt on marker 2');
			// Backwards: accepted, nothing changes.
			const back = await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/read_markers`, { token: bob.accessToken, json: { 'm.fully_read': first } });
			assert.equal(back.status, 200, back.text);
			const got = await api(srv, 'GET', `/_matrix/client/v3/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`, { token: bob.accessToken });
			assert.deepEqual(got.json, { event_id: second });
			assertError(await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/read_markers`, { token: bob.accessToken, json: { 'm.fully_read': 7 } }), 400, 'M_BAD_JSON');
		});
	});

	describe('presence', () => {
		// Spec: "Presence": PUT /presence/{userId}/status; m.presence to users who share a room.
		it("is seen by the other member's client", async () => {
			const seen = (state, msg) => waitForEmit(bob.client, UserEvent.Presence, (_ev, u) => u.userId === alice.userId && u.presence === state && u.presenceStatusMsg === msg,
				`alice ${state} "${msg}" (seen by bob)`, 5000, () => {
					const u = bob.client.getUser(alice.userId);
					return u?.presence === state && u?.presenceStatusMsg === msg;
				});
			let p = seen('unavailable', 'at lunch');
			await alice.client.setPresence({ presence: 'unavailable', status_msg: 'at lunch' });
			await p;
			p = seen('online', 'back');
			await alice.client.setPresence({ presence: 'online', status_msg: 'back' });
			await p;
			const got = await bob.client.getPresence(alice.userId);
			assert.equal(got.presence, 'online');
			assert.equal(got.status_msg, 'back');
			assert.equal(got.currently_active, true);
			assert.ok(got.last_active_ago >= 0 && got.last_active_ago < 60000, JSON.stringify(got));
		});

		// Spec: PUT presence: "You cannot set the presence state of another
		// user"; GET: 403 "You are not allowed to see this user's presence status".
		it('only your own can be set, and strangers cannot read it', async () => {
			const path = (u) => `/_matrix/client/v3/presence/${enc(u)}/status`;
			assertError(await api(srv, 'PUT', path(alice.userId), { token: bob.accessToken, json: { presence: 'offline' } }), 403, 'M_FORBIDDEN');
			assertError(await api(srv, 'PUT', path(bob.userId), { token: bob.accessToken, json: { presence: 'asleep' } }), 400, 'M_INVALID_PARAM');
			assertError(await api(srv, 'PUT', path(bob.userId), { token: bob.accessToken, json: {} }), 400, 'M_MISSING_PARAM');
			assertError(await api(srv, 'GET', path(alice.userId), { token: carol.accessToken }), 403, 'M_FORBIDDEN');
			assert.equal((await bob.client.getPresence(alice.userId)).presence, 'online', 'unchanged');
			// One's own presence is always readable.
			assert.equal((await api(srv, 'GET', path(carol.userId), { token: carol.accessToken })).status, 200);
		});

		// Spec: /sync `filter`: the "presence" EventFilter applies.
		it('the presence filter is applied', async () => {
			const sync = await rawSync(srv, bob, { filter: { presence: { not_types: ['m.presence'] } } });
			assert.deepEqual(sync.presence.events, []);
			const all = await rawSync(srv, bob);
			assert.ok(all.presence.events.some((e) => e.sender === alice.userId && e.type === 'm.presence'), JSON.stringify(all.presence));
		});
	});

	describe('tags', () => {
		// Spec: "Room Tagging": PUT/GET/DELETE /user/{userId}/rooms/{roomId}/tags; m.tag room account data.
		it('round-trip and appear in room account data', async () => {
			const tagged = waitForEmit(alice.client, RoomEvent.Tags, (ev, room) => room.roomId === roomId && room.tags['u.work']?.order === 0.25, 'the m.tag event (alice)');
			await alice.client.setRoomTag(roomId, 'u.work', { order: 0.25 });
			await alice.client.setRoomTag(roomId, 'm.favourite', {});
			await tagged;
			assert.deepEqual(await alice.client.getRoomTags(roomId), { tags: { 'u.work': { order: 0.25 }, 'm.favourite': {} } });
			await eventually(() => alice.client.getRoom(roomId).tags['m.favourite'], 5000, 'm.favourite in the SDK');
			await alice.client.deleteRoomTag(roomId, 'u.work');
			assert.deepEqual(await alice.client.getRoomTags(roomId), { tags: { 'm.favourite': {} } });
			await eventually(() => !alice.client.getRoom(roomId).tags['u.work'], 5000, 'u.work removed in the SDK');
			// Deleting an absent tag is fine.
			await alice.client.deleteRoomTag(roomId, 'u.never');
			// Bob's tags are his own.
			assert.deepEqual(await bob.client.getRoomTags(roomId), { tags: {} });
		});

		// Spec: "The name of a tag MUST NOT exceed 255 bytes"; order is a number between 0 and 1.
		it('bad tags and other users are refused, nothing changes', async () => {
			const path = (u, tag) => `/_matrix/client/v3/user/${enc(u)}/rooms/${enc(roomId)}/tags/${enc(tag)}`;
			assertError(await api(srv, 'PUT', path(alice.userId, 'u.x'), { token: alice.accessToken, json: { order: 'first' } }), 400, 'M_BAD_JSON');
			assertError(await api(srv, 'PUT', path(alice.userId, 'u.x'), { token: alice.accessToken, json: { order: 2 } }), 400, 'M_INVALID_PARAM');
			assertError(await api(srv, 'PUT', path(alice.userId, 'u.' + 'x'.repeat(254)), { token: alice.accessToken, json: {} }), 400, 'M_INVALID_PARAM');
			assertError(await api(srv, 'PUT', path(alice.userId, 'u.x'), { token: bob.accessToken, json: {} }), 403, 'M_FORBIDDEN');
			assertError(await api(srv, 'GET', `/_matrix/client/v3/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags`, { token: bob.accessToken }), 403, 'M_FORBIDDEN');
			assertError(await api(srv, 'DELETE', path(alice.userId, 'm.favourite'), { token: bob.accessToken }), 403, 'M_FORBIDDEN');
			assert.deepEqual(await alice.client.getRoomTags(roomId), { tags: { 'm.favourite': {} } });
		});
	});

	describe('ignoring users', () => {
		let room2;
		before(async () => {
			({ room_id: room2 } = await alice.client.createRoom({ preset: 'private_chat', invite: [bob.userId, carol.userId] }));
			await waitForMembership(bob.client, room2, bob.userId, 'invite');
			await waitForMembership(carol.client, room2, carol.userId, 'invite');
			await bob.client.joinRoom(room2);
			await carol.client.joinRoom(room2);
			await waitForMembership(bob.client, room2, carol.userId, 'join');
		});

		// Spec: "Ignoring Users": the client "will no longer receive events sent
		// by that user, with the exception of state events"; no invites from them.
		it("hides the ignored user's messages and invites from /sync and /messages", async () => {
			const token = (await rawSync(srv, bob)).next_batch;
			await bob.client.setIgnoredUsers([alice.userId]);
			await eventually(() => bob.client.isUserIgnored(alice.userId), 5000, 'the ignore list in the SDK');
			const hidden = await sendText(alice.client, room2, 'you cannot see me');
			await alice.client.setRoomTopic(room2, 'topic while ignored');
			const { room_id: room3 } = await alice.client.createRoom({ preset: 'private_chat', invite: [bob.userId] });
			const visible = await sendText(carol.client, room2, 'carol speaks');
			await waitForEventId(bob.client, room2, visible);
			assert.equal(bob.client.getRoom(room2).findEventById(hidden), undefined, 'the ignored message reached the SDK');

			const sync = await rawSync(srv, bob, { since: token, timeout: 0 });
			const ids = (sync.rooms.join[room2]?.timeline.events ?? []).map((e) => e.event_id);
			assert.ok(!ids.includes(hidden), 'ignored message in /sync');
			assert.ok(ids.includes(visible), 'carol\'s message missing from /sync');
			assert.ok(sync.rooms.join[room2].timeline.events.some((e) => e.type === 'm.room.topic' && e.sender === alice.userId), 'state events of ignored users are still sent');
			assert.equal(sync.rooms.invite?.[room3], undefined, 'an invite from an ignored user');
			const initial = await rawSync(srv, bob);
			assert.equal(initial.rooms.invite?.[room3], undefined, 'an invite from an ignored user (initial sync)');

			const msgs = await rawMessages(srv, bob, room2, { dir: 'b', limit: 50 });
			assert.equal(msgs.status, 200);
			const mids = msgs.json.chunk.map((e) => e.event_id);
			assert.ok(!mids.includes(hidden), 'ignored message in /messages');
			assert.ok(mids.includes(visible));
			// Carol ignores nobody.
			const cm = await rawMessages(srv, carol, room2, { dir: 'b', limit: 50 });
			assert.ok(cm.json.chunk.some((e) => e.event_id === hidden));
		});

		// Spec: "The server will resume sending events from the previously ignored user".
		it('un-ignoring shows their new messages again', async () => {
			await bob.client.setIgnoredUsers([]);
			await eventually(() => !bob.client.isUserIgnored(alice.userId), 5000, 'the ignore list in the SDK');
			const again = await sendText(alice.client, room2, 'visible again');
			await waitForEventId(bob.client, room2, again);
		});
	});
});
