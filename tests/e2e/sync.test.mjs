// SPDX-License-Identifier: Apache-2.0
//
// GET /sync in detail: incremental syncs return only what is new; a
// long-poll returns as soon as something happens; limited timelines with a
// prev_batch that fills the gap; lazy-loaded members; full_state;
// use_state_after (MSC4222, stable and unstable names); filters by id;
// invites, leaves and kicks; and the SDK's own sync loop receiving a burst
// of messages in order.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, clientFor, login } from './lib/matrix.mjs';
import {
	bodies,
	quietLogger,
	startSyncing,
	rawMessages,
	rawSync,
	sendMany,
	sendText,
	sleep,
	stopAll,
	syncingUser,
	waitForEventId,
	waitForMembership,
	waitForMyMembership,
	waitForTimelineEvent,
} from './lib/rooms.mjs';

const srv = useServer({ config: { rc_message: { per_second: 10000, burst_count: 10000 } } });

const now = async (user) => (await rawSync(srv, user, { timeout: 0 })).next_batch;
const stateKeys = (events) => events.map((e) => `${e.type}|${e.state_key}`).sort();

describe('sync', () => {
	let alice, bob, carol, dave;

	before(async () => {
		alice = await syncingUser(srv, 'alice');
		bob = await syncingUser(srv, 'bob');
		carol = await syncingUser(srv, 'carol');
		dave = await syncingUser(srv, 'dave');
	});

	after(() => stopAll(alice?.client, bob?.client, carol?.client, dave?.client));

	/** A public room alice made, with the given users joined (seen by alice). */
	async function room(...members) {
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat', name: 'sync room' });
		for (const u of members) {
			await u.client.joinRoom(roomId);
			await waitForMembership(alice.client, roomId, u.userId, 'join');
		}
		return roomId;
	}

	// Spec: GET /sync with `since`: "only events after this point"; rooms without
	// changes are left out; next_batch moves on.
	it('an incremental sync returns only the new events', async () => {
		const roomId = await room(bob);
		const other = await room(bob);
		await sendText(alice.client, roomId, 'old');
		const since = await now(bob);
		await sendMany(alice.client, roomId, ['new 1', 'new 2', 'new 3'], 1);
		const s = await rawSync(srv, bob, { since, timeout: 0 });
		const joined = s.rooms.join[roomId];
		assert.ok(joined, 'the room with news is there');
		assert.deepEqual(bodies(joined.timeline.events), ['new 1', 'new 2', 'new 3']);
		assert.equal(joined.timeline.limited, false);
		assert.deepEqual(joined.state.events, [], 'no state change to report');
		assert.ok(!(other in s.rooms.join), 'a room without news is left out');
		assert.notEqual(s.next_batch, since);
		// Nothing new since then: no rooms at all.
		const again = await rawSync(srv, bob, { since: s.next_batch, timeout: 0 });
		assert.deepEqual(Object.keys(again.rooms.join), []);
		assert.equal(typeof again.next_batch, 'string');
		// The same since token gives the same answer again (sync is idempotent).
		const replay = await rawSync(srv, bob, { since, timeout: 0 });
		assert.deepEqual(bodies(replay.rooms.join[roomId].timeline.events), ['new 1', 'new 2', 'new 3']);
	});

	// Spec: GET /sync `timeout`: the server waits for new events up to timeout ms and
	// returns as soon as there are some.
	it('a long-poll returns within a second of a message', async () => {
		const roomId = await room(bob);
		const since = await now(bob);
		const started = Date.now();
		const poll = rawSync(srv, bob, { since, timeout: 30000 });
		await sleep(400);
		const sentAt = Date.now();
		const id = await sendText(alice.client, roomId, 'wake up');
		const s = await poll;
		const done = Date.now();
		assert.ok(done - started >= 350, `the long-poll waited (${done - started} ms)`);
		assert.ok(done - sentAt < 2000, `returned ${done - sentAt} ms after the send`);
		assert.deepEqual(s.rooms.join[roomId].timeline.events.map((e) => e.event_id), [id]);

		// With nothing to report it answers after the timeout, with a usable token.
		const t0 = Date.now();
		const idle = await rawSync(srv, bob, { since: s.next_batch, timeout: 500 });
		const took = Date.now() - t0;
		assert.ok(took >= 450 && took < 3000, `an idle long-poll takes about its timeout (${took} ms)`);
		assert.deepEqual(Object.keys(idle.rooms.join), []);
		const later = await sendText(alice.client, roomId, 'later');
		const next = await rawSync(srv, bob, { since: idle.next_batch, timeout: 0 });
		assert.deepEqual(next.rooms.join[roomId].timeline.events.map((e) => e.event_id), [later]);
	});

	// Spec: a long-poll is woken by an invite, too (rooms.invite with invite_state).
	it('an invite wakes a long-poll and shows in rooms.invite with invite_state', async () => {
		const since = await now(carol);
		const poll = rawSync(srv, carol, { since, timeout: 30000 });
		await sleep(200);
		const t0 = Date.now();
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'private_chat', name: 'Invitation', topic: 'come in' });
		await alice.client.invite(roomId, carol.userId);
		let s = await poll;
		// The create may have woken nobody; the invite must.
		if (!s.rooms.invite[roomId]) s = await rawSync(srv, carol, { since: s.next_batch, timeout: 30000 });
		assert.ok(Date.now() - t0 < 2000, 'the invite arrived promptly');
		const inv = s.rooms.invite[roomId];
		assert.ok(inv, `rooms.invite has the room: ${JSON.stringify(s.rooms)}`);
		const st = inv.invite_state.events;
		const find = (type, key = '') => st.find((e) => e.type === type && e.state_key === key);
		assert.equal(find('m.room.name').content.name, 'Invitation');
		assert.equal(find('m.room.topic').content.topic, 'come in');
		assert.equal(find('m.room.join_rules').content.join_rule, 'invite');
		assert.ok(find('m.room.create'), 'the create event is in invite_state');
		const me = find('m.room.member', carol.userId);
		assert.equal(me.content.membership, 'invite');
		assert.equal(me.sender, alice.userId);
		for (const e of st) assert.equal(typeof e.sender, 'string', 'stripped events have a sender');
		assert.ok(!(roomId in s.rooms.join));
		// The invited room is not readable yet: no timeline leaks.
		assert.equal(inv.timeline, undefined);
		await carol.client.leave(roomId);
	});

	// Spec: "Redactions": a redacted state event keeps only the protected keys, for every
	// reader, including the stripped state of an invite (m.room.name loses its name).
	it('invite_state shows a redacted room name as redacted', async () => {
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'private_chat', name: 'Codename Falcon' });
		const nameEv = await alice.client.getStateEvent(roomId, 'm.room.name', '');
		assert.equal(nameEv.name, 'Codename Falcon');
		const full = (await alice.client.roomState(roomId)).find((e) => e.type === 'm.room.name');
		await alice.client.redactEvent(roomId, full.event_id, `r-${Date.now()}`);
		assert.deepEqual(await alice.client.getStateEvent(roomId, 'm.room.name', ''), {}, 'the state API serves it redacted');
		const since = await now(carol);
		await alice.client.invite(roomId, carol.userId);
		const s = await rawSync(srv, carol, { since, timeout: 0 });
		const name = s.rooms.invite[roomId].invite_state.events.find((e) => e.type === 'm.room.name');
		assert.equal(name?.content?.name, undefined, `the invite does not leak the redacted name: ${JSON.stringify(name)}`);
		await carol.client.leave(roomId);
	});

	// Spec: "Syncing": limited timelines: with a timeline limit of 5 and 20 new messages,
	// limited is true and prev_batch, given to /messages, returns the gap.
	it('a limited timeline has limited: true and a prev_batch that fills the gap', async () => {
		const roomId = await room(bob);
		const since = await now(bob);
		const texts = Array.from({ length: 20 }, (_, i) => `burst ${i}`);
		const ids = await sendMany(alice.client, roomId, texts, 1);
		const s = await rawSync(srv, bob, { since, timeout: 0, filter: { room: { timeline: { limit: 5 } } } });
		const tl = s.rooms.join[roomId].timeline;
		assert.equal(tl.limited, true);
		assert.deepEqual(tl.events.map((e) => e.event_id), ids.slice(15));
		assert.equal(typeof tl.prev_batch, 'string');
		const gap = await rawMessages(srv, bob, roomId, { dir: 'b', from: tl.prev_batch, limit: 15 });
		assert.equal(gap.status, 200, gap.text);
		assert.deepEqual(gap.json.chunk.map((e) => e.event_id), ids.slice(0, 15).reverse(), 'the 15 missing messages, no gap, no overlap');
		// Not limited when everything fits.
		const since2 = s.next_batch;
		const two = await sendMany(alice.client, roomId, ['a', 'b'], 1);
		const s2 = await rawSync(srv, bob, { since: since2, timeout: 0, filter: { room: { timeline: { limit: 5 } } } });
		assert.equal(s2.rooms.join[roomId].timeline.limited, false);
		assert.deepEqual(s2.rooms.join[roomId].timeline.events.map((e) => e.event_id), two);
		// The prev_batch of an unlimited timeline leads to the events just before it.
		const before = await rawMessages(srv, bob, roomId, { dir: 'b', from: s2.rooms.join[roomId].timeline.prev_batch, limit: 1 });
		assert.equal(before.json.chunk[0].event_id, ids[19]);
	});

	// Spec: "Syncing": a state change in the gap of a limited timeline is in `state`
	// (state up to the start of the timeline).
	it('a state change hidden by a limited timeline comes in `state`', async () => {
		const roomId = await room(bob);
		const since = await now(bob);
		await sendMany(alice.client, roomId, Array.from({ length: 6 }, (_, i) => `pre ${i}`), 1);
		await alice.client.setRoomTopic(roomId, 'changed in the gap');
		await sendMany(alice.client, roomId, Array.from({ length: 6 }, (_, i) => `post ${i}`), 1);
		const s = await rawSync(srv, bob, { since, timeout: 0, filter: { room: { timeline: { limit: 3 } } } });
		const j = s.rooms.join[roomId];
		assert.equal(j.timeline.limited, true);
		assert.ok(!j.timeline.events.some((e) => e.type === 'm.room.topic'));
		const topic = j.state.events.find((e) => e.type === 'm.room.topic');
		assert.equal(topic?.content.topic, 'changed in the gap', `state: ${JSON.stringify(j.state.events)}`);
		assert.ok(!j.state.events.some((e) => e.type === 'm.room.create'), 'only what changed, not the whole state');
	});

	// Spec: "Lazy-loading room members": with lazy_load_members the state has only the
	// member events of the timeline's senders (and the user's own).
	it('lazy_load_members sends only the members the timeline needs', async () => {
		const roomId = await room(bob, carol, dave);
		await sendMany(carol.client, roomId, ['c1', 'c2', 'c3'], 1);
		const lazy = { room: { timeline: { limit: 3 }, state: { lazy_load_members: true } } };
		const s = await rawSync(srv, bob, { filter: lazy });
		const members = s.rooms.join[roomId].state.events.filter((e) => e.type === 'm.room.member').map((e) => e.state_key).sort();
		assert.deepEqual(members, [bob.userId, carol.userId].sort(), 'only carol (the sender) and bob (the user)');
		assert.ok(s.rooms.join[roomId].state.events.some((e) => e.type === 'm.room.create'), 'other state is all there');
		// The summary still counts everyone.
		assert.equal(s.rooms.join[roomId].summary['m.joined_member_count'], 4);

		const full = await rawSync(srv, bob, { filter: { room: { timeline: { limit: 3 } } } });
		const all = full.rooms.join[roomId].state.events.filter((e) => e.type === 'm.room.member').map((e) => e.state_key);
		assert.deepEqual(all.sort(), [alice.userId, bob.userId, carol.userId, dave.userId].sort(), 'without lazy loading: every member');

		// Incremental: a new sender's member event comes with its message.
		const id = await sendText(dave.client, roomId, 'dave talks');
		const inc = await rawSync(srv, bob, { since: s.next_batch, timeout: 0, filter: lazy });
		const j = inc.rooms.join[roomId];
		assert.deepEqual(j.timeline.events.map((e) => e.event_id), [id]);
		const incMembers = [...j.state.events, ...j.timeline.events].filter((e) => e.type === 'm.room.member').map((e) => e.state_key);
		assert.ok(incMembers.includes(dave.userId), `dave's member event is sent for his message: ${JSON.stringify(j.state.events)}`);

		// /messages with lazy loading returns the senders' member events in `state`.
		const msgs = await rawMessages(srv, bob, roomId, { dir: 'b', limit: 2, filter: { lazy_load_members: true } });
		assert.equal(msgs.status, 200, msgs.text);
		const msgMembers = (msgs.json.state ?? []).map((e) => e.state_key).sort();
		assert.deepEqual(msgMembers, [carol.userId, dave.userId].sort());
	});

	// Spec: "Lazy-loading room members" with the SDK: startClient({ lazyLoadMembers })
	// syncs with lazy_load_members, then Room.loadMembersIfNeeded() fetches the rest
	// through GET /members?at=<sync token>&not_membership=leave.
	it('the SDK with lazyLoadMembers loads the full member list on demand', async () => {
		const roomId = await room(bob, carol, dave);
		await sendMany(carol.client, roomId, ['lazy 1', 'lazy 2'], 1);
		const fresh = await login(srv, 'bob', 'bob-password');
		const client = clientFor(srv, { ...fresh, clientOpts: quietLogger ? { logger: quietLogger } : {} });
		try {
			await startSyncing(client, { lazyLoadMembers: true, initialSyncLimit: 2 });
			const r = client.getRoom(roomId);
			const known = r.currentState.getMembers().map((m) => m.userId).sort();
			assert.deepEqual(known, [bob.userId, carol.userId].sort(), 'only the senders and bob before loading');
			assert.equal(r.getJoinedMemberCount(), 4, 'the summary counts everyone');
			await r.loadMembersIfNeeded();
			assert.deepEqual(r.getJoinedMembers().map((m) => m.userId).sort(), [alice.userId, bob.userId, carol.userId, dave.userId].sort());
		} finally {
			client.stopClient();
		}
	});

	// Spec: GET /sync full_state=true: all state of every room even with `since`.
	it('full_state returns the whole state with a since token', async () => {
		const roomId = await room(bob);
		await alice.client.setRoomTopic(roomId, 'topic for full state');
		const since = await now(bob);
		const s = await rawSync(srv, bob, { since, timeout: 0, full_state: true });
		const j = s.rooms.join[roomId];
		assert.ok(j, 'the room is there even without news');
		const keys = stateKeys([...j.state.events, ...j.timeline.events.filter((e) => e.state_key !== undefined)]);
		for (const k of ['m.room.create|', 'm.room.power_levels|', 'm.room.join_rules|', 'm.room.name|', 'm.room.topic|', `m.room.member|${alice.userId}`, `m.room.member|${bob.userId}`]) {
			assert.ok(keys.includes(k), `${k} in full_state: ${keys.join(', ')}`);
		}
		// full_state with a long timeout answers at once.
		const t0 = Date.now();
		await rawSync(srv, bob, { since: s.next_batch, timeout: 5000, full_state: true });
		assert.ok(Date.now() - t0 < 1500, 'full_state does not wait');
	});

	// Spec: GET /sync use_state_after (MSC4222, unstable org.matrix.msc4222.use_state_after):
	// state_after is the state at the end of the timeline and `state` is omitted.
	for (const [param, key] of [
		['org.matrix.msc4222.use_state_after', 'org.matrix.msc4222.state_after'],
		['use_state_after', 'state_after'],
	]) {
		it(`${param} returns ${key} instead of state`, async () => {
			const roomId = await room(bob);
			await alice.client.setRoomTopic(roomId, 'before');
			const s0 = await rawSync(srv, bob, { [param]: true, filter: { room: { timeline: { limit: 2 } } } });
			const j0 = s0.rooms.join[roomId];
			assert.equal(j0.state, undefined, '`state` is omitted');
			assert.ok(Array.isArray(j0[key]?.events), `${key} is there`);
			const keys0 = stateKeys(j0[key].events);
			assert.ok(keys0.includes('m.room.topic|') && keys0.includes('m.room.create|'), 'the initial state_after has all the state, timeline ones too');
			assert.equal(j0[key].events.find((e) => e.type === 'm.room.topic').content.topic, 'before');

			// Incremental: a topic change in the timeline is in state_after too.
			await alice.client.setRoomTopic(roomId, 'after');
			await sendText(alice.client, roomId, 'last');
			const s1 = await rawSync(srv, bob, { [param]: true, since: s0.next_batch, timeout: 0 });
			const j1 = s1.rooms.join[roomId];
			assert.equal(j1.state, undefined);
			assert.deepEqual(stateKeys(j1[key].events), ['m.room.topic|'], 'only what changed');
			assert.equal(j1[key].events[0].content.topic, 'after');
			// Nothing changed: present and empty.
			await sendText(alice.client, roomId, 'one more');
			const s2 = await rawSync(srv, bob, { [param]: true, since: s1.next_batch, timeout: 0 });
			assert.deepEqual(s2.rooms.join[roomId][key].events, []);
		});
	}

	// Spec: POST /user/{userId}/filter, then GET /sync?filter=<filter_id>.
	it('a filter created with createFilter works by id', async () => {
		const roomId = await room(bob);
		await alice.client.setRoomTopic(roomId, 'not a message');
		await sendMany(alice.client, roomId, ['m1', 'm2', 'm3'], 1);
		await alice.client.setRoomName(roomId, 'renamed');
		const filter = await bob.client.createFilter({ room: { timeline: { limit: 2, types: ['m.room.message'] }, rooms: [roomId] }, presence: { types: [] } });
		assert.match(filter.filterId, /^[^{]/, 'a filter id');
		const s = await rawSync(srv, bob, { filter: filter.filterId });
		assert.deepEqual(Object.keys(s.rooms.join), [roomId], 'only the filtered room');
		const tl = s.rooms.join[roomId].timeline;
		assert.deepEqual(bodies(tl.events), ['m2', 'm3']);
		assert.ok(tl.events.every((e) => e.type === 'm.room.message'));
		assert.equal(tl.limited, true);
		// An unknown filter id is refused.
		const bad = await api(srv, 'GET', '/_matrix/client/v3/sync?filter=987654', { token: bob.accessToken });
		assert.equal(bad.status, 400, bad.text);
		// Another user's filter id is not usable.
		const stolen = await api(srv, 'GET', `/_matrix/client/v3/sync?filter=${filter.filterId}&timeout=0`, { token: carol.accessToken });
		if (stolen.status === 200) assert.ok(!(roomId in stolen.json.rooms.join), 'carol does not get bob\'s filter');
	});

	// Spec: "Syncing": after leaving, the room shows in rooms.leave (incremental sync),
	// with the leave event; a kicked user sees the kick there too.
	it('after leaving or being kicked, the room is in rooms.leave', async () => {
		const roomId = await room(bob, carol);
		const since = await now(bob);
		await bob.client.leave(roomId);
		const s = await rawSync(srv, bob, { since, timeout: 0 });
		assert.ok(!(roomId in s.rooms.join));
		const left = s.rooms.leave[roomId];
		assert.ok(left, `rooms.leave has the room: ${JSON.stringify(s.rooms)}`);
		const leaveEv = left.timeline.events.find((e) => e.type === 'm.room.member' && e.state_key === bob.userId);
		assert.equal(leaveEv.content.membership, 'leave');
		// Messages after the leave do not reach bob.
		await sendText(alice.client, roomId, 'bob is gone');
		const s2 = await rawSync(srv, bob, { since: s.next_batch, timeout: 0 });
		assert.ok(!(roomId in s2.rooms.join) && !(roomId in s2.rooms.leave), 'nothing more about that room');

		const since3 = await now(carol);
		await alice.client.kick(roomId, carol.userId, 'bye');
		const s3 = await rawSync(srv, carol, { since: since3, timeout: 0, 'org.matrix.msc4222.use_state_after': true });
		const kicked = s3.rooms.leave[roomId];
		assert.ok(kicked, 'the kicked user has the room in rooms.leave');
		const kick = kicked.timeline.events.find((e) => e.state_key === carol.userId);
		assert.equal(kick.content.membership, 'leave');
		assert.equal(kick.sender, alice.userId);
		assert.equal(kick.content.reason, 'bye');
		const after = kicked['org.matrix.msc4222.state_after'].events.find((e) => e.type === 'm.room.member' && e.state_key === carol.userId);
		assert.equal(after?.content.membership, 'leave', 'state_after of a left room ends with the leave');
		await waitForMyMembership(carol.client, roomId, 'leave');
	});

	// Spec: "Syncing" via the SDK: a burst of messages from one sender reaches another
	// user's sync loop (RoomEvent.Timeline) complete and in order.
	it('the SDK receives a burst of messages in order', async () => {
		const roomId = await room(bob);
		await waitForMyMembership(bob.client, roomId, 'join');
		const seen = [];
		const onTimeline = (ev, r) => {
			if (r?.roomId === roomId && ev.getType() === 'm.room.message') seen.push(ev.getId());
		};
		const { RoomEvent } = await import('./lib/rooms.mjs');
		bob.client.on(RoomEvent.Timeline, onTimeline);
		try {
			const ids = await sendMany(alice.client, roomId, Array.from({ length: 40 }, (_, i) => `b${i}`), 1);
			await waitForEventId(bob.client, roomId, ids.at(-1), 10000);
			assert.deepEqual(seen, ids);
			const sdkOrder = bob.client.getRoom(roomId).getLiveTimeline().getEvents().filter((e) => e.getType() === 'm.room.message').map((e) => e.getId());
			assert.deepEqual(sdkOrder.slice(-ids.length), ids);
		} finally {
			bob.client.off(RoomEvent.Timeline, onTimeline);
		}
	});

	// Spec: GET /sync: bad parameters are 400 M_INVALID_PARAM.
	it('bad sync parameters are refused', async () => {
		for (const q of ['since=garbage', 'timeout=-5', 'timeout=abc', 'set_presence=sleepy', 'filter=%7Bnot%20json']) {
			const res = await api(srv, 'GET', `/_matrix/client/v3/sync?${q}`, { token: bob.accessToken });
			assert.equal(res.status, 400, `${q}: ${res.status} ${res.text}`);
			assert.match(res.json?.errcode ?? '', /^M_(INVALID_PARAM|BAD_JSON|NOT_JSON)$/, q);
		}
		const noAuth = await api(srv, 'GET', '/_matrix/client/v3/sync');
		assert.equal(noAuth.status, 401);
	});

	// Spec: timeline events in /sync lack room_id (client event without room_id) and carry
	// unsigned.transaction_id for the sender's own device.
	it('timeline events: no room_id, transaction_id for the sender', async () => {
		const roomId = await room(bob);
		const since = await now(alice);
		const txn = `t-${Date.now()}`;
		const { event_id: id } = await alice.client.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'with txn' }, txn);
		const s = await rawSync(srv, alice, { since, timeout: 0 });
		const ev = s.rooms.join[roomId].timeline.events.find((e) => e.event_id === id);
		assert.equal(ev.room_id, undefined);
		assert.equal(ev.unsigned.transaction_id, txn);
		const sb = await rawSync(srv, bob, { filter: { room: { timeline: { limit: 1 } } } });
		const evb = sb.rooms.join[roomId].timeline.events.find((e) => e.event_id === id);
		assert.equal(evb.unsigned.transaction_id, undefined, 'not for other users');
		await waitForTimelineEvent(bob.client, roomId, (e) => e.getId() === id);
	});
});
