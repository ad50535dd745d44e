// SPDX-License-Identifier: Apache-2.0
//
// Server-side search (POST /search, room_events): words found across the
// rooms a user is in and nowhere else, never before they could see the
// history (history_visibility joined) nor after they left; accents; the
// name and topic keys; filters (rooms, senders, types, contains_url);
// order_by recent and rank; context with profile_info; include_state;
// group_by room_id and sender; pagination with next_batch until exhausted
// (raw and through the SDK), with nothing missing and nothing twice;
// redacted events leaving the results; hostile terms; bad requests.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, register } from './lib/matrix.mjs';
import { rawMessages, sendMany, sendText, txnId } from './lib/rooms.mjs';

const srv = useServer({ config: { rc_message: { per_second: 10000, burst_count: 10000 } } });

/** POST /search with room_events criteria; returns { status, json, text }. */
function search(user, roomEvents, nextBatch) {
	const q = nextBatch === undefined ? '' : `?next_batch=${encodeURIComponent(nextBatch)}`;
	return api(srv, 'POST', `/_matrix/client/v3/search${q}`, {
		token: user.accessToken,
		json: { search_categories: { room_events: roomEvents } },
	});
}

/** The room_events category of a successful search. */
async function found(user, roomEvents, nextBatch) {
	const res = await search(user, roomEvents, nextBatch);
	assert.equal(res.status, 200, res.text);
	const re = res.json.search_categories.room_events;
	assert.ok(Array.isArray(re.results), 'results is an array');
	assert.equal(typeof re.count, 'number', 'count is a number');
	assert.ok(Array.isArray(re.highlights), 'highlights is an array');
	return re;
}

const bodiesOf = (re) => re.results.map((r) => r.result.content.body);
const idsOf = (re) => re.results.map((r) => r.result.event_id);

/** Follows next_batch to the end; every result, in order, and the pages. */
async function allPages(user, roomEvents) {
	const results = [];
	const pages = [];
	let token;
	for (let i = 0; i < 200; i++) {
		const re = await found(user, roomEvents, token);
		results.push(...re.results);
		pages.push(re);
		if (re.next_batch === undefined) return { results, pages };
		assert.notEqual(re.next_batch, token, 'next_batch moves');
		token = re.next_batch;
	}
	assert.fail('pagination did not end');
}

