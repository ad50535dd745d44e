// SPDX-License-Identifier: Apache-2.0
//
// Room history: 1,050 messages paginated backwards and forwards through
// /messages with no gap, no duplicate and one order; the SDK's scrollback;
// /context around an event; /timestamp_to_event both ways; redactions seen
// by everyone (event, messages, sync) and who may redact; history
// visibility (joined, shared, invited, world_readable).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, clientFor, login, rejects } from './lib/matrix.mjs';
import {
	bodies,
	eventually,
	quietLogger,
	rawMessages,
	rawSync,
	sendMany,
	sendText,
	startSyncing,
	stopAll,
	syncingUser,
	txnId,
	waitForEventId,
	waitForMembership,
	waitForMyMembership,
} from './lib/rooms.mjs';

const srv = useServer({ config: { rc_message: { per_second: 10000, burst_count: 10000 } } });
const enc = encodeURIComponent;

/** Follows /messages from `from` in direction dir until it ends; returns all events and the pages. */
async function paginateAll(user, roomId, dir, limit, from) {
	const events = [];
	const pages = [];
	let token = from;
	for (let i = 0; i < 1000; i++) {
		const res = await rawMessages(srv, user, roomId, { dir, limit, from: token });
		assert.equal(res.status, 200, res.text);
		const { chunk, start, end } = res.json;
		assert.ok(Array.isArray(chunk), 'chunk is an array');
		assert.equal(typeof start, 'string', 'start is a token');
		assert.ok(chunk.length <= limit, `at most limit (${limit}) events, got ${chunk.length}`);
		pages.push(chunk.length);
		events.push(...chunk);
		if (end === undefined) return { events, pages };
		assert.notEqual(end, token, 'the end token moves');
		token = end;
	}
	assert.fail('pagination did not end');
}

