// SPDX-License-Identifier: Apache-2.0
//
// Push rules and notification counts: the /pushrules API round-trips through
// matrix-js-sdk (getPushRules, addPushRule, deletePushRule,
// setPushRuleEnabled, setPushRuleActions) and reaches /sync as m.push_rules
// account data; the server-default rules decide what counts as a
// notification or a highlight in /sync's unread_notifications (and
// unread_thread_notifications), read receipts and the user's own messages
// clear them, and GET /notifications lists what notified.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, register, rejects } from './lib/matrix.mjs';
import { rawSync, sendText, txnId } from './lib/rooms.mjs';

const srv = useServer({ config: { rc_message: { per_second: 1000, burst_count: 1000 } } });
const enc = encodeURIComponent;

const ruleIds = (rules, kind) => rules.global[kind].map((r) => r.rule_id);
// The rules as the server sends them (the SDK's getPushRules() adds rules of its own).
async function rawRules(u) {
	const res = await api(srv, 'GET', '/_matrix/client/v3/pushrules/', { token: u.access_token });
	assert.equal(res.status, 200, res.text);
	return res.json;
}

describe('push rules API', () => {
	let alice, bob;

	before(async () => {
		alice = await register(srv, 'alice', 'alice-password');
		bob = await register(srv, 'bob', 'bob-password');
	});

	// Spec: GET /pushrules/ and "Predefined Rules": every server-default rule,
	// .m.rule.master first and disabled, placeholders filled in for the user.
	it('a new user has the server-default rules', async () => {
		const rules = await rawRules(alice);
		assert.equal((await alice.client.getPushRules()).global.override[0].rule_id, '.m.rule.master');
		const over = ruleIds(rules, 'override');
		assert.equal(over[0], '.m.rule.master');
		for (const id of ['.m.rule.suppress_notices', '.m.rule.invite_for_me', '.m.rule.member_event',
			'.m.rule.is_user_mention', '.m.rule.is_room_mention', '.m.rule.tombstone', '.m.rule.reaction',
			'.m.rule.room.server_acl', '.m.rule.suppress_edits']) {
			assert.ok(over.includes(id), `missing ${id}`);
		}
		assert.deepEqual(ruleIds(rules, 'underride'), ['.m.rule.call', '.m.rule.encrypted_room_one_to_one',
			'.m.rule.room_one_to_one', '.m.rule.message', '.m.rule.encrypted']);
		const master = rules.global.override[0];
		assert.equal(master.enabled, false);
		assert.equal(master.default, true);
		const mention = rules.global.override.find((r) => r.rule_id === '.m.rule.is_user_mention');
		assert.deepEqual(mention.conditions, [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: alice.user_id }]);
		assert.deepEqual(rules.global.room, []);
		assert.deepEqual(rules.global.sender, []);
		const res = await api(srv, 'GET', '/_matrix/client/v3/pushrules/global/', { token: alice.access_token });
		assert.equal(res.status, 200, res.text);
		assert.deepEqual(res.json, rules.global);
	});

	// Spec: PUT /pushrules/global/{kind}/{ruleId}, GET of the rule, new rules
	// are enabled and the most important user rule of their kind; before/after.
	it('adds override rules in order, and reads one back', async () => {
		const cond = [{ kind: 'event_match', key: 'content.body', pattern: 'beer' }, { kind: 'room_member_count', is: '<=10' }];
		await alice.client.addPushRule('global', 'override', 'beer', { conditions: cond, actions: ['notify', { set_tweak: 'sound', value: 'beeroclock.wav' }] });
		await alice.client.addPushRule('global', 'override', 'wine', { conditions: [], actions: [] });
		await alice.client.addPushRule('global', 'override', 'cider', { conditions: [], actions: ['notify'] }); // first
		let rules = await alice.client.getPushRules();
		assert.deepEqual(ruleIds(rules, 'override').slice(0, 4), ['.m.rule.master', 'cider', 'wine', 'beer']);
		// before / after another user rule
		let res = await api(srv, 'PUT', `/_matrix/client/v3/pushrules/global/override/ale?after=beer`, { token: alice.access_token, json: { actions: [] } });
		assert.equal(res.status, 200, res.text);
		res = await api(srv, 'PUT', `/_matrix/client/v3/pushrules/global/override/stout?before=wine`, { token: alice.access_token, json: { actions: [] } });
		assert.equal(res.status, 200, res.text);
		rules = await alice.client.getPushRules();
		assert.deepEqual(ruleIds(rules, 'override').slice(0, 6), ['.m.rule.master', 'cider', 'stout', 'wine', 'beer', 'ale']);
		res = await api(srv, 'GET', '/_matrix/client/v3/pushrules/global/override/beer', { token: alice.access_token });
		assert.equal(res.status, 200, res.text);
		assert.deepEqual(res.json, { rule_id: 'beer', default: false, enabled: true, conditions: cond, actions: ['notify', { set_tweak: 'sound', value: 'beeroclock.wav' }] });
		// Spec examples: a content rule, a room rule, a sender rule.
		await alice.client.addPushRule('global', 'content', 'cake', { pattern: 'cake', actions: ['notify', { set_tweak: 'sound', value: 'cakealarm.wav' }] });
		await alice.client.addPushRule('global', 'room', '!dj234r78wl45Gh4D:matrix.org', { actions: [] });
		await alice.client.addPushRule('global', 'sender', '@spambot:matrix.org', { actions: [] });
		rules = await alice.client.getPushRules();
		assert.deepEqual(rules.global.content[0], { rule_id: 'cake', default: false, enabled: true, pattern: 'cake', actions: ['notify', { set_tweak: 'sound', value: 'cakealarm.wav' }] });
		assert.deepEqual(ruleIds(rules, 'room'), ['!dj234r78wl45Gh4D:matrix.org']);
		assert.deepEqual(ruleIds(rules, 'sender'), ['@spambot:matrix.org']);
		// bob's rules are his own
		assert.deepEqual(ruleIds(await bob.client.getPushRules(), 'room'), []);
	});

	// Spec: PUT .../enabled and .../actions, also on server-default rules; GET of both.
	it('enables, disables and changes actions of user and default rules', async () => {
		await alice.client.setPushRuleEnabled('global', 'override', 'beer', false);
		let res = await api(srv, 'GET', '/_matrix/client/v3/pushrules/global/override/beer/enabled', { token: alice.access_token });
		assert.deepEqual(res.json, { enabled: false });
		await alice.client.setPushRuleActions('global', 'override', 'beer', ['notify', { set_tweak: 'highlight' }]);
		res = await api(srv, 'GET', '/_matrix/client/v3/pushrules/global/override/beer/actions', { token: alice.access_token });
		assert.deepEqual(res.json, { actions: ['notify', { set_tweak: 'highlight' }] });
		// An update of the rule keeps it disabled and in place.
		await alice.client.addPushRule('global', 'override', 'beer', { conditions: [], actions: ['notify'] });
		let rules = await rawRules(alice);
		assert.equal(rules.global.override.find((r) => r.rule_id === 'beer').enabled, false);
		assert.deepEqual(ruleIds(rules, 'override').slice(0, 6), ['.m.rule.master', 'cider', 'stout', 'wine', 'beer', 'ale']);
		// Server-default rules: enabled and actions change, they stay default.
		await alice.client.setPushRuleEnabled('global', 'override', '.m.rule.master', true);
		await alice.client.setPushRuleActions('global', 'underride', '.m.rule.message', ['notify', { set_tweak: 'sound', value: 'default' }]);
		rules = await rawRules(alice);
		assert.deepEqual(rules.global.override[0], { rule_id: '.m.rule.master', default: true, enabled: true, conditions: [], actions: [] });
		const msg = rules.global.underride.find((r) => r.rule_id === '.m.rule.message');
		assert.equal(msg.default, true);
		assert.deepEqual(msg.actions, ['notify', { set_tweak: 'sound', value: 'default' }]);
		await alice.client.setPushRuleEnabled('global', 'override', '.m.rule.master', false);
		await alice.client.setPushRuleActions('global', 'underride', '.m.rule.message', ['notify']);
		// Historical actions are stripped (Spec: "Historical Actions").
		await alice.client.setPushRuleActions('global', 'override', 'wine', ['dont_notify']);
		res = await api(srv, 'GET', '/_matrix/client/v3/pushrules/global/override/wine/actions', { token: alice.access_token });
		assert.deepEqual(res.json, { actions: [] });
	});

	// Spec: DELETE /pushrules/global/{kind}/{ruleId}; 404 M_NOT_FOUND afterwards.
	it('deletes user rules but not server-default rules', async () => {
		await alice.client.deletePushRule('global', 'override', 'stout');
		assert.ok(!ruleIds(await alice.client.getPushRules(), 'override').includes('stout'));
		await rejects(alice.client.deletePushRule('global', 'override', 'stout'), 404, 'M_NOT_FOUND');
		const get = await api(srv, 'GET', '/_matrix/client/v3/pushrules/global/override/stout', { token: alice.access_token });
		assertError(get, 404, 'M_NOT_FOUND');
		const del = await api(srv, 'DELETE', `/_matrix/client/v3/pushrules/global/underride/${enc('.m.rule.message')}`, { token: alice.access_token });
		assertError(del, 400, 'M_UNKNOWN');
		assert.ok(ruleIds(await rawRules(alice), 'underride').includes('.m.rule.message'));
		await rejects(alice.client.setPushRuleEnabled('global', 'override', 'nope', true), 404, 'M_NOT_FOUND');
		await rejects(alice.client.setPushRuleActions('global', 'underride', '.m.rule.nope', []), 404, 'M_NOT_FOUND');
	});

	// Spec: the ruleId must not start with '.' nor hold slashes; actions are
	// validated; before/after must name a user rule. Nothing changes.
	it('refuses invalid rules and changes nothing', async () => {
		const before = await rawRules(alice);
		const put = (path, json) => api(srv, 'PUT', `/_matrix/client/v3/pushrules/global/${path}`, { token: alice.access_token, json });
		assertError(await put(`override/${enc('.mine')}`, { actions: [] }), 400, 'M_INVALID_PARAM');
		assertError(await put(`override/${enc('a\\b')}`, { actions: [] }), 400, 'M_INVALID_PARAM');
		assertError(await put('nokind/x', { actions: [] }), 400, 'M_INVALID_PARAM');
		assertError(await put('override/x', {}), 400, 'M_BAD_JSON');
		assertError(await put('override/x', { actions: ['explode'] }), 400, 'M_BAD_JSON');
		assertError(await put('override/x', { actions: [], conditions: [{ kind: 'event_match', key: 'type' }] }), 400, 'M_BAD_JSON');
		assertError(await put('content/x', { actions: [] }), 400, 'M_BAD_JSON');
		assertError(await put('room/x', { actions: [] }), 400, 'M_INVALID_PARAM');
		const rel = await put('override/x?before=nosuchrule', { actions: [] });
		assertError(rel, 400, 'M_UNKNOWN');
		assert.match(rel.json.error, /nosuchrule/);
		assertError(await put(`override/x?after=${enc('.m.rule.master')}`, { actions: [] }), 400, 'M_UNKNOWN');
		assertError(await put('override/x/enabled', { enabled: 'yes' }), 400, 'M_BAD_JSON');
		assertError(await put('override/beer/enabled', {}), 400, 'M_MISSING_PARAM');
		assertError(await put('override/beer/actions', { actions: 'notify' }), 400, 'M_BAD_JSON');
		assert.deepEqual(await rawRules(alice), before);
		// Spec (account data): m.push_rules is managed through this API only.
		const ad = await api(srv, 'PUT', `/_matrix/client/v3/user/${enc(alice.user_id)}/account_data/m.push_rules`, { token: alice.access_token, json: { global: {} } });
		assert.equal(ad.status, 405);
		const anon = await api(srv, 'GET', '/_matrix/client/v3/pushrules/');
		assertError(anon, 401, 'M_MISSING_TOKEN');
	});

	// Spec: "Push Rules: Events": changes reach /sync as m.push_rules account
	// data holding the whole current rule set.
	it('sends the merged rules to /sync as m.push_rules', async () => {
		const first = await rawSync(srv, alice);
		const ev = first.account_data.events.find((e) => e.type === 'm.push_rules');
		assert.ok(ev, 'initial sync carries m.push_rules');
		assert.deepEqual(ev.content, await rawRules(alice));
		await alice.client.addPushRule('global', 'override', 'porter', { conditions: [], actions: [] });
		const next = await rawSync(srv, alice, { since: first.next_batch, timeout: 0 });
		const ev2 = next.account_data.events.find((e) => e.type === 'm.push_rules');
		assert.ok(ev2, 'incremental sync carries the changed rules');
		assert.ok(ruleIds(ev2.content, 'override').includes('porter'));
		assert.ok(ruleIds(ev2.content, 'underride').includes('.m.rule.message'));
		// A user who never changed a rule gets the defaults too.
		const bobSync = await rawSync(srv, bob);
		const bobRules = bobSync.account_data.events.find((e) => e.type === 'm.push_rules');
		assert.deepEqual(bobRules.content, await rawRules(bob));
		// GET of the account data answers the merged rules as well (as Synapse does).
		for (const u of [alice, bob]) {
			const res = await api(srv, 'GET', `/_matrix/client/v3/user/${enc(u.user_id)}/account_data/m.push_rules`, { token: u.access_token });
			assert.equal(res.status, 200, res.text);
			assert.deepEqual(res.json, await rawRules(u));
		}
	});
});