describe('search', () => {
	let alice, bob, carol;
	let roomA, roomB, roomC;

	before(async () => {
		alice = await register(srv, 'salice');
		bob = await register(srv, 'sbob');
		carol = await register(srv, 'scarol');
		({ room_id: roomA } = await alice.client.createRoom({ preset: 'public_chat', name: 'Room A' }));
		({ room_id: roomB } = await alice.client.createRoom({ preset: 'public_chat', name: 'Room B' }));
		({ room_id: roomC } = await alice.client.createRoom({ preset: 'public_chat', name: 'Room C' }));
		await bob.client.joinRoom(roomA);
		await bob.client.joinRoom(roomB);
		await sendText(alice.client, roomA, 'pineapple pizza in A');
		await sendText(bob.client, roomB, 'a pineapple from bob in B');
		await sendText(alice.client, roomC, 'pineapple secret in C');
	});

	// Spec: "Server Side Search": only events the user is allowed to see.
	it('finds words in the rooms the user is in, and only there', async () => {
		const re = await found(bob, { search_term: 'pineapple' });
		assert.deepEqual(new Set(bodiesOf(re)), new Set(['pineapple pizza in A', 'a pineapple from bob in B']));
		assert.equal(re.count, 2);
		for (const r of re.results) {
			assert.ok([roomA, roomB].includes(r.result.room_id));
			assert.equal(typeof r.rank, 'number');
			assert.ok(r.rank > 0, 'a positive rank');
			assert.equal(r.result.type, 'm.room.message');
			assert.equal(typeof r.result.sender, 'string');
			assert.equal(typeof r.result.origin_server_ts, 'number');
			assert.equal(r.result.signatures, undefined, 'client format, not a PDU');
			assert.equal(r.context, undefined, 'no context unless asked');
		}
		assert.ok(re.highlights.includes('pineapple'));
		const all = await found(alice, { search_term: 'pineapple' });
		assert.equal(all.results.length, 3);
		const none = await found(carol, { search_term: 'pineapple' });
		assert.deepEqual(none.results, []);
		assert.equal(none.count, 0);
	});

	it('works through the SDK (searchRoomEvents)', async () => {
		const sr = await bob.client.searchRoomEvents({ term: 'pineapple' });
		assert.equal(sr.results.length, 2);
		const got = sr.results.map((r) => r.context.getEvent().getContent().body);
		assert.deepEqual(new Set(got), new Set(['pineapple pizza in A', 'a pineapple from bob in B']));
		assert.ok(sr.highlights.includes('pineapple'));
		const raw = await bob.client.searchMessageText({ query: 'pizza', keys: ['content.body'] });
		assert.equal(raw.search_categories.room_events.results.length, 1);
	});

	// Spec: "Room History Visibility" (joined) and "it won't include events in rooms
	// that happened after you left".
	it('never returns what the user could not see: before joining, after leaving', async () => {
		const { room_id: roomId } = await alice.client.createRoom({
			preset: 'public_chat',
			initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
		});
		await sendText(alice.client, roomId, 'kiwi before bob joined');
		await carol.client.joinRoom(roomId);
		await sendText(alice.client, roomId, 'kiwi while carol is in');
		let re = await found(carol, { search_term: 'kiwi' });
		assert.deepEqual(bodiesOf(re), ['kiwi while carol is in']);
		await carol.client.leave(roomId);
		await sendText(alice.client, roomId, 'kiwi after carol left');
		re = await found(carol, { search_term: 'kiwi' });
		assert.deepEqual(bodiesOf(re), ['kiwi while carol is in'], 'a left room: up to the leave');
		// Forgotten: nothing at all.
		await carol.client.forget(roomId);
		re = await found(carol, { search_term: 'kiwi' });
		assert.deepEqual(bodiesOf(re), []);
		re = await found(alice, { search_term: 'kiwi', order_by: 'recent' });
		assert.deepEqual(bodiesOf(re), ['kiwi after carol left', 'kiwi while carol is in', 'kiwi before bob joined']);
	});

	it('ignores case and accents both ways', async () => {
		await sendText(alice.client, roomA, 'Crème brûlée au café');
		await sendText(alice.client, roomA, 'plain cafe latte');
		let re = await found(bob, { search_term: 'creme brulee' });
		assert.deepEqual(bodiesOf(re), ['Crème brûlée au café']);
		re = await found(bob, { search_term: 'CAFÉ', order_by: 'recent' });
		assert.deepEqual(bodiesOf(re), ['plain cafe latte', 'Crème brûlée au café']);
		assert.ok(re.highlights.includes('CAFÉ'), 'the word searched');
		assert.ok(re.highlights.includes('café') && re.highlights.includes('cafe'), 'and the forms found');
		// Words match by their start: "caf" finds both.
		re = await found(bob, { search_term: 'caf' });
		assert.equal(re.results.length, 2);
	});

	// Spec: the keys content.body, content.name, content.topic (defaults to all).
	it('searches room names and topics by key', async () => {
		const { room_id: roomId } = await alice.client.createRoom({
			preset: 'public_chat', name: 'Zephyr Lounge', topic: 'breezy zephyr talk',
		});
		await bob.client.joinRoom(roomId);
		await sendText(alice.client, roomId, 'zephyr in a message');
		let re = await found(bob, { search_term: 'zephyr', order_by: 'recent' });
		assert.deepEqual(re.results.map((r) => r.result.type), ['m.room.message', 'm.room.topic', 'm.room.name']);
		re = await found(bob, { search_term: 'zephyr', keys: ['content.name'] });
		assert.deepEqual(re.results.map((r) => r.result.content.name), ['Zephyr Lounge']);
		re = await found(bob, { search_term: 'zephyr', keys: ['content.topic'] });
		assert.deepEqual(re.results.map((r) => r.result.content.topic), ['breezy zephyr talk']);
		re = await found(bob, { search_term: 'breezy', keys: ['content.body', 'content.name'] });
		assert.deepEqual(re.results, []);
		// m.topic's text/plain body stands in for an empty topic.
		await alice.client.sendStateEvent(roomId, 'm.room.topic', {
			topic: '', 'm.topic': { 'm.text': [{ mimetype: 'text/html', body: '<i>gusty</i>' }, { body: 'gusty winds' }] },
		}, '');
		re = await found(bob, { search_term: 'gusty', keys: ['content.topic'] });
		assert.equal(re.results.length, 1);
	});

	// Spec: filter is a RoomEventFilter.
	it('applies the filter: rooms, senders, types, contains_url, limit', async () => {
		const { event_id: imageId } = await alice.client.sendEvent(roomB, 'm.room.message', {
			msgtype: 'm.image', body: 'pineapple.png', url: 'mxc://localhost/pineapple',
		}, txnId());
		let re = await found(bob, { search_term: 'pineapple', filter: { rooms: [roomA] } });
		assert.deepEqual(bodiesOf(re), ['pineapple pizza in A']);
		re = await found(bob, { search_term: 'pineapple', filter: { not_rooms: [roomA] }, order_by: 'recent' });
		assert.deepEqual(bodiesOf(re), ['pineapple.png', 'a pineapple from bob in B']);
		re = await found(bob, { search_term: 'pineapple', filter: { rooms: [roomC] } });
		assert.deepEqual(re.results, [], 'a filter cannot open a room the user is not in');
		re = await found(bob, { search_term: 'pineapple', filter: { senders: [bob.userId] } });
		assert.deepEqual(bodiesOf(re), ['a pineapple from bob in B']);
		re = await found(bob, { search_term: 'pineapple', filter: { not_senders: [bob.userId] }, order_by: 'recent' });
		assert.deepEqual(bodiesOf(re), ['pineapple.png', 'pineapple pizza in A']);
		re = await found(bob, { search_term: 'pineapple', filter: { contains_url: true } });
		assert.deepEqual(idsOf(re), [imageId]);
		re = await found(bob, { search_term: 'pineapple', filter: { contains_url: false } });
		assert.equal(re.results.length, 2);
		re = await found(bob, { search_term: 'room', filter: { types: ['m.room.name'] } });
		assert.deepEqual(new Set(re.results.map((r) => r.result.content.name)), new Set(['Room A', 'Room B']));
		re = await found(bob, { search_term: 'pineapple', filter: { types: ['m.room.*'], not_types: ['m.room.message'] } });
		assert.deepEqual(re.results, []);
		re = await found(bob, { search_term: 'pineapple', filter: { limit: 1 } });
		assert.equal(re.results.length, 1);
		assert.equal(typeof re.next_batch, 'string');
	});

	// Spec: "Ordering": rank (the default) is most relevant first, recent is newest first.
	it('orders by rank or by recency', async () => {
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat' });
		await bob.client.joinRoom(roomId);
		const ids = [];
		for (const b of ['mango mango mango', 'a very long sentence that mentions mango only once among a great many other words',
			'mangoes', 'mango']) ids.push(await sendText(alice.client, roomId, b));
		const recent = await found(bob, { search_term: 'mango', order_by: 'recent' });
		assert.deepEqual(idsOf(recent), [...ids].reverse());
		const rank = await found(bob, { search_term: 'mango' });
		assert.equal(rank.results.length, 4);
		assert.equal(rank.results[0].result.content.body, 'mango mango mango');
		for (let i = 1; i < rank.results.length; i++) assert.ok(rank.results[i - 1].rank >= rank.results[i].rank, 'ranks never increase');
		const pos = (b) => rank.results.findIndex((r) => r.result.content.body === b);
		assert.ok(pos('mango') < pos('mangoes'), 'the exact word above a longer word');
		const explicit = await found(bob, { search_term: 'mango', order_by: 'rank' });
		assert.deepEqual(idsOf(explicit), idsOf(rank));
	});

	// Spec: event_context (before_limit, after_limit, include_profile -> profile_info).
	it('returns context with profile_info', async () => {
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat' });
		await bob.client.joinRoom(roomId);
		await bob.client.setDisplayName('Bobby Tables');
		await sendMany(alice.client, roomId, ['ctx one', 'ctx two'], 1);
		const target = await sendText(bob.client, roomId, 'the grapefruit moment');
		await sendMany(alice.client, roomId, ['ctx three', 'ctx four', 'ctx five'], 1);
		const re = await found(bob, {
			search_term: 'grapefruit',
			event_context: { before_limit: 2, after_limit: 2, include_profile: true },
		});
		assert.equal(re.results.length, 1);
		const { result, context } = re.results[0];
		assert.equal(result.event_id, target);
		assert.deepEqual(context.events_before.map((e) => e.content.body), ['ctx two', 'ctx one']);
		assert.deepEqual(context.events_after.map((e) => e.content.body), ['ctx three', 'ctx four']);
		assert.equal(context.profile_info[bob.userId].displayname, 'Bobby Tables');
		assert.ok(context.profile_info[alice.userId], 'every sender of the context');
		// The tokens go on with /messages.
		const more = await rawMessages(srv, bob, roomId, { dir: 'f', from: context.end, limit: 10 });
		assert.equal(more.status, 200, more.text);
		assert.deepEqual(more.json.chunk.map((e) => e.content.body), ['ctx five']);
		const back = await rawMessages(srv, bob, roomId, { dir: 'b', from: context.start, limit: 1 });
		assert.equal(back.status, 200, back.text);
		assert.equal(back.json.chunk.length, 1);
		assert.notEqual(back.json.chunk[0].content.body, 'ctx one', 'before the oldest context event');
		// The SDK's default search asks for context too.
		const sr = await bob.client.searchRoomEvents({ term: 'grapefruit' });
		assert.equal(sr.results[0].context.getTimeline().length, 3);
		// Limits of 0: empty sides.
		const bare = await found(bob, { search_term: 'grapefruit', event_context: { before_limit: 0, after_limit: 0 } });
		assert.deepEqual(bare.results[0].context.events_before, []);
		assert.deepEqual(bare.results[0].context.events_after, []);
		assert.equal(bare.results[0].context.profile_info, undefined);
	});

	// Spec: include_state: the current state for every room in the results.
	it('includes the state of the rooms in the results', async () => {
		const re = await found(bob, { search_term: 'pineapple', include_state: true, filter: { rooms: [roomA] } });
		assert.deepEqual(Object.keys(re.state), [roomA]);
		const types = re.state[roomA].map((e) => e.type);
		for (const t of ['m.room.create', 'm.room.power_levels', 'm.room.name', 'm.room.member']) assert.ok(types.includes(t), t);
		assert.ok(re.state[roomA].every((e) => typeof e.state_key === 'string' && e.event_id));
		const without = await found(bob, { search_term: 'pineapple' });
		assert.equal(without.state, undefined);
	});

	// Spec: "Groups": room_id and sender.
	it('groups results by room and by sender', async () => {
		const re = await found(bob, {
			search_term: 'pineapple', order_by: 'recent', groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] },
		});
		const byRoom = re.groups.room_id;
		assert.deepEqual(new Set(Object.keys(byRoom)), new Set([roomA, roomB]));
		const flat = Object.values(byRoom).flatMap((g) => g.results);
		assert.deepEqual(new Set(flat), new Set(idsOf(re)));
		assert.deepEqual(Object.values(byRoom).map((g) => g.order).sort(), [1, 2]);
		for (const g of Object.values(byRoom)) assert.ok(Number.isInteger(g.order));
		assert.deepEqual(new Set(Object.keys(re.groups.sender)), new Set([alice.userId, bob.userId]));
		assert.deepEqual(re.groups.sender[bob.userId].results.length, 1);
	});

	// Spec: "Pagination": next_batch until it is absent, inside a group too.
	it('paginates with next_batch until exhausted, in both orders', async () => {
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat' });
		await bob.client.joinRoom(roomId);
		const N = 45;
		const texts = Array.from({ length: N }, (_, i) => `papaya ${i} ${'papaya '.repeat(i % 4)}`.trim());
		const sent = await sendMany(alice.client, roomId, texts, 10);
		for (const order_by of ['recent', 'rank']) {
			const { results, pages } = await allPages(bob, { search_term: 'papaya', order_by, filter: { limit: 10 } });
			const ids = results.map((r) => r.result.event_id);
			assert.equal(new Set(ids).size, ids.length, `${order_by}: no duplicates`);
			assert.deepEqual(new Set(ids), new Set(sent), `${order_by}: nothing missing`);
			assert.equal(pages.length, 5, `${order_by}: pages of 10`);
			for (const p of pages) assert.equal(p.count, N, 'count is the total');
			if (order_by === 'recent') assert.deepEqual(ids, [...sent].reverse());
			else for (let i = 1; i < results.length; i++) assert.ok(results[i - 1].rank >= results[i].rank, 'ranks never increase across pages');
		}
		// A group's next_batch pages within that group.
		const grouped = await found(bob, {
			search_term: 'papaya pineapple', order_by: 'recent', filter: { limit: 3 }, groupings: { group_by: [{ key: 'room_id' }] },
		});
		assert.equal(grouped.results.length, 0, 'both words needed');
		const first = await found(bob, {
			search_term: 'papaya', order_by: 'recent', filter: { limit: 20 }, groupings: { group_by: [{ key: 'room_id' }] },
		});
		const group = first.groups.room_id[roomId];
		assert.equal(typeof group.next_batch, 'string');
		const rest = await found(bob, {
			search_term: 'papaya', order_by: 'recent', filter: { limit: 50 }, groupings: { group_by: [{ key: 'room_id' }] },
		}, group.next_batch);
		assert.equal(rest.results.length, N - 20);
		assert.ok(rest.results.every((r) => r.result.room_id === roomId));
		assert.equal(rest.next_batch, undefined);
		// Through the SDK.
		let sr = await bob.client.searchRoomEvents({ term: 'papaya', filter: { limit: 7 } });
		while (sr.next_batch) sr = await bob.client.backPaginateRoomEventsSearch(sr);
		const sdkIds = sr.results.map((r) => r.context.getEvent().getId());
		assert.equal(new Set(sdkIds).size, N);
		assert.equal(sdkIds.length, N);
	});

	it('drops redacted events from the results', async () => {
		const id = await sendText(alice.client, roomA, 'ephemeral starfruit secret');
		let re = await found(bob, { search_term: 'starfruit' });
		assert.deepEqual(idsOf(re), [id]);
		await alice.client.redactEvent(roomA, id);
		re = await found(bob, { search_term: 'starfruit' });
		assert.deepEqual(re.results, []);
		assert.equal(re.count, 0);
		// A redacted room name leaves too.
		const { room_id: roomId } = await alice.client.createRoom({ preset: 'public_chat', name: 'Quokka Corner' });
		const name = (await found(alice, { search_term: 'quokka' })).results[0].result.event_id;
		await alice.client.redactEvent(roomId, name);
		assert.deepEqual((await found(alice, { search_term: 'quokka' })).results, []);
	});

	// The term is words, never FTS query syntax.
	it('treats hostile terms as text', async () => {
		await sendText(alice.client, roomA, 'NEAR the (parenthesised) "quoted" * star OR AND NOT');
		const terms = ['"', '""', '"unclosed', 'NEAR(a b)', 'NEAR', '*', '* *', '((', ')', 'a OR b', 'OR', 'AND NOT', 'NOT x',
			'body:x', '{body}: x', '^x', 'x*', '-', '+', ':', "'", '\\', 'x"y', '"quoted"', 'parenthesised)',
			'\u00a0', '😀 🎉', 'تست', '日本語', 'x'.repeat(300)];
		for (const t of terms) {
			const res = await search(bob, { search_term: t });
			assert.equal(res.status, 200, `${JSON.stringify(t)}: ${res.text}`);
		}
		let re = await found(bob, { search_term: 'NEAR' });
		assert.equal(re.results.length, 1, 'NEAR is a word');
		re = await found(bob, { search_term: '"quoted" (parenthesised) star OR' });
		assert.equal(re.results.length, 1, 'quotes and parentheses are text');
		re = await found(bob, { search_term: 'NOT' });
		assert.equal(re.results.length, 1);
		// Empty or punctuation only: no results, as Synapse.
		for (const t of ['', '   ', '!!!', '"" ()', '* * *']) {
			re = await found(bob, { search_term: t });
			assert.deepEqual(re.results, [], JSON.stringify(t));
			assert.equal(re.count, 0);
		}
		// Too long: a clear 400, not a slow query.
		const big = await search(bob, { search_term: 'word '.repeat(2048) });
		assertError(big, 400, 'M_INVALID_PARAM');
		const longWord = await search(bob, { search_term: 'x'.repeat(10 * 1024) });
		assertError(longWord, 400, 'M_INVALID_PARAM');
		const manyWords = await search(bob, { search_term: Array.from({ length: 65 }, (_, i) => `w${i}`).join(' ') });
		assertError(manyWords, 400, 'M_INVALID_PARAM');
	});

	it('refuses bad requests', async () => {
		const raw = (body, q = '') => api(srv, 'POST', `/_matrix/client/v3/search${q}`, { token: bob.accessToken, json: body });
		assertError(await raw({}), 400, 'M_MISSING_PARAM');
		assertError(await raw({ search_categories: [] }), 400, 'M_BAD_JSON');
		assertError(await raw({ search_categories: { room_events: {} } }), 400, 'M_MISSING_PARAM');
		assertError(await raw({ search_categories: { room_events: { search_term: 5 } } }), 400, 'M_BAD_JSON');
		assertError(await search(bob, { search_term: 'x', order_by: 'oldest' }), 400, 'M_INVALID_PARAM');
		assertError(await search(bob, { search_term: 'x', keys: 'content.body' }), 400, 'M_BAD_JSON');
		assertError(await search(bob, { search_term: 'x', groupings: { group_by: [{ key: 'type' }] } }), 400, 'M_INVALID_PARAM');
		assertError(await search(bob, { search_term: 'x', event_context: { before_limit: -1 } }), 400, 'M_INVALID_PARAM');
		assertError(await search(bob, { search_term: 'x', event_context: { after_limit: 'many' } }), 400, 'M_BAD_JSON');
		assertError(await search(bob, { search_term: 'x', filter: 'none' }), 400, 'M_BAD_JSON');
		for (const tok of ['nonsense', 'eyJvIjoicmFuayJ9', '%%%', 'x'.repeat(5000)])
			assertError(await search(bob, { search_term: 'pineapple' }, tok), 400, 'M_INVALID_PARAM');
		// A token of the other order.
		const re = await found(bob, { search_term: 'pineapple', order_by: 'recent', filter: { limit: 1 } });
		assertError(await search(bob, { search_term: 'pineapple', order_by: 'rank' }, re.next_batch), 400, 'M_INVALID_PARAM');
		// No room_events: nothing to answer.
		const other = await raw({ search_categories: {} });
		assert.equal(other.status, 200, other.text);
		assert.deepEqual(other.json, { search_categories: {} });
		const anon = await api(srv, 'POST', '/_matrix/client/v3/search', { json: { search_categories: {} } });
		assertError(anon, 401, 'M_MISSING_TOKEN');
	});
});