describe('history of a busy room', () => {
	const N = 1050;
	let alice, bob, roomId;
	let sentIds; // in groups of 50, in group order
	let serverOrder; // every event of the room, oldest first, from forward pagination

	before(async () => {
		alice = await syncingUser(srv, 'alice');
		bob = await syncingUser(srv, 'bob');
		({ room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat', name: 'Busy' }));
		await bob.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, bob.userId, 'join');
		const texts = Array.from({ length: N }, (_, i) => `msg ${String(i).padStart(4, '0')}`);
		sentIds = await sendMany(alice.client, roomId, texts, 50);
		assert.equal(new Set(sentIds).size, N, 'every send made a distinct event');
	});

	after(() => stopAll(alice?.client, bob?.client));

	// Spec: GET /rooms/{roomId}/messages, dir=f from the start of the room (no `from`):
	// every event once, oldest first; `end` leads on until it is omitted.
	it('forward pagination from the start returns every event once, create first', async () => {
		const { events, pages } = await paginateAll(bob, roomId, 'f', 100, undefined);
		assert.equal(events[0].type, 'm.room.create', 'the first event is the create event');
		const ids = events.map((e) => e.event_id);
		assert.equal(new Set(ids).size, ids.length, 'no duplicates');
		const msgIds = events.filter((e) => e.type === 'm.room.message').map((e) => e.event_id);
		assert.equal(msgIds.length, N, `all ${N} messages (pages: ${pages.join(',')})`);
		assert.deepEqual(new Set(msgIds), new Set(sentIds));
		// Sends were awaited group by group: the groups come in order, each one whole.
		for (let g = 0; g < N / 50; g++) {
			assert.deepEqual(new Set(msgIds.slice(g * 50, g * 50 + 50)), new Set(sentIds.slice(g * 50, g * 50 + 50)), `group ${g} is contiguous and in place`);
		}
		serverOrder = events;
	});

	// Spec: GET /rooms/{roomId}/messages dir=b limit=100 following `end`: the same
	// events, newest first, without a gap or a duplicate, ending at the create event.
	it('backward pagination (limit 100) has no gap, no duplicate and the exact reverse order', async () => {
		assert.ok(serverOrder, 'needs the forward pagination first');
		const { events, pages } = await paginateAll(bob, roomId, 'b', 100, undefined);
		assert.ok(pages.slice(0, -1).every((n) => n === 100), `full pages until the last: ${pages.join(',')}`);
		const ids = events.map((e) => e.event_id);
		assert.equal(new Set(ids).size, ids.length, 'no duplicates');
		assert.deepEqual(ids, serverOrder.map((e) => e.event_id).reverse(), 'exactly the reverse of the forward order');
		assert.equal(events.at(-1).type, 'm.room.create');
		// Timestamps never go backwards along the room's order.
		for (let i = 1; i < serverOrder.length; i++) {
			assert.ok(serverOrder[i].origin_server_ts >= serverOrder[i - 1].origin_server_ts, `ts order at ${i}`);
		}
	});

	// Spec: /messages with `to`: pagination stops at that token; a page in the
	// middle of the room joins up with its neighbours.
	it('a token from the middle paginates both ways without overlap', async () => {
		const res = await rawMessages(srv, bob, roomId, { dir: 'b', limit: 300 });
		assert.equal(res.status, 200, res.text);
		const mid = res.json.end;
		const older = await rawMessages(srv, bob, roomId, { dir: 'b', limit: 5, from: mid });
		const newer = await rawMessages(srv, bob, roomId, { dir: 'f', limit: 5, from: mid });
		const order = serverOrder.map((e) => e.event_id);
		const at = order.indexOf(res.json.chunk.at(-1).event_id);
		assert.deepEqual(older.json.chunk.map((e) => e.event_id), order.slice(at - 5, at).reverse(), 'the 5 events before the page');
		assert.deepEqual(newer.json.chunk.map((e) => e.event_id), order.slice(at, at + 5), 'forward from the same token starts with the page\'s oldest event');
		// `to` bounds a pagination.
		const page2 = await rawMessages(srv, bob, roomId, { dir: 'b', limit: 200, from: mid });
		const bounded = await rawMessages(srv, bob, roomId, { dir: 'f', limit: 1000, from: page2.json.end, to: mid });
		assert.equal(bounded.status, 200, bounded.text);
		assert.deepEqual(bounded.json.chunk.map((e) => e.event_id), page2.json.chunk.map((e) => e.event_id).reverse(), 'dir=f from one token to another: exactly the events between');
	});

	// Spec: the SDK's scrollback (GET /messages from the timeline's prev_batch): a new
	// client with initialSyncLimit 20 scrolls back through the whole room.
	it('client.scrollback walks back through the whole room in order', async () => {
		const fresh = await login(srv, 'bob', 'bob-password');
		const client = clientFor(srv, { ...fresh, clientOpts: quietLogger ? { logger: quietLogger } : {} });
		try {
			await startSyncing(client);
			const room = client.getRoom(roomId);
			assert.ok(room, 'the room is in the first sync');
			const initial = room.getLiveTimeline().getEvents().length;
			assert.ok(initial <= 21, `the initial sync has about initialSyncLimit events, got ${initial}`);
			for (let i = 0; i < 40 && room.oldState.paginationToken !== null; i++) {
				await client.scrollback(room, 100);
				if (room.getLiveTimeline().getEvents()[0]?.getType() === 'm.room.create') break;
			}
			const got = room.getLiveTimeline().getEvents().map((e) => e.getId());
			assert.deepEqual(got, serverOrder.map((e) => e.event_id).slice(-got.length), 'the SDK timeline is the room\'s order');
			assert.equal(got.length, serverOrder.length, 'scrolled back to the create event');
		} finally {
			client.stopClient();
		}
	});

	// Spec: GET /rooms/{roomId}/context/{eventId}: limit split between events_before
	// (reverse-chronological) and events_after (chronological); start and end paginate on.
	it('context around an event', async () => {
		const order = serverOrder.map((e) => e.event_id);
		const target = sentIds[500];
		const at = order.indexOf(target);
		const res = await api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc(target)}?limit=10`, { token: bob.accessToken });
		assert.equal(res.status, 200, res.text);
		const { event, events_before: before, events_after: afterEvs, start, end, state } = res.json;
		assert.equal(event.event_id, target);
		assert.equal(event.content.body, serverOrder[at].content.body);
		assert.equal(before.length + afterEvs.length, 10, 'the limit applies to the sum');
		assert.ok(before.length >= 4 && afterEvs.length >= 4, `split both ways: ${before.length}/${afterEvs.length}`);
		assert.deepEqual(before.map((e) => e.event_id), order.slice(at - before.length, at).reverse(), 'events_before, newest first');
		assert.deepEqual(afterEvs.map((e) => e.event_id), order.slice(at + 1, at + 1 + afterEvs.length), 'events_after, oldest first');
		assert.ok(Array.isArray(state) && state.some((e) => e.type === 'm.room.create'), 'the state at the event');
		const olderPage = await rawMessages(srv, bob, roomId, { dir: 'b', limit: 3, from: start });
		assert.deepEqual(olderPage.json.chunk.map((e) => e.event_id), order.slice(at - before.length - 3, at - before.length).reverse(), 'dir=b from start continues before events_before');
		const newerPage = await rawMessages(srv, bob, roomId, { dir: 'f', limit: 3, from: end });
		assert.deepEqual(newerPage.json.chunk.map((e) => e.event_id), order.slice(at + 1 + afterEvs.length, at + 4 + afterEvs.length), 'dir=f from end continues after events_after');
		// limit=0: only the event.
		const zero = await api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc(target)}?limit=0`, { token: bob.accessToken });
		assert.equal(zero.status, 200, zero.text);
		assert.equal(zero.json.event.event_id, target);
		assert.equal(zero.json.events_before.length + zero.json.events_after.length, 0);
		// An unknown event is 404.
		const missing = await api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc('$nosuchevent')}`, { token: bob.accessToken });
		assert.equal(missing.status, 404, missing.text);
	});

	// Spec: GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event, dir=f: the first
	// event at or after ts; dir=b: the last event at or before ts; 404 when there is none.
	it('timestamp_to_event in both directions', async () => {
		const order = serverOrder;
		const mid = order[Math.floor(order.length / 2)];
		const ts = mid.origin_server_ts;
		const tte = (t, dir) => bob.client.timestampToEvent(roomId, t, dir);
		const fwd = await tte(ts, 'f');
		const firstAtOrAfter = order.find((e) => e.origin_server_ts >= ts);
		assert.equal(fwd.event_id, firstAtOrAfter.event_id, 'dir=f: the first event at or after ts');
		assert.equal(fwd.origin_server_ts, firstAtOrAfter.origin_server_ts);
		const bwd = await tte(ts, 'b');
		const lastAtOrBefore = order.findLast((e) => e.origin_server_ts <= ts);
		assert.equal(bwd.event_id, lastAtOrBefore.event_id, 'dir=b: the last event at or before ts');
		// Between two events: f gives the later, b the earlier.
		const i = order.findIndex((e, k) => k > 0 && e.origin_server_ts > order[k - 1].origin_server_ts + 1);
		if (i > 0) {
			const gap = order[i - 1].origin_server_ts + 1;
			assert.equal((await tte(gap, 'f')).event_id, order[i].event_id);
			assert.equal((await tte(gap, 'b')).event_id, order[i - 1].event_id);
		}
		await rejects(tte(order[0].origin_server_ts - 60_000, 'b'), 404, 'M_NOT_FOUND');
		await rejects(tte(Date.now() + 3_600_000, 'f'), 404, 'M_NOT_FOUND');
		const bad = await api(srv, 'GET', `/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=${ts}&dir=x`, { token: bob.accessToken });
		assert.equal(bad.status, 400, bad.text);
	});
});

describe('redactions', () => {
	let alice, bob, carol, roomId;

	before(async () => {
		alice = await syncingUser(srv, 'ralice');
		bob = await syncingUser(srv, 'rbob');
		carol = await syncingUser(srv, 'rcarol');
		({ room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat' }));
		await bob.client.joinRoom(roomId);
		await carol.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, carol.userId, 'join');
		await waitForMembership(bob.client, roomId, carol.userId, 'join');
	});

	after(() => stopAll(alice?.client, bob?.client, carol?.client));

	function checkRedacted(ev, redactionId, what) {
		assert.deepEqual(ev.content, {}, `${what}: content is gone`);
		assert.equal(ev.unsigned?.redacted_because?.event_id, redactionId, `${what}: unsigned.redacted_because`);
		assert.equal(ev.unsigned.redacted_because.type, 'm.room.redaction');
	}

	// Spec: "Redactions" and PUT /rooms/{roomId}/redact/{eventId}/{txnId}: the redacted
	// event loses its content for everyone: GET /event, /messages and the others' /sync,
	// with unsigned.redacted_because.
	it('a redacted message loses its content everywhere', async () => {
		const since = (await rawSync(srv, bob, { timeout: 0 })).next_batch;
		const id = await sendText(alice.client, roomId, 'oops, my password is hunter2');
		await waitForEventId(bob.client, roomId, id);
		const { event_id: redactionId } = await alice.client.redactEvent(roomId, id, txnId('redact'), { reason: 'secret' });

		// Bob's SDK applies the redaction it gets through sync.
		await eventually(() => bob.client.getRoom(roomId).findEventById(id)?.isRedacted(), 5000, 'the redaction in bob\'s SDK');
		assert.equal(bob.client.getRoom(roomId).findEventById(id).getContent().body, undefined);

		const viaEvent = await bob.client.fetchRoomEvent(roomId, id);
		checkRedacted(viaEvent, redactionId, '/event');
		assert.equal(viaEvent.unsigned.redacted_because.content.reason, 'secret');
		assert.equal(viaEvent.unsigned.redacted_because.sender, alice.userId);

		const msgs = await rawMessages(srv, carol, roomId, { dir: 'b', limit: 10 });
		checkRedacted(msgs.json.chunk.find((e) => e.event_id === id), redactionId, '/messages');
		const red = msgs.json.chunk.find((e) => e.event_id === redactionId);
		assert.equal(red.redacts, id, 'the redaction names its target');

		const s = await rawSync(srv, bob, { since, timeout: 0 });
		const tl = s.rooms.join[roomId].timeline.events;
		checkRedacted(tl.find((e) => e.event_id === id), redactionId, 'bob\'s /sync');
		assert.ok(tl.some((e) => e.event_id === redactionId && e.type === 'm.room.redaction'));
		// A fresh initial sync serves it redacted too.
		const init = await rawSync(srv, carol, { filter: { room: { timeline: { limit: 50 } } } });
		checkRedacted(init.rooms.join[roomId].timeline.events.find((e) => e.event_id === id), redactionId, 'initial /sync');
	});

	// Spec: m.room.redaction / "Redactions": only the sender, or a user with at least the
	// redact power level, may redact another user's event (403 M_FORBIDDEN otherwise).
	it('only the sender or someone with redact power can redact', async () => {
		const aliceMsg = await sendText(alice.client, roomId, 'alice speaks');
		const bobMsg = await sendText(bob.client, roomId, 'bob speaks');
		await rejects(bob.client.redactEvent(roomId, aliceMsg, txnId('r')), 403, 'M_FORBIDDEN');
		await rejects(carol.client.redactEvent(roomId, bobMsg, txnId('r')), 403, 'M_FORBIDDEN');
		const still = await carol.client.fetchRoomEvent(roomId, aliceMsg);
		assert.equal(still.content.body, 'alice speaks', 'the refused redaction changed nothing');
		assert.equal(still.unsigned?.redacted_because, undefined);

		// Bob may redact his own event.
		await bob.client.redactEvent(roomId, bobMsg, txnId('r'));
		assert.deepEqual((await carol.client.fetchRoomEvent(roomId, bobMsg)).content, {});

		// With the redact level (50), carol may redact alice's message.
		await alice.client.setPowerLevel(roomId, carol.userId, 50);
		await eventually(() => carol.client.getRoom(roomId).getMember(carol.userId)?.powerLevel === 50, 5000, 'carol\'s new power level');
		await carol.client.redactEvent(roomId, aliceMsg, txnId('r'));
		assert.deepEqual((await bob.client.fetchRoomEvent(roomId, aliceMsg)).content, {});
	});
});

describe('history visibility', () => {
	let alice, bob;

	before(async () => {
		alice = await syncingUser(srv, 'valice');
		bob = await syncingUser(srv, 'vbob');
	});

	after(() => stopAll(alice?.client, bob?.client));

	async function roomWith(visibility, preset = 'public_chat') {
		const { room_id: roomId } = await alice.client.createRoom({
			preset,
			initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: visibility } }],
		});
		return roomId;
	}

	async function visibleBodies(user, roomId) {
		const res = await rawMessages(srv, user, roomId, { dir: 'b', limit: 100 });
		assert.equal(res.status, 200, res.text);
		return bodies(res.json.chunk).reverse();
	}

	// Spec: "Room History Visibility", joined: events are accessible from the point the
	// user joined; not in /messages, /sync or /event before that.
	it('joined: a later member sees nothing from before their join', async () => {
		const roomId = await roomWith('joined');
		const early = await sendText(alice.client, roomId, 'before bob');
		await bob.client.joinRoom(roomId);
		await waitForMyMembership(bob.client, roomId, 'join');
		const late = await sendText(alice.client, roomId, 'after bob');
		await waitForEventId(bob.client, roomId, late);
		assert.deepEqual(await visibleBodies(bob, roomId), ['after bob']);
		assert.deepEqual(await visibleBodies(alice, roomId), ['before bob', 'after bob']);
		const init = await rawSync(srv, bob, { filter: { room: { timeline: { limit: 50 } } } });
		assert.deepEqual(bodies(init.rooms.join[roomId].timeline.events), ['after bob'], 'initial sync');
		assert.ok(!bob.client.getRoom(roomId).getLiveTimeline().getEvents().some((e) => e.getId() === early), 'not in the SDK');
		await rejects(bob.client.fetchRoomEvent(roomId, early), 404, 'M_NOT_FOUND');
		// /context of a visible event hides the invisible ones around it.
		const ctx = await api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc(late)}?limit=20`, { token: bob.accessToken });
		assert.equal(ctx.status, 200, ctx.text);
		assert.deepEqual(bodies(ctx.json.events_before), []);
	});

	// Spec: shared: "all events in the room are accessible, even those sent when the
	// member was not a part of the room" (once they join).
	it('shared: a later member sees the earlier messages', async () => {
		const roomId = await roomWith('shared');
		await sendText(alice.client, roomId, 'shared 1');
		await sendText(alice.client, roomId, 'shared 2');
		await bob.client.joinRoom(roomId);
		await waitForMyMembership(bob.client, roomId, 'join');
		assert.deepEqual(await visibleBodies(bob, roomId), ['shared 1', 'shared 2']);
		await eventually(() => bodies(bob.client.getRoom(roomId).getLiveTimeline().getEvents()).includes('shared 1'), 5000, 'the earlier messages in the SDK');
	});

	// Spec: invited: "accessible to newly joined members from the point they were invited onwards".
	it('invited: a member sees from their invite on', async () => {
		const roomId = await roomWith('invited', 'private_chat');
		await sendText(alice.client, roomId, 'before the invite');
		await alice.client.invite(roomId, bob.userId);
		await sendText(alice.client, roomId, 'after the invite');
		await waitForMyMembership(bob.client, roomId, 'invite');
		await bob.client.joinRoom(roomId);
		await waitForMyMembership(bob.client, roomId, 'join');
		await sendText(alice.client, roomId, 'after the join');
		assert.deepEqual(await visibleBodies(bob, roomId), ['after the invite', 'after the join']);
	});

	// Spec: world_readable: anyone may read /messages and /state without joining (and
	// without any membership); a non-member cannot read a shared room.
	it('world_readable lets a non-member read /messages and /state', async () => {
		const roomId = await roomWith('world_readable');
		await sendText(alice.client, roomId, 'for the world');
		assert.deepEqual(await visibleBodies(bob, roomId), ['for the world']);
		const state = await bob.client.roomState(roomId);
		assert.ok(state.some((e) => e.type === 'm.room.history_visibility' && e.content.history_visibility === 'world_readable'));
		assert.ok(state.some((e) => e.type === 'm.room.create'));
		const members = await bob.client.members(roomId);
		assert.deepEqual(members.chunk.map((e) => e.state_key), [alice.userId]);

		const privateRoom = await roomWith('shared');
		await sendText(alice.client, privateRoom, 'not for bob');
		const res = await rawMessages(srv, bob, privateRoom, { dir: 'b' });
		assert.equal(res.status, 403, res.text);
		await rejects(bob.client.roomState(privateRoom), 403, 'M_FORBIDDEN');
		// Bob is still no member of either room.
		assert.ok(!(await bob.client.getJoinedRooms()).joined_rooms.includes(roomId));
	});

	// Spec: "Room History Visibility": an m.room.history_visibility event is visible if the
	// setting before *or* after it allows (shared -> joined is seen by a later member).
	it('a history_visibility change is visible under the setting before it', async () => {
		const roomId = await roomWith('shared');
		await sendText(alice.client, roomId, 'while shared');
		const { event_id: hvId } = await alice.client.sendStateEvent(roomId, 'm.room.history_visibility', { history_visibility: 'joined' }, '');
		await sendText(alice.client, roomId, 'while joined-only');
		await bob.client.joinRoom(roomId);
		await waitForMyMembership(bob.client, roomId, 'join');
		const res = await rawMessages(srv, bob, roomId, { dir: 'b', limit: 50 });
		const ids = res.json.chunk.map((e) => e.event_id);
		assert.ok(ids.includes(hvId), 'the change to joined is visible: shared allowed it before');
		assert.deepEqual(bodies(res.json.chunk).reverse(), ['while shared'], 'messages follow the setting of their time');
	});

	// Spec: POST /rooms/{roomId}/forget: "a user will no longer be able to retrieve history
	// for this room".
	it('after forgetting, the history is no longer readable', async () => {
		const roomId = await roomWith('shared');
		await bob.client.joinRoom(roomId);
		await waitForMyMembership(bob.client, roomId, 'join');
		const id = await sendText(alice.client, roomId, 'remember me');
		await bob.client.leave(roomId);
		await waitForMyMembership(bob.client, roomId, 'leave');
		assert.deepEqual(await visibleBodies(bob, roomId), ['remember me'], 'readable after leaving');
		await bob.client.forget(roomId, false);
		const res = await rawMessages(srv, bob, roomId, { dir: 'b' });
		assert.equal(res.status, 403, `messages after forget: ${res.status} ${res.text}`);
		await rejects(bob.client.fetchRoomEvent(roomId, id), [403, 404]);
		await rejects(bob.client.roomState(roomId), 403);
		// Rejoining makes the room readable again.
		await bob.client.joinRoom(roomId);
		await waitForMyMembership(bob.client, roomId, 'join');
		assert.ok((await visibleBodies(bob, roomId)).includes('remember me'));
	});

	// Spec: "Room History Visibility": shared history is for members who join; a user who
	// was only invited and rejected sees none of it, in /sync's rooms.leave either.
	it('a rejected invite shows no room history', async () => {
		const roomId = await roomWith('shared', 'private_chat');
		const since = (await rawSync(srv, bob, { timeout: 0 })).next_batch;
		await alice.client.invite(roomId, bob.userId);
		await sendText(alice.client, roomId, 'secret while bob is invited');
		await waitForMyMembership(bob.client, roomId, 'invite');
		await bob.client.leave(roomId);
		const s = await rawSync(srv, bob, { since, timeout: 0 });
		const left = s.rooms.leave[roomId];
		assert.ok(left, 'the rejected invite is in rooms.leave');
		assert.deepEqual(bodies(left.timeline.events), [], `no messages: ${JSON.stringify(left.timeline.events.map((e) => e.type))}`);
		assert.ok(left.timeline.events.some((e) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'leave'));
		assert.deepEqual(await visibleBodies(bob, roomId), []);
		const init = await rawSync(srv, bob, { filter: { room: { include_leave: true } } });
		assert.deepEqual(bodies(init.rooms.leave[roomId]?.timeline.events ?? []), [], 'nor with include_leave');
	});

	// Spec: "After a user has left a room, they may see any events which they were allowed
	// to see before they left the room, but no events received after they left."
	it('after leaving, later messages are not visible', async () => {
		const roomId = await roomWith('shared');
		await bob.client.joinRoom(roomId);
		await waitForMyMembership(bob.client, roomId, 'join');
		await sendText(alice.client, roomId, 'while bob is here');
		await bob.client.leave(roomId);
		await waitForMembership(alice.client, roomId, bob.userId, 'leave');
		await sendText(alice.client, roomId, 'after bob left');
		assert.deepEqual(await visibleBodies(bob, roomId), ['while bob is here']);
		const state = await bob.client.roomState(roomId);
		assert.equal(state.find((e) => e.type === 'm.room.member' && e.state_key === bob.userId).content.membership, 'leave', 'the state at the leave');
	});
});
