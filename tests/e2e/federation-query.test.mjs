// SPDX-License-Identifier: Apache-2.0
//
// Queries over federation (SPEC: server-server-api#querying-for-information,
// #public-room-directory; client-server-api#profiles, #room-aliases,
// #published-room-directory): two Myelin servers with TLS federation
// listeners, and a hand-written remote homeserver that signs its requests.
// A user of one server reads profiles, resolves aliases and lists the
// published rooms of the other through their own server; the federation
// endpoints answer signed requests only, about their own users and
// aliases; remote failures become the errors Synapse gives.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { api, assertError, register, rejects, uniqueName } from './lib/matrix.mjs';
import { assertCleanExit, freePort } from './lib/server.mjs';
import { makeTestPki, federatingServer, FakeRemote } from './lib/federation.mjs';

const enc = encodeURIComponent;

/** A FakeRemote answer as the Matrix-shaped result the assertions want. */
function raw(res) {
	return { ...res, text: res.body.toString(), headers: new Headers(res.headers) };
}

function reply(res, status, json) {
	res.writeHead(status, { 'Content-Type': 'application/json' });
	res.end(JSON.stringify(json));
}

describe('federation queries', () => {
	let tmp, pki, a, b, fake, flaky, alice, bob, dead;
	let aliceRoom, aliceAlias;
	const tag = uniqueName('fq');

	before(async () => {
		tmp = await mkdtemp(path.join(os.tmpdir(), 'myelin-fedq-'));
		pki = makeTestPki(tmp);
		// A keeps the default (its room list is not shared); B shares it.
		a = await federatingServer(pki, tmp);
		b = await federatingServer(pki, tmp, { allow_public_rooms_over_federation: true });
		await a.start();
		await b.start();
		fake = await new FakeRemote(pki).start();
		// A remote that fails with 5xx is backed off (DESIGN.md "Federation
		// manners"): its failures get a remote of their own.
		flaky = await new FakeRemote(pki).start();
		dead = `127.0.0.1:${await freePort()}`; // nothing listens there
		alice = await register(b, 'alice');
		bob = await register(a, 'bob');
		await alice.client.setDisplayName('Alice of B');
		await alice.client.setAvatarUrl(`mxc://${b.serverName}/aliceavatar`);
		const tz = await api(b, 'PUT', `/_matrix/client/v3/profile/${enc(alice.user_id)}/m.tz`, {
			token: alice.access_token,
			json: { 'm.tz': 'Europe/Paris' },
		});
		assert.equal(tz.status, 200, tz.text);
		aliceAlias = `#${tag}-main:${b.serverName}`;
		aliceRoom = (await alice.client.createRoom({ visibility: 'public', name: `Main ${tag}`, topic: 'Apples and pears', room_alias_name: `${tag}-main` })).room_id;
	});

	after(async () => {
		await fake?.stop();
		await flaky?.stop();
		for (const s of [a, b]) {
			if (s?.proc) assertCleanExit(await s.stop(), s);
		}
		for (const s of [a, b]) await s?.cleanup();
		if (tmp && !process.env.MYELIN_E2E_KEEP) await rm(tmp, { recursive: true, force: true });
	});

	// ---- profiles ----

	it('a user reads the profile of another server\'s user through their own, whole and per field', async () => {
		const p = await bob.client.getProfileInfo(alice.user_id);
		assert.equal(p.displayname, 'Alice of B');
		assert.equal(p.avatar_url, `mxc://${b.serverName}/aliceavatar`);
		assert.equal(p['m.tz'], 'Europe/Paris', 'extended fields come along with the whole profile');
		assert.deepEqual(await bob.client.getProfileInfo(alice.user_id, 'displayname'), { displayname: 'Alice of B' });
		assert.deepEqual(await bob.client.getProfileInfo(alice.user_id, 'avatar_url'), { avatar_url: `mxc://${b.serverName}/aliceavatar` });
		const tz = await api(a, 'GET', `/_matrix/client/v3/profile/${enc(alice.user_id)}/m.tz`, { token: bob.access_token });
		assert.equal(tz.status, 200, tz.text);
		assert.deepEqual(tz.json, { 'm.tz': 'Europe/Paris' });
		// Profile reads need no token, also for remote users.
		const anon = await api(a, 'GET', `/_matrix/client/v3/profile/${enc(alice.user_id)}/displayname`);
		assert.deepEqual(anon.json, { displayname: 'Alice of B' });
	});

	it('an unknown remote user or field is 404 M_NOT_FOUND', async () => {
		await rejects(bob.client.getProfileInfo(`@nobody:${b.serverName}`), 404, 'M_NOT_FOUND');
		await rejects(bob.client.getProfileInfo(`@nobody:${b.serverName}`, 'displayname'), 404, 'M_NOT_FOUND');
		const field = await api(a, 'GET', `/_matrix/client/v3/profile/${enc(alice.user_id)}/org.example.none`);
		assertError(field, 404, 'M_NOT_FOUND');
	});

	it('remote answers are cached briefly; a refusal passes on as 403, a failure is 502', async () => {
		let asked = 0;
		fake.handle('GET', '/_matrix/federation/v1/query/profile', (req, res, url) => {
			const user = url.searchParams.get('user_id');
			if (!req.headers.authorization?.startsWith('X-Matrix ')) return reply(res, 401, { errcode: 'M_UNAUTHORIZED', error: 'unsigned' });
			if (user === `@cached:${fake.serverName}`) {
				asked++;
				const field = url.searchParams.get('field');
				if (field && field !== 'displayname') return reply(res, 404, { errcode: 'M_NOT_FOUND', error: 'no such field' });
				return reply(res, 200, { displayname: 'Cached', avatar_url: null });
			}
			if (user === `@private:${fake.serverName}`) return reply(res, 403, { errcode: 'M_FORBIDDEN', error: 'not telling' });
			return reply(res, 404, { errcode: 'M_NOT_FOUND', error: 'unknown user' });
		});
		flaky.handle('GET', '/_matrix/federation/v1/query/profile', (req, res, url) => {
			if (url.searchParams.get('user_id') === `@notjson:${flaky.serverName}`) {
				res.writeHead(200, { 'Content-Type': 'text/plain' });
				return res.end('hello');
			}
			return reply(res, 500, { errcode: 'M_UNKNOWN', error: 'oops' });
		});
		const cached = `@cached:${fake.serverName}`;
		assert.equal((await bob.client.getProfileInfo(cached)).displayname, 'Cached');
		assert.deepEqual(await bob.client.getProfileInfo(cached, 'displayname'), { displayname: 'Cached' });
		assert.equal((await bob.client.getProfileInfo(cached)).displayname, 'Cached');
		assert.equal(asked, 1, 'one request served the profile and its displayname');
		// A field the whole answer does not have is asked for (null is "not set").
		await rejects(bob.client.getProfileInfo(cached, 'avatar_url'), 404, 'M_NOT_FOUND');
		assert.equal(asked, 2);

		await rejects(bob.client.getProfileInfo(`@private:${fake.serverName}`), 403, 'M_FORBIDDEN');
		await rejects(bob.client.getProfileInfo(`@notjson:${flaky.serverName}`), 502, 'M_UNKNOWN');
		await rejects(bob.client.getProfileInfo(`@broken:${flaky.serverName}`), 502, 'M_UNKNOWN');
	});

	// ---- aliases ----

	it('a user resolves another server\'s alias through their own', async () => {
		const res = await bob.client.getRoomIdForAlias(aliceAlias);
		assert.equal(res.room_id, aliceRoom);
		assert.ok(res.servers.includes(b.serverName), JSON.stringify(res.servers));
		assert.ok(!res.servers.includes(a.serverName), 'A is not in the room, so it is not offered');
		await rejects(bob.client.getRoomIdForAlias(`#${tag}-missing:${b.serverName}`), 404, 'M_NOT_FOUND');
	});

	it('aliases of other servers in m.room.canonical_alias are checked with their servers', async () => {
		const { room_id: roomId } = await bob.client.createRoom({ name: 'Bob on A' });
		fake.handle('GET', '/_matrix/federation/v1/query/directory', (req, res, url) => {
			const alias = url.searchParams.get('room_alias');
			if (alias === `#good:${fake.serverName}`) return reply(res, 200, { room_id: roomId, servers: [fake.serverName, 'bad server name!'] });
			if (alias === `#other:${fake.serverName}`) return reply(res, 200, { room_id: aliceRoom, servers: [] });
			return reply(res, 404, { errcode: 'M_NOT_FOUND', error: 'no alias' });
		});
		await bob.client.sendStateEvent(roomId, 'm.room.canonical_alias', { alt_aliases: [`#good:${fake.serverName}`] });
		for (const alias of [aliceAlias, `#other:${fake.serverName}`, `#nope:${fake.serverName}`]) {
			await rejects(bob.client.sendStateEvent(roomId, 'm.room.canonical_alias', { alt_aliases: [`#good:${fake.serverName}`, alias] }), 400, 'M_BAD_ALIAS');
		}
		await rejects(bob.client.sendStateEvent(roomId, 'm.room.canonical_alias', { alias: `#x:${dead}` }), 502, 'M_UNKNOWN');
		// The resolved servers are cleaned of names that cannot be servers.
		const res = await bob.client.getRoomIdForAlias(`#good:${fake.serverName}`);
		assert.equal(res.room_id, roomId);
		assert.deepEqual(res.servers, [a.serverName, fake.serverName], 'A is in the room: it comes first');
	});

	// ---- published room lists ----

	it('a user lists another server\'s published rooms, searches and pages them', async () => {
		const more = [];
		for (const n of ['Second', 'Third']) {
			more.push((await alice.client.createRoom({ visibility: 'public', name: `${n} ${tag}` })).room_id);
		}
		const all = await bob.client.publicRooms({ server: b.serverName });
		const ours = all.chunk.filter((r) => r.name?.endsWith(tag));
		assert.deepEqual(new Set(ours.map((r) => r.room_id)), new Set([aliceRoom, ...more]));
		const main = ours.find((r) => r.room_id === aliceRoom);
		assert.equal(main.canonical_alias, aliceAlias);
		assert.equal(main.topic, 'Apples and pears');
		assert.equal(main.num_joined_members, 1);
		assert.ok(all.total_room_count_estimate >= 3);

		const found = await bob.client.publicRooms({ server: b.serverName, filter: { generic_search_term: 'APPLES' } });
		assert.deepEqual(found.chunk.map((r) => r.room_id), [aliceRoom]);

		const seen = [];
		let since;
		for (let i = 0; i < 10; i++) {
			const page = await bob.client.publicRooms({ server: b.serverName, limit: 1, since, filter: { generic_search_term: tag } });
			assert.ok(page.chunk.length <= 1);
			seen.push(...page.chunk.map((r) => r.room_id));
			if (!page.next_batch) break;
			since = page.next_batch;
		}
		assert.equal(seen.length, 3, 'three pages of one, no room twice');
		assert.deepEqual(new Set(seen), new Set([aliceRoom, ...more]));
		// GET pages too (the plain listing, through GET over federation).
		const first = await api(a, 'GET', `/_matrix/client/v3/publicRooms?server=${enc(b.serverName)}&limit=1`, { token: bob.access_token });
		assert.equal(first.status, 200, first.text);
		assert.equal(first.json.chunk.length, 1);
		assert.ok(first.json.next_batch);
		const second = await api(a, 'GET', `/_matrix/client/v3/publicRooms?server=${enc(b.serverName)}&limit=1&since=${enc(first.json.next_batch)}`, { token: bob.access_token });
		assert.equal(second.json.chunk.length, 1);
		assert.notEqual(second.json.chunk[0].room_id, first.json.chunk[0].room_id);
		// Our own list is public; asking another server for it takes a token (as Synapse).
		const anon = await api(a, 'GET', `/_matrix/client/v3/publicRooms?server=${enc(b.serverName)}`);
		assertError(anon, 401, 'M_MISSING_TOKEN');
	});

	it('a server that keeps its list to itself is 403; a search it cannot do is done here', async () => {
		await rejects(alice.client.publicRooms({ server: a.serverName }), 403, 'M_FORBIDDEN');
		let posts = 0;
		fake.handle('POST', '/_matrix/federation/v1/publicRooms', (req, res) => {
			posts++;
			reply(res, 404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
		});
		fake.handle('GET', '/_matrix/federation/v1/publicRooms', (req, res) => {
			reply(res, 200, {
				chunk: [
					{ room_id: `!apple:${fake.serverName}`, name: 'Apple growers', num_joined_members: 5, world_readable: false, guest_can_join: false },
					{ room_id: `!pear:${fake.serverName}`, name: 'Pear people', num_joined_members: 3 },
					{ name: 'no room id: dropped' },
				],
				next_batch: 'fake-token',
			});
		});
		const plain = await bob.client.publicRooms({ server: fake.serverName });
		assert.deepEqual(plain.chunk.map((r) => r.room_id), [`!apple:${fake.serverName}`, `!pear:${fake.serverName}`]);
		assert.equal(plain.chunk[1].world_readable, false, 'required fields filled in');
		assert.equal(plain.next_batch, 'fake-token');
		const searched = await bob.client.publicRooms({ server: fake.serverName, filter: { generic_search_term: 'pear' } });
		assert.equal(posts, 1);
		assert.deepEqual(searched.chunk.map((r) => r.room_id), [`!pear:${fake.serverName}`]);
		assert.equal(searched.next_batch, undefined, 'a list filtered here is not paged');
	});

	it('an unreachable server is 502 at once, for every query', async () => {
		const t0 = Date.now();
		await rejects(bob.client.getProfileInfo(`@someone:${dead}`), 502, 'M_UNKNOWN');
		await rejects(bob.client.getProfileInfo(`@someone:${dead}`, 'displayname'), 502, 'M_UNKNOWN');
		await rejects(bob.client.getRoomIdForAlias(`#room:${dead}`), 502, 'M_UNKNOWN');
		await rejects(bob.client.publicRooms({ server: dead }), 502, 'M_UNKNOWN');
		await rejects(bob.client.publicRooms({ server: dead, filter: { generic_search_term: 'x' } }), 502, 'M_UNKNOWN');
		assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
		const bad = await api(a, 'GET', '/_matrix/client/v3/publicRooms?server=not%20a%20server', { token: bob.access_token });
		assertError(bad, 400, 'M_INVALID_PARAM');
	});

	// ---- the federation endpoints, asked directly ----

	it('query/profile answers signed requests about its own users only', async () => {
		const q = (user, extra = '') => `/_matrix/federation/v1/query/profile?user_id=${enc(user)}${extra}`;
		let res = await fake.request(b, 'GET', q(alice.user_id));
		assert.equal(res.status, 200);
		assert.deepEqual(res.json, { displayname: 'Alice of B', avatar_url: `mxc://${b.serverName}/aliceavatar`, 'm.tz': 'Europe/Paris' });
		res = await fake.request(b, 'GET', q(alice.user_id, '&field=displayname'));
		assert.deepEqual(res.json, { displayname: 'Alice of B' });
		res = await fake.request(b, 'GET', q(alice.user_id, '&field=org.example.none'));
		assertError(raw(res), 404, 'M_NOT_FOUND');
		res = await fake.request(b, 'GET', q(`@nobody:${b.serverName}`));
		assertError(raw(res), 404, 'M_NOT_FOUND');
		res = await fake.request(b, 'GET', q(bob.user_id));
		assertError(raw(res), 400, 'M_INVALID_PARAM', 'a user of another server');
		res = await fake.request(b, 'GET', '/_matrix/federation/v1/query/profile');
		assertError(raw(res), 400, 'M_MISSING_PARAM');
		res = await fake.request(b, 'GET', q('not-a-user-id'));
		assertError(raw(res), 400, 'M_INVALID_PARAM');
		res = await fake.request(b, 'GET', q(alice.user_id), { authorization: null });
		assertError(raw(res), 401, 'M_UNAUTHORIZED');
	});

	it('query/directory resolves its own aliases with the servers in the room', async () => {
		const q = (alias) => `/_matrix/federation/v1/query/directory?room_alias=${enc(alias)}`;
		let res = await fake.request(b, 'GET', q(aliceAlias));
		assert.equal(res.status, 200);
		assert.equal(res.json.room_id, aliceRoom);
		assert.deepEqual(res.json.servers, [b.serverName]);
		res = await fake.request(b, 'GET', q(`#${tag}-missing:${b.serverName}`));
		assertError(raw(res), 404, 'M_NOT_FOUND');
		res = await fake.request(b, 'GET', q(`#elsewhere:${a.serverName}`));
		assertError(raw(res), 400, 'M_INVALID_PARAM');
		res = await fake.request(b, 'GET', '/_matrix/federation/v1/query/directory');
		assertError(raw(res), 400, 'M_MISSING_PARAM');
		res = await fake.request(b, 'GET', q(aliceAlias), { authorization: null });
		assertError(raw(res), 401, 'M_UNAUTHORIZED');
	});

	it('publicRooms over federation: GET and POST, rooms that do not federate left out', async () => {
		const local = (await alice.client.createRoom({ visibility: 'public', name: `Local only ${tag}`, creation_content: { 'm.federate': false } })).room_id;
		const mine = (r) => r.json.chunk.filter((e) => e.name?.endsWith(tag)).map((e) => e.room_id);
		let res = await fake.request(b, 'GET', '/_matrix/federation/v1/publicRooms?limit=100');
		assert.equal(res.status, 200, res.body.toString());
		assert.ok(mine(res).includes(aliceRoom));
		assert.ok(!mine(res).includes(local), 'm.federate false rooms are not shown to other servers');
		const own = await alice.client.publicRooms({ filter: { generic_search_term: tag } });
		assert.ok(own.chunk.some((e) => e.room_id === local), 'but our own users see it');
		res = await fake.request(b, 'POST', '/_matrix/federation/v1/publicRooms', { json: { limit: 10, filter: { generic_search_term: 'pears' } } });
		assert.equal(res.status, 200, res.body.toString());
		assert.deepEqual(res.json.chunk.map((e) => e.room_id), [aliceRoom]);
		res = await fake.request(b, 'POST', '/_matrix/federation/v1/publicRooms', { json: { include_all_networks: true, third_party_instance_id: 'irc' } });
		assertError(raw(res), 400, 'M_INVALID_PARAM');
		res = await fake.request(b, 'GET', '/_matrix/federation/v1/publicRooms?limit=ten');
		assertError(raw(res), 400, 'M_INVALID_PARAM');
		res = await fake.request(b, 'GET', '/_matrix/federation/v1/publicRooms', { authorization: null });
		assertError(raw(res), 401, 'M_UNAUTHORIZED');
		res = await fake.request(a, 'GET', '/_matrix/federation/v1/publicRooms');
		assertError(raw(res), 403, 'M_FORBIDDEN', 'allow_public_rooms_over_federation is off by default');
	});
});