describe('notification counts', () => {
	let alice, bob, carol, group, dm;
	const counts = async (user, roomId, filter) => {
		const s = await rawSync(srv, user, filter ? { filter } : {});
		return s.rooms.join[roomId];
	};
	const unread = async (user, roomId) => (await counts(user, roomId)).unread_notifications;
	const join = (u, roomId) => api(srv, 'POST', `/_matrix/client/v3/join/${enc(roomId)}`, { token: u.access_token, json: {} });
	const send = async (u, roomId, content, type = 'm.room.message') => {
		const res = await api(srv, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/${type}/${txnId()}`, { token: u.access_token, json: content });
		assert.equal(res.status, 200, res.text);
		return res.json.event_id;
	};
	const receipt = async (u, roomId, eventId, body = {}) => {
		const res = await api(srv, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, { token: u.access_token, json: body });
		assert.equal(res.status, 200, res.text);
	};

	before(async () => {
		alice = await register(srv, 'alice2', 'alice-password');
		bob = await register(srv, 'bob2', 'bob-password');
		carol = await register(srv, 'carol2', 'carol-password');
		await alice.client.setDisplayName('Queen of Hearts');
		group = (await bob.client.createRoom({ preset: 'private_chat', invite: [alice.user_id, carol.user_id] })).room_id;
		assert.equal((await join(alice, group)).status, 200);
		assert.equal((await join(carol, group)).status, 200);
		dm = (await bob.client.createRoom({ preset: 'trusted_private_chat', invite: [alice.user_id], is_direct: true })).room_id;
		assert.equal((await join(alice, dm)).status, 200);
	});

	// Spec: "Receiving notifications" with the legacy display-name rule:
	// a message naming alice's display name notifies and highlights.
	it('a mention by display name highlights', async () => {
		assert.deepEqual(await unread(alice, group), { highlight_count: 0, notification_count: 0 });
		await sendText(bob.client, group, 'hello Queen of Hearts, are you there?');
		assert.deepEqual(await unread(alice, group), { highlight_count: 1, notification_count: 1 });
		// carol is not mentioned: one plain notification
		assert.deepEqual(await unread(carol, group), { highlight_count: 0, notification_count: 1 });
		// the sender never notifies themselves
		assert.deepEqual(await unread(bob, group), { highlight_count: 0, notification_count: 0 });
	});

	// Spec: .m.rule.message: a plain message in a group room notifies without highlight.
	it('a plain group message counts, a reaction and a notice do not', async () => {
		const plain = await sendText(bob.client, group, 'just chatting');
		assert.deepEqual(await unread(alice, group), { highlight_count: 1, notification_count: 2 });
		await send(bob, group, { 'm.relates_to': { rel_type: 'm.annotation', event_id: plain, key: '👍' } }, 'm.reaction');
		await send(bob, group, { msgtype: 'm.notice', body: 'a bot says Queen of Hearts' });
		assert.deepEqual(await unread(alice, group), { highlight_count: 1, notification_count: 2 });
		// m.mentions: user_ids highlight; an empty m.mentions turns the body rules off
		await send(bob, group, { msgtype: 'm.text', body: 'hi', 'm.mentions': { user_ids: [alice.user_id] } });
		await send(bob, group, { msgtype: 'm.text', body: 'Queen of Hearts (not a mention)', 'm.mentions': {} });
		assert.deepEqual(await unread(alice, group), { highlight_count: 2, notification_count: 4 });
	});

	// Spec: GET /notifications lists notified events newest first, with their actions.
	it('GET /notifications lists them, only=highlight and pagination', async () => {
		let res = await api(srv, 'GET', '/_matrix/client/v3/notifications', { token: alice.access_token });
		assert.equal(res.status, 200, res.text);
		// Both invites notified too (.m.rule.invite_for_me); joining read them.
		const invites = res.json.notifications.filter((n) => n.event.type === 'm.room.member');
		assert.deepEqual(invites.map((n) => n.room_id).sort(), [group, dm].sort());
		assert.ok(invites.every((n) => n.read));
		const list = res.json.notifications.filter((n) => n.room_id === group && n.event.type === 'm.room.message');
		assert.equal(list.length, 4);
		assert.equal(list[0].event.content.body, 'Queen of Hearts (not a mention)');
		assert.deepEqual(list[0].actions, ['notify']);
		assert.equal(list[3].event.content.body, 'hello Queen of Hearts, are you there?');
		assert.ok(list[3].actions.some((a) => a.set_tweak === 'highlight'));
		for (const n of list) {
			assert.equal(n.read, false);
			assert.equal(typeof n.ts, 'number');
			assert.equal(n.event.sender, bob.user_id);
		}
		res = await api(srv, 'GET', '/_matrix/client/v3/notifications?only=highlight', { token: alice.access_token });
		assert.equal(res.json.notifications.length, 2);
		res = await api(srv, 'GET', '/_matrix/client/v3/notifications?limit=4', { token: alice.access_token });
		assert.equal(res.json.notifications.length, 4);
		assert.ok(res.json.next_token);
		const more = await api(srv, 'GET', `/_matrix/client/v3/notifications?limit=4&from=${res.json.next_token}`, { token: alice.access_token });
		assert.equal(more.json.notifications.length, 2); // 4 messages and 2 invites in all
		assert.equal(more.json.next_token, undefined);
		const ids = [...res.json.notifications, ...more.json.notifications].map((n) => n.event.event_id);
		assert.equal(new Set(ids).size, 6);
		assertError(await api(srv, 'GET', '/_matrix/client/v3/notifications?limit=x', { token: alice.access_token }), 400, 'M_INVALID_PARAM');
		assertError(await api(srv, 'GET', '/_matrix/client/v3/notifications?from=abc', { token: alice.access_token }), 400, 'M_INVALID_PARAM');
	});

	// Spec: "Marking notifications as read": a read receipt clears what it covers.
	it('a read receipt clears the counts', async () => {
		const last = await sendText(bob.client, group, 'one more');
		assert.deepEqual(await unread(alice, group), { highlight_count: 2, notification_count: 5 });
		const first = await rawSync(srv, alice);
		await receipt(alice, group, last);
		assert.deepEqual(await unread(alice, group), { highlight_count: 0, notification_count: 0 });
		// The incremental sync after the receipt carries the room with zero counts.
		const next = await rawSync(srv, alice, { since: first.next_batch, timeout: 0 });
		assert.deepEqual(next.rooms.join[group]?.unread_notifications, { highlight_count: 0, notification_count: 0 });
		const res = await api(srv, 'GET', '/_matrix/client/v3/notifications', { token: alice.access_token });
		assert.ok(res.json.notifications.filter((n) => n.room_id === group).every((n) => n.read));
		// A later message counts again.
		await sendText(bob.client, group, 'after the receipt');
		assert.deepEqual(await unread(alice, group), { highlight_count: 0, notification_count: 1 });
	});

	// Spec: "(either by using the API or by sending an event)".
	it("sending a message reads the room for the sender", async () => {
		assert.equal((await unread(carol, group)).notification_count > 0, true);
		await sendText(carol.client, group, 'I am here');
		assert.deepEqual(await unread(carol, group), { highlight_count: 0, notification_count: 0 });
	});

	// Spec: .m.rule.room_one_to_one: in a two-member room every message notifies with sound.
	it('a 1:1 room message notifies with a sound', async () => {
		await sendText(bob.client, dm, 'psst');
		assert.deepEqual(await unread(alice, dm), { highlight_count: 0, notification_count: 1 });
		const res = await api(srv, 'GET', '/_matrix/client/v3/notifications?limit=1', { token: alice.access_token });
		assert.equal(res.json.notifications[0].room_id, dm);
		assert.deepEqual(res.json.notifications[0].actions, ['notify', { set_tweak: 'sound', value: 'default' }]);
	});

	// Spec: user rules apply: a room rule with no actions mutes the room.
	it("a room rule mutes the room", async () => {
		await alice.client.addPushRule('global', 'room', dm, { actions: [] });
		await sendText(bob.client, dm, 'muted?');
		assert.deepEqual(await unread(alice, dm), { highlight_count: 0, notification_count: 1 });
		await alice.client.deletePushRule('global', 'room', dm);
		await sendText(bob.client, dm, 'unmuted');
		assert.deepEqual(await unread(alice, dm), { highlight_count: 0, notification_count: 2 });
	});

	// Spec: unread_thread_notifications (room filter) splits the counts per
	// thread; unread_notifications then covers the main timeline only.
	it('counts threads apart when the filter asks', async () => {
		const root = await sendText(bob.client, group, 'thread root');
		await send(bob, group, { msgtype: 'm.text', body: 'in thread', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
		await send(bob, group, { msgtype: 'm.text', body: 'in thread, Queen of Hearts', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
		// 'after the receipt', carol's 'I am here' and the root in the main timeline, 2 in the thread
		assert.deepEqual(await unread(alice, group), { highlight_count: 1, notification_count: 5 });
		const filter = { room: { timeline: { unread_thread_notifications: true } } };
		const r = await counts(alice, group, filter);
		assert.deepEqual(r.unread_notifications, { highlight_count: 0, notification_count: 3 });
		assert.deepEqual(r.unread_thread_notifications, { [root]: { highlight_count: 1, notification_count: 2 } });
		// A threaded receipt in the thread clears the thread only.
		const inThread = await send(bob, group, { msgtype: 'm.text', body: 'last in thread', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
		await receipt(alice, group, inThread, { thread_id: root });
		const after = await counts(alice, group, filter);
		assert.deepEqual(after.unread_notifications, { highlight_count: 0, notification_count: 3 });
		assert.equal(after.unread_thread_notifications[root], undefined);
		// A main-timeline receipt clears the main timeline.
		await receipt(alice, group, root, { thread_id: 'main' });
		const done = await counts(alice, group, filter);
		assert.deepEqual(done.unread_notifications, { highlight_count: 0, notification_count: 0 });
	});

	// Spec: "Homeservers MUST NOT notify ... for events that the user has sent themselves",
	// invite_for_me: an invite notifies the invitee.
	it('an invite notifies the invitee', async () => {
		const room = (await bob.client.createRoom({ preset: 'private_chat' })).room_id;
		await bob.client.invite(room, carol.user_id);
		const res = await api(srv, 'GET', '/_matrix/client/v3/notifications?limit=1', { token: carol.access_token });
		assert.equal(res.json.notifications[0].room_id, room);
		assert.equal(res.json.notifications[0].event.type, 'm.room.member');
		assert.deepEqual(res.json.notifications[0].actions, ['notify', { set_tweak: 'sound', value: 'default' }]);
	});
});
