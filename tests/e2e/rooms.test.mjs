// SPDX-License-Identifier: Apache-2.0
//
// Rooms with three real clients (alice, bob, carol), each running the SDK's
// own sync loop: creating rooms (private_chat with invites, public_chat
// with an alias, is_direct), joining by id and by alias, chatting and seeing
// each other's messages arrive in order, names, topics and member lists in
// the SDK's Room objects; leaving, kicking, banning, unbanning, invite-only
// rooms, knocking, forgetting, joined_rooms, joined_members and /members.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, rejects } from './lib/matrix.mjs';
import {
	eventually,
	rawMessages,
	rawSync,
	sendText,
	stopAll,
	syncingUser,
	waitForEventId,
	waitForMembership,
	waitForMyMembership,
	waitForTimelineEvent,
} from './lib/rooms.mjs';

const srv = useServer({ config: { rc_message: { per_second: 1000, burst_count: 1000 } } });
const enc = encodeURIComponent;

describe('rooms with three syncing clients', () => {
	let alice, bob, carol;

	before(async () => {
		alice = await syncingUser(srv, 'alice');
		bob = await syncingUser(srv, 'bob');
		carol = await syncingUser(srv, 'carol');
	});

	after(() => stopAll(alice?.client, bob?.client, carol?.client));

	const memberIds = (client, roomId, membership = 'join') =>
		client.getRoom(roomId).getMembersWithMembership(membership).map((m) => m.userId).sort();

	/**
	 * A conversation: each sender speaks in turn, after the previous message
	 * reached every participant through their sync loop (the SDK shows its
	 * own messages at once as local echoes, so only a turn-taking chat has
	 * one true order). Every client must end with all messages, in order,
	 * and /messages must agree.
	 */
	async function chatAndCheck(roomId, senders, tag) {
		const everyone = [...new Set(senders)];
		const sent = [];
		for (const [i, u] of senders.entries()) {
			const body = `${tag} ${i} from ${u.userId}`;
			const id = await sendText(u.client, roomId, body);
			sent.push({ id, body, sender: u.userId });
			await Promise.all(everyone.map((p) => waitForEventId(p.client, roomId, id)));
		}
		const want = sent.map((s) => [s.id, s.body, s.sender]);
		for (const u of everyone) {
			const seen = u.client
				.getRoom(roomId)
				.getLiveTimeline()
				.getEvents()
				.filter((e) => e.getType() === 'm.room.message' && e.getContent().body?.startsWith(`${tag} `));
			assert.deepEqual(seen.map((e) => [e.getId(), e.getContent().body, e.getSender()]), want, `${u.userId} sees the messages in order`);
			const res = await rawMessages(srv, u, roomId, { dir: 'b', limit: 50 });
			assert.equal(res.status, 200, res.text);
			const fromServer = res.json.chunk.filter((e) => e.type === 'm.room.message' && e.content.body.startsWith(`${tag} `)).reverse();
			assert.deepEqual(fromServer.map((e) => [e.event_id, e.content.body, e.sender]), want, `/messages for ${u.userId}`);
		}
		return sent;
	}

	// Spec: POST /createRoom (preset private_chat, invite, name, topic);
	// "Room membership": an invite reaches the invitee through /sync
	// (rooms.invite), POST /rooms/{roomId}/join accepts it.
	it('private_chat: invite, join by id, chat in order; name, topic and members in the SDK', async () => {
		const { room_id: roomId } = await alice.client.createRoom({
			preset: 'private_chat',
			invite: [bob.userId],
			name: 'Private Room',
			topic: 'Secret plans',
		});
		await waitForMyMembership(bob.client, roomId, 'invite');
		const invited = bob.client.getRoom(roomId);
		assert.equal(invited.name, 'Private Room', 'the invite carries the name (invite_state)');
		assert.equal(invited.getMember(bob.userId).events.member.getSender(), alice.userId);

		await bob.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, bob.userId, 'join');
		await waitForMyMembership(bob.client, roomId, 'join');

		await chatAndCheck(roomId, [alice, bob, alice, bob, bob, alice], 'private');

		for (const u of [alice, bob]) {
			const room = u.client.getRoom(roomId);
			assert.equal(room.name, 'Private Room');
			assert.equal(room.currentState.getStateEvents('m.room.topic', '').getContent().topic, 'Secret plans');
			assert.equal(room.getJoinRule(), 'invite');
			assert.equal(room.getHistoryVisibility(), 'shared');
			assert.deepEqual(memberIds(u.client, roomId), [alice.userId, bob.userId].sort());
		}
		// The topic and name changed by alice reach bob through sync.
		await alice.client.setRoomTopic(roomId, 'New plans');
		await eventually(
			() => bob.client.getRoom(roomId).currentState.getStateEvents('m.room.topic', '')?.getContent().topic === 'New plans',
			5000, 'the new topic in bob\'s SDK',
		);
		const topic = bob.client.getRoom(roomId).currentState.getStateEvents('m.room.topic', '');
		assert.equal(topic.getPrevContent().topic, 'Secret plans', 'unsigned.prev_content has the old topic');
	});

	// Spec: POST /createRoom (preset public_chat, room_alias_name), POST /join/{roomIdOrAlias}
	// with an alias and with a room id; m.room.canonical_alias is set.
	it('public_chat with an alias: bob joins by alias, carol by id, all three chat', async () => {
		const { room_id: roomId } = await alice.client.createRoom({
			preset: 'public_chat',
			room_alias_name: 'town-square',
			name: 'Town Square',
		});
		const alias = `#town-square:${srv.serverName}`;
		const joined = await bob.client.joinRoom(alias);
		assert.equal(joined.roomId, roomId, 'joining by alias resolves to the room');
		await carol.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, carol.userId, 'join');
		await waitForMembership(alice.client, roomId, bob.userId, 'join');

		await chatAndCheck(roomId, [alice, bob, carol, carol, bob, alice, carol], 'square');
		for (const u of [alice, bob, carol]) {
			const room = u.client.getRoom(roomId);
			assert.equal(room.name, 'Town Square');
			assert.equal(room.getCanonicalAlias(), alias);
			assert.equal(room.getJoinRule(), 'public');
			await eventually(() => memberIds(u.client, roomId).length === 3, 5000, 'three members');
			assert.deepEqual(memberIds(u.client, roomId), [alice.userId, bob.userId, carol.userId].sort());
		}
		// A second room cannot take the same alias.
		await rejects(alice.client.createRoom({ room_alias_name: 'town-square' }), 400, 'M_ROOM_IN_USE');
	});

	// Spec: POST /createRoom is_direct: "the invite member events carry is_direct: true".
	it('is_direct: the invitee sees is_direct on the invite', async () => {
		const { room_id: roomId } = await alice.client.createRoom({
			preset: 'trusted_private_chat',
			invite: [carol.userId],
			is_direct: true,
		});
		await waitForMyMembership(carol.client, roomId, 'invite');
		const member = carol.client.getRoom(roomId).getMember(carol.userId);
		assert.equal(member.events.member.getContent().is_direct, true);
		assert.equal(member.events.member.getSender(), alice.userId);
		await carol.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, carol.userId, 'join');
		// trusted_private_chat makes invitees admins: carol may change the name.
		await carol.client.setRoomName(roomId, 'DM');
		await eventually(() => alice.client.getRoom(roomId).name === 'DM', 5000, 'the name set by carol');
	});

	/** A public room with alice (admin), bob and carol joined. */
	async function publicRoomWithAll(tag) {
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat', name: tag });
		await bob.client.joinRoom(roomId);
		await carol.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, bob.userId, 'join');
		await waitForMembership(alice.client, roomId, carol.userId, 'join');
		await waitForMembership(bob.client, roomId, carol.userId, 'join');
		return roomId;
	}

	// Spec: POST /rooms/{roomId}/leave; /sync shows the room under rooms.leave;
	// GET /joined_rooms no longer lists it; POST /rooms/{roomId}/forget.
	it('leaving: the others see it, the leaver sees the room as left, joined_rooms updates; forget', async () => {
		const roomId = await publicRoomWithAll('leave-test');
		assert.ok((await bob.client.getJoinedRooms()).joined_rooms.includes(roomId));
		// Forgetting a room one is still in is refused.
		await rejects(bob.client.forget(roomId, false), 400);

		await bob.client.leave(roomId);
		await waitForMembership(alice.client, roomId, bob.userId, 'leave');
		await waitForMembership(carol.client, roomId, bob.userId, 'leave');
		await waitForMyMembership(bob.client, roomId, 'leave');
		assert.ok(!(await bob.client.getJoinedRooms()).joined_rooms.includes(roomId));
		assert.deepEqual(memberIds(alice.client, roomId), [alice.userId, carol.userId].sort());

		// A message after the leave is not delivered to bob.
		const after = await sendText(alice.client, roomId, 'after bob left');
		await waitForEventId(carol.client, roomId, after);
		assert.ok(!bob.client.getRoom(roomId).getLiveTimeline().getEvents().some((e) => e.getId() === after));

		// Forget: the room no longer appears even with include_leave.
		const filter = { room: { include_leave: true } };
		assert.ok(roomId in (await rawSync(srv, bob, { filter })).rooms.leave, 'listed before forget');
		await bob.client.forget(roomId, false);
		assert.ok(!(roomId in (await rawSync(srv, bob, { filter })).rooms.leave), 'not listed after forget');
		// Rejoining brings it back.
		await bob.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, bob.userId, 'join');
	});

	// Spec: POST /rooms/{roomId}/kick: needs the kick power level (403 M_FORBIDDEN
	// otherwise); the kicked user's membership becomes leave with the reason.
	it('kicking needs power; a kicked user is out but may rejoin a public room', async () => {
		const roomId = await publicRoomWithAll('kick-test');
		await rejects(bob.client.kick(roomId, carol.userId, 'no power'), 403, 'M_FORBIDDEN');
		const pl = (await bob.client.members(roomId)).chunk;
		assert.equal(pl.find((e) => e.state_key === carol.userId).content.membership, 'join', 'carol is still joined');

		await alice.client.kick(roomId, carol.userId, 'be nice');
		await waitForMyMembership(carol.client, roomId, 'leave');
		await waitForMembership(bob.client, roomId, carol.userId, 'leave');
		const ev = bob.client.getRoom(roomId).getMember(carol.userId).events.member;
		assert.equal(ev.getSender(), alice.userId);
		assert.equal(ev.getContent().reason, 'be nice');
		// Kicking someone who is not in the room fails.
		await rejects(alice.client.kick(roomId, carol.userId), 403, 'M_FORBIDDEN');

		await carol.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, carol.userId, 'join');
	});

	// Spec: POST /rooms/{roomId}/ban and /unban: a banned user cannot rejoin
	// (403 M_FORBIDDEN) until unbanned; unbanning needs the ban power.
	it('banning: the banned user cannot rejoin; only a user with power unbans', async () => {
		const roomId = await publicRoomWithAll('ban-test');
		await rejects(bob.client.ban(roomId, carol.userId, 'no power'), 403, 'M_FORBIDDEN');
		await alice.client.ban(roomId, carol.userId, 'spam');
		await waitForMyMembership(carol.client, roomId, 'ban');
		await waitForMembership(bob.client, roomId, carol.userId, 'ban');

		await rejects(carol.client.joinRoom(roomId), 403, 'M_FORBIDDEN');
		await rejects(bob.client.unban(roomId, carol.userId), 403, 'M_FORBIDDEN');
		const members = (await alice.client.members(roomId)).chunk;
		assert.equal(members.find((e) => e.state_key === carol.userId).content.membership, 'ban', 'still banned');
		// A banned user cannot be invited either.
		await rejects(alice.client.invite(roomId, carol.userId), 403, 'M_FORBIDDEN');

		await alice.client.unban(roomId, carol.userId);
		await waitForMembership(bob.client, roomId, carol.userId, 'leave');
		await carol.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, carol.userId, 'join');
	});

	// Spec: "Joining rooms": join_rule invite: only invited users may join
	// (403 M_FORBIDDEN); POST /rooms/{roomId}/invite lets them in.
	it('invite-only: an uninvited user cannot join; once invited they can', async () => {
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'private_chat', name: 'Club' });
		await rejects(carol.client.joinRoom(roomId), 403, 'M_FORBIDDEN');
		const before = (await alice.client.members(roomId)).chunk.map((e) => e.state_key);
		assert.deepEqual(before, [alice.userId], 'the refused join changed nothing');
		// bob is not in the room: he cannot invite.
		await rejects(bob.client.invite(roomId, carol.userId), 403, 'M_FORBIDDEN');

		await alice.client.invite(roomId, carol.userId);
		await waitForMyMembership(carol.client, roomId, 'invite');
		await carol.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, carol.userId, 'join');
		// Inviting someone already joined is refused.
		await rejects(alice.client.invite(roomId, carol.userId), 403, 'M_FORBIDDEN');
		// An invite can be rejected with /leave.
		await alice.client.invite(roomId, bob.userId);
		await waitForMyMembership(bob.client, roomId, 'invite');
		await bob.client.leave(roomId);
		await waitForMembership(alice.client, roomId, bob.userId, 'leave');
	});

	// Spec: "Knocking on rooms" and POST /knock/{roomIdOrAlias}: join_rule knock
	// (room versions 7+); the knock shows in the knocker's /sync under
	// rooms.knock and reaches the room as a member event; an invite accepts it.
	it('knocking: knock, seen by both sides, accepted with an invite', async () => {
		const { room_id: roomId } = await alice.client.createRoom({
			preset: 'private_chat',
			name: 'Knock Knock',
			initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
		});
		const since = (await rawSync(srv, carol, { timeout: 0 })).next_batch;
		await carol.client.knockRoom(roomId, { reason: 'let me in' });

		const s = await rawSync(srv, carol, { since, timeout: 0 });
		const knock = s.rooms.knock[roomId];
		assert.ok(knock, `rooms.knock has the room: ${JSON.stringify(s.rooms)}`);
		const mine = knock.knock_state.events.find((e) => e.type === 'm.room.member' && e.state_key === carol.userId);
		assert.equal(mine.content.membership, 'knock');
		assert.equal(mine.content.reason, 'let me in');
		assert.ok(knock.knock_state.events.some((e) => e.type === 'm.room.join_rules' && e.content.join_rule === 'knock'));
		assert.ok(!(roomId in s.rooms.join) && !(roomId in s.rooms.invite));

		await waitForMembership(alice.client, roomId, carol.userId, 'knock');
		await waitForMyMembership(carol.client, roomId, 'knock');
		// Knocking again while knocking, or joining directly, is refused.
		await rejects(carol.client.joinRoom(roomId), 403, 'M_FORBIDDEN');

		await alice.client.invite(roomId, carol.userId);
		await waitForMyMembership(carol.client, roomId, 'invite');
		await carol.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, carol.userId, 'join');
		// A joined member cannot knock.
		await rejects(api(srv, 'POST', `/_matrix/client/v3/knock/${enc(roomId)}`, { token: carol.accessToken, json: {} }).then((r) => {
			if (r.status !== 200) throw Object.assign(new Error(r.text), { httpStatus: r.status, errcode: r.json?.errcode });
			return r.json;
		}), 403, 'M_FORBIDDEN');
	});

	// Spec: POST /knock: a room whose join rule does not allow knocking refuses it.
	it('knocking on an invite-only or public room is refused', async () => {
		const { room_id: inviteOnly } = await alice.client.createRoom({ preset: 'private_chat' });
		await rejects(bob.client.knockRoom(inviteOnly), 403, 'M_FORBIDDEN');
		const members = (await alice.client.members(inviteOnly)).chunk.map((e) => e.state_key);
		assert.deepEqual(members, [alice.userId]);
	});

	// Spec: "Knocking on rooms": only room versions 7+ have the knock join rule; in an
	// older room a knock is refused.
	it('knocking in a v6 room is refused', async () => {
		const { room_id: roomId } = await alice.client.createRoom({
			room_version: '6',
			initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
		});
		await rejects(bob.client.knockRoom(roomId), [400, 403], 'M_FORBIDDEN');
		assert.deepEqual((await alice.client.members(roomId)).chunk.map((e) => e.state_key), [alice.userId]);
	});

	// Spec: GET /joined_rooms and GET /rooms/{roomId}/joined_members (display names).
	it('joined_rooms and joined_members', async () => {
		await bob.client.setDisplayName('Bob B.');
		const roomId = await publicRoomWithAll('joined-members');
		const rooms = (await carol.client.getJoinedRooms()).joined_rooms;
		assert.ok(rooms.includes(roomId));
		for (const r of rooms) assert.match(r, /^!/);
		const { joined } = await carol.client.getJoinedRoomMembers(roomId);
		assert.deepEqual(Object.keys(joined).sort(), [alice.userId, bob.userId, carol.userId].sort());
		assert.equal(joined[bob.userId].display_name, 'Bob B.');
		assert.equal(joined[alice.userId].display_name, 'alice');
		// A non-member cannot list the joined members of a private room.
		const { room_id: secret } = await alice.client.createRoom({ preset: 'private_chat' });
		await rejects(carol.client.getJoinedRoomMembers(secret), 403, 'M_FORBIDDEN');
	});

	// Spec: GET /rooms/{roomId}/members with membership, not_membership and at
	// (a prev_batch token from /sync: the members at that point).
	it('members: membership, not_membership and at', async () => {
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat' });
		await bob.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, bob.userId, 'join');
		// A point in the stream when only alice and bob are in the room.
		const first = await rawSync(srv, alice, { filter: { room: { timeline: { limit: 1 } } } });
		const at = first.rooms.join[roomId].timeline.prev_batch;
		const atNext = first.next_batch;

		await carol.client.joinRoom(roomId);
		await carol.client.leave(roomId);
		await alice.client.invite(roomId, carol.userId);
		const m = async (params) => {
			const q = new URLSearchParams(params);
			const res = await api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/members?${q}`, { token: bob.accessToken });
			assert.equal(res.status, 200, res.text);
			return Object.fromEntries(res.json.chunk.map((e) => [e.state_key, e.content.membership]));
		};
		assert.deepEqual(await m({}), { [alice.userId]: 'join', [bob.userId]: 'join', [carol.userId]: 'invite' });
		assert.deepEqual(await m({ membership: 'join' }), { [alice.userId]: 'join', [bob.userId]: 'join' });
		assert.deepEqual(await m({ membership: 'invite' }), { [carol.userId]: 'invite' });
		assert.deepEqual(await m({ not_membership: 'join' }), { [carol.userId]: 'invite' });
		assert.deepEqual(await m({ not_membership: 'invite' }), { [alice.userId]: 'join', [bob.userId]: 'join' });
		assert.deepEqual(await m({ at: atNext }), { [alice.userId]: 'join', [bob.userId]: 'join' }, 'members at the sync token');
		const atPrev = await m({ at });
		assert.ok(!(carol.userId in atPrev), `carol was not a member at the prev_batch: ${JSON.stringify(atPrev)}`);
		// The spec: membership and not_membership together are an 'or'.
		assert.deepEqual(await m({ membership: 'invite', not_membership: 'join' }), { [carol.userId]: 'invite' });
		assert.deepEqual(await m({ membership: 'join', not_membership: 'join' }), {
			[alice.userId]: 'join', [bob.userId]: 'join', [carol.userId]: 'invite',
		});
		// Bad values are 400 M_INVALID_PARAM.
		const bad = await api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/members?membership=friends`, { token: bob.accessToken });
		assert.equal(bad.status, 400, bad.text);
	});

	// Spec: "Room membership": membership events carry the member's profile ("when
	// homeservers emit room membership events for their own users, they should include
	// the display name"); the SDK shows it on the other members' Room objects.
	it('a rejoin carries the new display name to the other members', async () => {
		const roomId = await publicRoomWithAll('names');
		await carol.client.setDisplayName('Carol C.');
		await carol.client.leave(roomId);
		await waitForMembership(alice.client, roomId, carol.userId, 'leave');
		await waitForMyMembership(carol.client, roomId, 'leave');
		await carol.client.joinRoom(roomId);
		await waitForMembership(alice.client, roomId, carol.userId, 'join');
		await eventually(() => alice.client.getRoom(roomId).getMember(carol.userId)?.name === 'Carol C.', 5000, 'the new display name');
		const ev = await waitForTimelineEvent(alice.client, roomId, (e) => e.getType() === 'm.room.member' && e.getStateKey() === carol.userId && e.getContent().membership === 'join' && e.getContent().displayname === 'Carol C.');
		assert.equal(ev.getSender(), carol.userId);
	});

	// Spec: "Events on Change of Profile Information": a display name change sends an
	// m.room.member event (join) to every room the user is in.
	it('a display name change reaches the rooms the user is in', async () => {
		const roomId = await publicRoomWithAll('propagation');
		await bob.client.setDisplayName('Bobby');
		await eventually(() => alice.client.getRoom(roomId).getMember(bob.userId)?.name === 'Bobby', 5000, 'the new display name in alice\'s SDK');
		const ev = alice.client.getRoom(roomId).getMember(bob.userId).events.member;
		assert.equal(ev.getContent().membership, 'join');
		assert.equal(ev.getSender(), bob.userId);
		assert.equal(ev.getPrevContent().displayname, 'Bob B.', 'prev_content has the old name');
	});
});
