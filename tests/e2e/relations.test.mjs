// SPDX-License-Identifier: Apache-2.0
//
// Event relationships with matrix-js-sdk: edits (m.replace) and their
// bundled aggregation on /event, /messages and /context, the validity rules
// that make an edit count, rich replies, threads (the m.thread bundle,
// GET /threads, and the SDK's own thread model over /sync), references
// and their bundle, reactions (m.annotation, listed but never bundled,
// duplicates refused), and GET /relations: filters, pagination both ways,
// recursion, and its errors.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ClientEvent } from 'matrix-js-sdk';
import { useServer } from './lib/server.mjs';
import { api, assertError, ClientPrefix, clientFor, Method, register, rejects } from './lib/matrix.mjs';

const srv = useServer({ config: { rc_message: { per_second: 1000, burst_count: 1000 } } });
const enc = encodeURIComponent;

const text = (body) => ({ msgtype: 'm.text', body });
const edit = (target, body) => ({
	msgtype: 'm.text',
	body: `* ${body}`,
	'm.new_content': { msgtype: 'm.text', body },
	'm.relates_to': { rel_type: 'm.replace', event_id: target },
});
const threaded = (root, body) => ({ msgtype: 'm.text', body, 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
const reaction = (target, key) => ({ 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key } });
const reference = (target, body) => ({ msgtype: 'm.text', body, 'm.relates_to': { rel_type: 'm.reference', event_id: target } });

/** GET /relations through the SDK's raw fetch (v1 prefix), returning the whole response. */
function relations(client, roomId, eventId, relType, eventType, params = {}) {
	let path = `/rooms/${enc(roomId)}/relations/${enc(eventId)}`;
	if (relType) path += `/${enc(relType)}`;
	if (eventType) path += `/${enc(eventType)}`;
	const q = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
	return client.http.authedRequest(Method.Get, path, q, undefined, { prefix: ClientPrefix.V1 });
}

/** GET /threads (the SDK only calls it from a running sync loop). */
function threads(client, roomId, params = {}) {
	const q = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
	return client.http.authedRequest(Method.Get, `/rooms/${enc(roomId)}/threads`, q, undefined, { prefix: ClientPrefix.V1 });
}

const ids = (chunk) => chunk.map((e) => e.event_id);
const bundle = (ev) => ev.unsigned?.['m.relations'];

describe('relations, aggregations and threads', () => {
	let alice, bob, carol, dave;
	let roomId, otherRoomId;

	before(async () => {
		alice = await register(srv, 'alice');
		bob = await register(srv, 'bob');
		carol = await register(srv, 'carol');
		dave = await register(srv, 'dave'); // never joins
		({ room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat', name: 'relations' }));
		await bob.client.joinRoom(roomId);
		await carol.client.joinRoom(roomId);
		({ room_id: otherRoomId } = await alice.client.createRoom({ preset: 'public_chat' }));
	});

	// Spec: Event replacements, "Server-side aggregation of m.replace
	// relationships": the most recent valid edit, formatted as normal, under
	// unsigned.m.relations.m.replace; the original's content stays intact.
	it('an edit is bundled with the original on /event, /messages and /context', async () => {
		const { event_id: orig } = await alice.client.sendMessage(roomId, text('I like cake'));
		const { event_id: e1 } = await alice.client.sendMessage(roomId, edit(orig, 'I like chocolate cake'));
		const { event_id: e2 } = await alice.client.sendMessage(roomId, edit(orig, 'I really like chocolate cake'));

		const ev = await bob.client.fetchRoomEvent(roomId, orig);
		assert.equal(ev.content.body, 'I like cake', 'the server must not replace the content');
		const rep = bundle(ev)?.['m.replace'];
		assert.ok(rep, `no m.replace bundle: ${JSON.stringify(ev.unsigned)}`);
		assert.equal(rep.event_id, e2, 'the most recent edit');
		assert.equal(rep.sender, alice.userId);
		assert.equal(rep.type, 'm.room.message');
		assert.equal(rep.content['m.new_content'].body, 'I really like chocolate cake');
		assert.deepEqual(rep.content['m.relates_to'], { rel_type: 'm.replace', event_id: orig });

		const msgs = await bob.client.createMessagesRequest(roomId, null, 10, 'b');
		const inTimeline = msgs.chunk.find((e) => e.event_id === orig);
		assert.equal(bundle(inTimeline)?.['m.replace']?.event_id, e2, '/messages carries the bundle');
		// The edits themselves are ordinary timeline events without a bundle of their own.
		const e1ev = msgs.chunk.find((e) => e.event_id === e1);
		assert.equal(bundle(e1ev), undefined);

		const ctx = await api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/context/${enc(orig)}?limit=2`, { token: bob.accessToken });
		assert.equal(ctx.status, 200, ctx.text);
		assert.equal(bundle(ctx.json.event)?.['m.replace']?.event_id, e2, '/context carries the bundle');

		// SPEC: the SDK's relations() lists the edits of the original.
		const rel = await bob.client.relations(roomId, orig, 'm.replace', null, { dir: 'b' });
		assert.equal(rel.originalEvent.getId(), orig);
		assert.deepEqual(rel.events.map((e) => e.getId()), [e2, e1]);
	});

	// Spec: "Validity of replacement events": same sender, same type, no
	// state_key, not an edit of an edit, m.new_content present; invalid ones
	// are ignored by the aggregation.
	it('invalid edits are not bundled: other sender, other type, no m.new_content, edit of an edit', async () => {
		const { event_id: orig } = await alice.client.sendMessage(roomId, text('original'));
		const { event_id: good } = await alice.client.sendMessage(roomId, edit(orig, 'good edit'));
		// Sent later, so each would be "the most recent" if it counted.
		await bob.client.sendMessage(roomId, edit(orig, 'bob edits alice'));
		await alice.client.sendEvent(roomId, 'org.example.other', edit(orig, 'type change'));
		await alice.client.sendMessage(roomId, { msgtype: 'm.text', body: '* no new content', 'm.relates_to': { rel_type: 'm.replace', event_id: orig } });
		const ev = await carol.client.fetchRoomEvent(roomId, orig);
		assert.equal(bundle(ev)?.['m.replace']?.event_id, good);

		// An edit of an edit is not applied: the edit event gets no m.replace bundle.
		await alice.client.sendMessage(roomId, edit(good, 'edit of an edit'));
		const goodEv = await carol.client.fetchRoomEvent(roomId, good);
		assert.equal(bundle(goodEv)?.['m.replace'], undefined);

		// Bob's message edited only by alice: nothing to bundle.
		const { event_id: bobs } = await bob.client.sendMessage(roomId, text('bob says'));
		await alice.client.sendMessage(roomId, edit(bobs, 'alice rewrites bob'));
		const bobsEv = await carol.client.fetchRoomEvent(roomId, bobs);
		assert.equal(bundle(bobsEv), undefined, JSON.stringify(bobsEv.unsigned));
	});

	// Spec: "Redactions of edited events": redacting the latest edit reverts
	// to the one before; a redacted original gets no m.replace bundle.
	it('redacting the latest edit falls back to the previous one; a redacted original has no edit bundle', async () => {
		const { event_id: orig } = await alice.client.sendMessage(roomId, text('v0'));
		const { event_id: e1 } = await alice.client.sendMessage(roomId, edit(orig, 'v1'));
		const { event_id: e2 } = await alice.client.sendMessage(roomId, edit(orig, 'v2'));
		assert.equal(bundle(await bob.client.fetchRoomEvent(roomId, orig))['m.replace'].event_id, e2);
		await alice.client.redactEvent(roomId, e2);
		assert.equal(bundle(await bob.client.fetchRoomEvent(roomId, orig))['m.replace'].event_id, e1);
		await alice.client.redactEvent(roomId, orig);
		const ev = await bob.client.fetchRoomEvent(roomId, orig);
		assert.deepEqual(ev.content, {});
		assert.equal(bundle(ev)?.['m.replace'], undefined);
	});

	// Spec: Rich replies: m.in_reply_to is kept as sent; replies have no
	// rel_type, so /relations does not list them.
	it('a rich reply round-trips', async () => {
		const { event_id: parent } = await alice.client.sendMessage(roomId, text('question?'));
		const content = { msgtype: 'm.text', body: 'answer', 'm.relates_to': { 'm.in_reply_to': { event_id: parent } } };
		const { event_id: reply } = await bob.client.sendMessage(roomId, content);
		const ev = await alice.client.fetchRoomEvent(roomId, reply);
		assert.deepEqual(ev.content, content);
		const msgs = await alice.client.createMessagesRequest(roomId, null, 5, 'b');
		assert.deepEqual(msgs.chunk.find((e) => e.event_id === reply).content['m.relates_to'], { 'm.in_reply_to': { event_id: parent } });
		const rel = await relations(alice.client, roomId, parent);
		assert.deepEqual(rel.chunk, []);
	});

	// Spec: Threading, "Server-side aggregation of m.thread relationships":
	// count, latest_event (with its own bundle) and current_user_participated.
	it('a thread with three replies is bundled on its root', async () => {
		const { event_id: root } = await alice.client.sendMessage(roomId, text('thread root'));
		const { event_id: r1 } = await bob.client.sendMessage(roomId, root, text('reply 1'));
		const { event_id: r2 } = await carol.client.sendMessage(roomId, root, text('reply 2'));
		const { event_id: r3 } = await bob.client.sendMessage(roomId, threaded(root, 'reply 3'));

		const forAlice = bundle(await alice.client.fetchRoomEvent(roomId, root))?.['m.thread'];
		assert.ok(forAlice, 'no m.thread bundle');
		assert.equal(forAlice.count, 3);
		assert.equal(forAlice.latest_event.event_id, r3);
		assert.equal(forAlice.latest_event.content.body, 'reply 3');
		assert.equal(forAlice.latest_event.sender, bob.userId);
		assert.equal(forAlice.current_user_participated, true, 'alice sent the root');
		const forCarol = bundle(await carol.client.fetchRoomEvent(roomId, root))['m.thread'];
		assert.equal(forCarol.current_user_participated, true, 'carol replied');

		// A member who neither started nor replied did not participate.
		const { event_id: root2 } = await alice.client.sendMessage(roomId, text('second root'));
		await bob.client.sendMessage(roomId, root2, text('only bob'));
		const forCarol2 = bundle(await carol.client.fetchRoomEvent(roomId, root2))['m.thread'];
		assert.equal(forCarol2.count, 1);
		assert.equal(forCarol2.current_user_participated, false);

		// The latest event carries its own bundle: an edit of reply 3.
		const { event_id: r3edit } = await bob.client.sendMessage(roomId, edit(r3, 'reply 3, edited'));
		const after = bundle(await alice.client.fetchRoomEvent(roomId, root))['m.thread'];
		assert.equal(after.count, 3, 'an edit of a thread reply is not a thread reply');
		assert.equal(after.latest_event.event_id, r3);
		assert.equal(bundle(after.latest_event)?.['m.replace']?.event_id, r3edit);

		// /relations lists the thread, newest first; the SDK reads it too.
		const rel = await relations(alice.client, roomId, root, 'm.thread');
		assert.deepEqual(ids(rel.chunk), [r3, r2, r1]);
		const viaSdk = await alice.client.relations(roomId, root, 'm.thread', null, { dir: 'b', limit: 10 });
		assert.deepEqual(viaSdk.events.map((e) => e.getId()), [r3, r2, r1]);
	});

	// Spec: "Validation of m.thread relationships": 400 M_UNKNOWN for a
	// thread off an event that has a relation itself.
	it('a thread cannot start from an event with a relation', async () => {
		const { event_id: root } = await alice.client.sendMessage(roomId, text('root'));
		const { event_id: reply } = await bob.client.sendMessage(roomId, root, text('in thread'));
		await rejects(bob.client.sendMessage(roomId, threaded(reply, 'nested thread')), 400, 'M_UNKNOWN');
		const rel = await relations(alice.client, roomId, reply);
		assert.deepEqual(rel.chunk, [], 'nothing was sent');
	});

	// Spec: GET /relations with relType and eventType filters; reactions
	// (m.annotation) are listed, but not aggregated (Event annotations,
	// "Server-side aggregation of m.annotation relationships").
	it('/relations filters by rel_type and event type; reactions are listed but not bundled', async () => {
		const { event_id: parent } = await alice.client.sendMessage(roomId, text('react to me'));
		const { event_id: like } = await bob.client.sendEvent(roomId, 'm.reaction', reaction(parent, '👍'));
		const { event_id: heart } = await carol.client.sendEvent(roomId, 'm.reaction', reaction(parent, '❤️'));
		const { event_id: ref } = await bob.client.sendMessage(roomId, reference(parent, 'see above'));
		const { event_id: customAnn } = await bob.client.sendEvent(roomId, 'org.example.vote', reaction(parent, 'yes'));

		assert.deepEqual(ids((await relations(alice.client, roomId, parent)).chunk), [customAnn, ref, heart, like]);
		assert.deepEqual(ids((await relations(alice.client, roomId, parent, 'm.annotation')).chunk), [customAnn, heart, like]);
		assert.deepEqual(ids((await relations(alice.client, roomId, parent, 'm.annotation', 'm.reaction')).chunk), [heart, like]);
		assert.deepEqual(ids((await relations(alice.client, roomId, parent, 'm.reference')).chunk), [ref]);
		assert.deepEqual((await relations(alice.client, roomId, parent, 'm.thread')).chunk, []);
		const viaSdk = await alice.client.relations(roomId, parent, 'm.annotation', 'm.reaction', { dir: 'b' });
		assert.deepEqual(viaSdk.events.map((e) => e.getId()), [heart, like]);

		const ev = await alice.client.fetchRoomEvent(roomId, parent);
		assert.equal(bundle(ev)['m.annotation'], undefined, 'annotations are not bundled');
		// Spec: Reference relations, "Server-side aggregation of m.reference".
		assert.deepEqual(bundle(ev)['m.reference'], { chunk: [{ event_id: ref }] });
	});

	// Spec: "Avoiding duplicate annotations": 400 M_DUPLICATE_ANNOTATION,
	// unless the first one was redacted.
	it('the same reaction twice is refused until the first is redacted', async () => {
		const { event_id: parent } = await alice.client.sendMessage(roomId, text('once only'));
		const { event_id: first } = await bob.client.sendEvent(roomId, 'm.reaction', reaction(parent, '🎉'));
		await rejects(bob.client.sendEvent(roomId, 'm.reaction', reaction(parent, '🎉')), 400, 'M_DUPLICATE_ANNOTATION');
		// Another key, or another user, is fine.
		await bob.client.sendEvent(roomId, 'm.reaction', reaction(parent, '🎈'));
		await carol.client.sendEvent(roomId, 'm.reaction', reaction(parent, '🎉'));
		assert.equal((await relations(alice.client, roomId, parent, 'm.annotation')).chunk.length, 3);
		await bob.client.redactEvent(roomId, first);
		const { event_id: again } = await bob.client.sendEvent(roomId, 'm.reaction', reaction(parent, '🎉'));
		const rel = await relations(alice.client, roomId, parent, 'm.annotation', 'm.reaction');
		assert.ok(ids(rel.chunk).includes(again));
		assert.ok(!ids(rel.chunk).includes(first), 'a redacted reaction is no longer a relation');
		// A reaction without a key is malformed.
		await rejects(bob.client.sendEvent(roomId, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: parent } }), 400, 'M_BAD_JSON');
	});

	// Spec: GET /relations, from/to/limit/dir: next_batch pages on, prev_batch
	// is the start of the page; dir=f is chronological.
	it('/relations paginates backwards and forwards', async () => {
		const { event_id: root } = await alice.client.sendMessage(roomId, text('many replies'));
		const replies = [];
		for (let i = 0; i < 5; i++) replies.push((await bob.client.sendMessage(roomId, root, text(`r${i}`))).event_id);
		const newestFirst = [...replies].reverse();

		const p1 = await relations(alice.client, roomId, root, 'm.thread', undefined, { limit: 2 });
		assert.deepEqual(ids(p1.chunk), newestFirst.slice(0, 2));
		assert.ok(p1.next_batch, 'more to come');
		assert.equal(p1.prev_batch, undefined, 'the first page has no prev_batch');
		const p2 = await relations(alice.client, roomId, root, 'm.thread', undefined, { limit: 2, from: p1.next_batch });
		assert.deepEqual(ids(p2.chunk), newestFirst.slice(2, 4));
		assert.equal(p2.prev_batch, p1.next_batch);
		const p3 = await relations(alice.client, roomId, root, 'm.thread', undefined, { limit: 2, from: p2.next_batch });
		assert.deepEqual(ids(p3.chunk), newestFirst.slice(4));
		assert.equal(p3.next_batch, undefined, 'the end');

		// Forwards from the start, and from a token of the backwards walk.
		const f1 = await relations(alice.client, roomId, root, undefined, undefined, { dir: 'f', limit: 3 });
		assert.deepEqual(ids(f1.chunk), replies.slice(0, 3));
		const f2 = await relations(alice.client, roomId, root, undefined, undefined, { dir: 'f', limit: 3, from: f1.next_batch });
		assert.deepEqual(ids(f2.chunk), replies.slice(3));
		assert.equal(f2.next_batch, undefined);
		const back = await relations(alice.client, roomId, root, undefined, undefined, { dir: 'f', from: p1.next_batch, limit: 10 });
		assert.deepEqual(ids(back.chunk), newestFirst.slice(0, 2).reverse(), 'forwards from page 1 returns to its events');
		// from page 1 to page 2 covers exactly the events of page 2.
		const between = await relations(alice.client, roomId, root, undefined, undefined, { from: p1.next_batch, to: p3.next_batch ?? p2.next_batch, limit: 10 });
		assert.deepEqual(ids(between.chunk), newestFirst.slice(2, 4));

		// The SDK's relations() pages the same way.
		const s1 = await alice.client.relations(roomId, root, 'm.thread', null, { dir: 'b', limit: 4 });
		assert.equal(s1.events.length, 4);
		const s2 = await alice.client.relations(roomId, root, 'm.thread', null, { dir: 'b', limit: 4, from: s1.nextBatch });
		assert.deepEqual(s2.events.map((e) => e.getId()), [replies[0]]);
		assert.equal(s2.nextBatch, null);
	});

	// Spec: GET /relations, recurse: events that relate indirectly, up to a
	// depth the server reports in recursion_depth (at least 3).
	it('/relations recurses through relations of relations', async () => {
		const { event_id: a } = await alice.client.sendMessage(roomId, text('A'));
		const { event_id: b } = await bob.client.sendMessage(roomId, reference(a, 'B refs A'));
		const { event_id: c } = await carol.client.sendMessage(roomId, reference(b, 'C refs B'));
		const { event_id: d } = await bob.client.sendEvent(roomId, 'm.reaction', reaction(c, '👀'));
		const { event_id: e } = await bob.client.sendMessage(roomId, reference(d, 'E refs D: depth 4'));

		const flat = await relations(alice.client, roomId, a);
		assert.deepEqual(ids(flat.chunk), [b]);
		assert.equal(flat.recursion_depth, undefined, 'absent without recurse');
		const deep = await relations(alice.client, roomId, a, undefined, undefined, { recurse: true });
		assert.deepEqual(ids(deep.chunk), [d, c, b]);
		assert.ok(!ids(deep.chunk).includes(e), 'depth is bounded');
		assert.equal(deep.recursion_depth, 3);
		const deepRefs = await relations(alice.client, roomId, a, 'm.reference', undefined, { recurse: true });
		assert.deepEqual(ids(deepRefs.chunk), [c, b], 'filters apply at every depth');
		const notDeep = await relations(alice.client, roomId, a, undefined, undefined, { recurse: false });
		assert.deepEqual(ids(notDeep.chunk), [b]);
		assert.equal(notDeep.recursion_depth, 1);
	});

	// Spec: GET /threads: roots ordered by latest activity, include=participated,
	// bundled aggregations on each root, a next_batch token.
	it('/threads lists roots by latest activity, all or participated', async () => {
		const { room_id: tr } = await alice.client.createRoom({ preset: 'public_chat' });
		await bob.client.joinRoom(tr);
		await carol.client.joinRoom(tr);
		const { event_id: t1 } = await alice.client.sendMessage(tr, text('thread 1'));
		const { event_id: t2 } = await bob.client.sendMessage(tr, text('thread 2'));
		const { event_id: t3 } = await bob.client.sendMessage(tr, text('thread 3'));
		await alice.client.sendMessage(tr, text('not a thread'));
		await bob.client.sendMessage(tr, t1, text('t1 reply'));
		await bob.client.sendMessage(tr, t2, text('t2 reply'));
		await bob.client.sendMessage(tr, t3, text('t3 reply'));
		const { event_id: last } = await carol.client.sendMessage(tr, t1, text('t1 again'));

		const all = await threads(carol.client, tr);
		assert.deepEqual(ids(all.chunk), [t1, t3, t2], 't1 was bumped by the latest reply');
		assert.equal(bundle(all.chunk[0])['m.thread'].latest_event.event_id, last);
		assert.equal(bundle(all.chunk[0])['m.thread'].count, 2);
		assert.equal(all.next_batch, undefined);

		const page1 = await threads(carol.client, tr, { limit: 2 });
		assert.deepEqual(ids(page1.chunk), [t1, t3]);
		assert.ok(page1.next_batch);
		const page2 = await threads(carol.client, tr, { limit: 2, from: page1.next_batch });
		assert.deepEqual(ids(page2.chunk), [t2]);
		assert.equal(page2.next_batch, undefined);

		// carol replied in t1 only; alice started t1; bob replied everywhere.
		assert.deepEqual(ids((await threads(carol.client, tr, { include: 'participated' })).chunk), [t1]);
		assert.deepEqual(ids((await threads(alice.client, tr, { include: 'participated' })).chunk), [t1]);
		assert.deepEqual(ids((await threads(bob.client, tr, { include: 'participated' })).chunk), [t1, t3, t2]);

		// Redacting a thread's only reply takes the thread off the list.
		const { event_id: t4 } = await alice.client.sendMessage(tr, text('thread 4'));
		const { event_id: only } = await alice.client.sendMessage(tr, t4, text('t4 reply'));
		assert.equal(ids((await threads(carol.client, tr)).chunk)[0], t4);
		await alice.client.redactEvent(tr, only);
		assert.deepEqual(ids((await threads(carol.client, tr)).chunk), [t1, t3, t2]);
		assert.equal(bundle(await carol.client.fetchRoomEvent(tr, t4))?.['m.thread'], undefined);
	});

	// Spec: Ignoring users: servers leave children of ignored users out of
	// aggregations (count, latest_event); GET /threads returns a root sent by
	// an ignored user redacted.
	it('children of ignored users are left out of bundles, /relations and /threads', async () => {
		const erin = await register(srv, 'erin');
		const { room_id: ir } = await alice.client.createRoom({ preset: 'public_chat' });
		for (const u of [bob, carol, erin]) await u.client.joinRoom(ir);
		const { event_id: root } = await alice.client.sendMessage(ir, text('root'));
		const { event_id: byCarol } = await carol.client.sendMessage(ir, root, text('carol replies'));
		const { event_id: byBob } = await bob.client.sendMessage(ir, root, text('bob replies last'));
		const { event_id: bobRoot } = await bob.client.sendMessage(ir, text('bob starts a thread'));
		await carol.client.sendMessage(ir, bobRoot, text('carol in bob\'s thread'));
		await erin.client.setAccountData('m.ignored_user_list', { ignored_users: { [bob.userId]: {} } });

		const forErin = bundle(await erin.client.fetchRoomEvent(ir, root))['m.thread'];
		assert.equal(forErin.count, 1);
		assert.equal(forErin.latest_event.event_id, byCarol);
		const forCarol = bundle(await carol.client.fetchRoomEvent(ir, root))['m.thread'];
		assert.equal(forCarol.count, 2, 'only erin ignores bob');
		assert.equal(forCarol.latest_event.event_id, byBob);

		assert.deepEqual(ids((await relations(erin.client, ir, root, 'm.thread')).chunk), [byCarol]);
		const list = await threads(erin.client, ir);
		assert.deepEqual(ids(list.chunk), [bobRoot, root]);
		assert.deepEqual(list.chunk[0].content, {}, "bob's root is redacted for erin");
		assert.equal((await threads(carol.client, ir)).chunk[0].content.body, 'bob starts a thread');
	});

	// Spec: "Forming relationships between events": parent and child must be
	// in the same room; GET /relations answers 404 for a parent the user
	// cannot see and 403 for a room the user cannot read.
	it('relations across rooms, unknown or invisible parents', async () => {
		const { event_id: elsewhere } = await alice.client.sendMessage(otherRoomId, text('in another room'));
		await rejects(alice.client.sendMessage(roomId, threaded(elsewhere, 'cross-room')), 400, 'M_UNKNOWN');
		await rejects(alice.client.sendMessage(roomId, edit(elsewhere, 'cross-room edit')), 400, 'M_UNKNOWN');
		assert.equal(bundle(await alice.client.fetchRoomEvent(otherRoomId, elsewhere)), undefined);

		await rejects(relations(alice.client, roomId, elsewhere), 404, 'M_NOT_FOUND');
		await rejects(relations(alice.client, roomId, `$unknown${Date.now()}`), 404, 'M_NOT_FOUND');
		const { event_id: mine } = await alice.client.sendMessage(roomId, text('members only'));
		await rejects(relations(dave.client, roomId, mine), 403, 'M_FORBIDDEN');
		await rejects(threads(dave.client, roomId), 403, 'M_FORBIDDEN');
	});

	// Spec: query parameters of GET /relations and GET /threads; bad values
	// get 400 M_INVALID_PARAM.
	it('bad parameters are refused with M_INVALID_PARAM', async () => {
		const { event_id: p } = await alice.client.sendMessage(roomId, text('params'));
		const base = `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(p)}`;
		for (const q of ['dir=x', 'limit=abc', 'limit=-1', 'limit=0', 'from=nonsense', 'to=t-5', 'recurse=yes']) {
			assertError(await api(srv, 'GET', `${base}?${q}`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM', q);
		}
		assertError(await api(srv, 'GET', `/_matrix/client/v1/rooms/${enc(roomId)}/relations/notanid`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
		const tbase = `/_matrix/client/v1/rooms/${enc(roomId)}/threads`;
		for (const q of ['include=mine', 'limit=0', 'limit=x', 'from=zzz']) {
			assertError(await api(srv, 'GET', `${tbase}?${q}`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM', q);
		}
		assertError(await api(srv, 'GET', `${base}`), 401, 'M_MISSING_TOKEN');
	});

	// The SDK with threadSupport builds its Thread model from /sync, the
	// bundled m.thread aggregation, /relations and /threads.
	describe('the SDK thread model over /sync', () => {
		let syncer;
		after(() => syncer?.stopClient());

		it('a syncing client with threadSupport sees the thread, its replies and its length', { timeout: 30_000 }, async () => {
			const { room_id: sr } = await alice.client.createRoom({ preset: 'public_chat' });
			await bob.client.joinRoom(sr);
			const { event_id: root } = await alice.client.sendMessage(sr, text('synced root'));
			const replies = [];
			for (let i = 0; i < 3; i++) replies.push((await bob.client.sendMessage(sr, root, text(`synced ${i}`))).event_id);

			syncer = clientFor(srv, { ...alice, clientOpts: { threadSupport: true, logger: quietLogger } });
			// The SDK fetches push rules before its first /sync and retries
			// forever on a 404: give it its defaults if the server has none.
			const getPushRules = syncer.getPushRules.bind(syncer);
			syncer.getPushRules = async () => {
				try {
					return await getPushRules();
				} catch (e) {
					if (e.httpStatus === 404) return { global: {} };
					throw e;
				}
			};
			const prepared = new Promise((resolve, reject) => {
				syncer.on(ClientEvent.Sync, (state, _prev, data) => {
					if (state === 'PREPARED' || state === 'SYNCING') resolve();
					else if (state === 'ERROR') reject(data?.error ?? new Error('sync error'));
				});
			});
			await syncer.startClient({ initialSyncLimit: 20, threadSupport: true });
			await waitFor(() => prepared.then(() => true), 'the first sync');
			const room = syncer.getRoom(sr);
			assert.ok(room, 'the room is synced');
			const thread = await waitFor(() => {
				const t = room.getThread(root);
				return t && t.length === 3 ? t : undefined;
			}, 'the thread with 3 replies');
			assert.equal(thread.id, root);
			assert.equal(thread.length, 3);
			assert.equal(thread.replyToEvent?.getId(), replies[2], 'the latest reply');
			assert.equal(thread.hasCurrentUserParticipated, true, 'alice started it');
			// The SDK loads each thread's events through /relations: wait for
			// every thread it knows of (other rooms too) before stopping, so no
			// request is left in flight when the server goes away.
			await waitFor(() => (syncer.getRooms().every((r) => r.getThreads().every((t) => t.initialEventsFetched)) ? true : undefined), 'the threads to load');
			const loaded = thread.liveTimeline.getEvents().map((e) => e.getId());
			for (const r of replies) assert.ok(loaded.includes(r), `reply ${r} in the thread timeline: ${loaded}`);
			syncer.stopClient();
			await new Promise((r) => setTimeout(r, 200));
		});
	});
});

// The SDK's sync loop logs through child loggers at debug level: keep it quiet.
const noop = () => {};
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, getChild: () => quietLogger };

/** Polls fn until it returns a value, for up to 10 s. */
async function waitFor(fn, what) {
	const deadline = Date.now() + 10_000;
	for (;;) {
		const v = await fn();
		if (v !== undefined) return v;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}
