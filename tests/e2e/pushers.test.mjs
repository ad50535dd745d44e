// SPDX-License-Identifier: Apache-2.0
//
// Pushers: GET /pushers and POST /pushers/set through matrix-js-sdk
// (getPushers, setPusher), and delivery to a push gateway: a Node HTTP
// server on 127.0.0.1 that records every POST /_matrix/push/v1/notify and
// answers as each test tells it (200, 500, a "rejected" pushkey, or not at
// all). Loopback is on the default ip_range_blacklist, so the config
// whitelists 127.0.0.0/8, as a deployment with a local Sygnal would.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { useServer } from './lib/server.mjs';
import { api, assertError, login, register } from './lib/matrix.mjs';
import { eventually, sleep, txnId } from './lib/rooms.mjs';

const srv = useServer({
	config: {
		ip_range_whitelist: ['127.0.0.0/8'],
		rc_message: { per_second: 1000, burst_count: 1000 },
	},
});
const enc = encodeURIComponent;
const NOTIFY = '/_matrix/push/v1/notify';

/** A push gateway that records what it gets; `respond(req)` decides the answer. */
class Gateway {
	constructor() {
		this.requests = [];
		this.respond = () => ({ status: 200, json: { rejected: [] } });
	}

	async start(port = 0) {
		this.server = http.createServer((req, res) => {
			const chunks = [];
			req.on('data', (c) => chunks.push(c));
			req.on('end', () => {
				const text = Buffer.concat(chunks).toString('utf8');
				let json;
				try {
					json = JSON.parse(text);
				} catch {
					json = undefined;
				}
				const rec = { method: req.method, path: req.url, headers: req.headers, json, at: Date.now() };
				rec.answer = this.respond(rec);
				this.requests.push(rec);
				res.writeHead(rec.answer.status, { 'Content-Type': 'application/json' });
				res.end(JSON.stringify(rec.answer.json ?? {}));
			});
		});
		await new Promise((resolve) => this.server.listen(port, '127.0.0.1', resolve));
		this.port = this.server.address().port;
		return this;
	}

	async stop() {
		const s = this.server;
		this.server = null;
		s.closeAllConnections();
		await new Promise((resolve) => s.close(resolve));
	}

	get url() {
		return `http://127.0.0.1:${this.port}${NOTIFY}`;
	}

	/** The recorded notifications about eventId. */
	about(eventId) {
		return this.requests.filter((r) => r.json?.notification?.event_id === eventId);
	}

	/** Waits until n requests about eventId arrived (200 or not); returns them. */
	waitFor(eventId, n = 1, ms = 5000) {
		return eventually(() => (this.about(eventId).length >= n ? this.about(eventId) : null), ms,
			`${n} notification(s) of ${eventId}`);
	}
}

const pusherBody = (gw, overrides = {}) => ({
	kind: 'http',
	app_id: 'org.example.app.android',
	app_display_name: 'Example',
	device_display_name: 'Phone',
	profile_tag: 'xyz',
	lang: 'en-US',
	pushkey: `pk-${txnId()}`,
	data: { url: gw.url, custom: 'kept' },
	...overrides,
});

async function createRoom(u, body) {
	const res = await api(srv, 'POST', '/_matrix/client/v3/createRoom', { token: u.access_token, json: body });
	assert.equal(res.status, 200, res.text);
	return res.json.room_id;
}
async function join(u, roomId) {
	const res = await api(srv, 'POST', `/_matrix/client/v3/join/${enc(roomId)}`, { token: u.access_token, json: {} });
	assert.equal(res.status, 200, res.text);
}
async function send(u, roomId, content) {
	const res = await api(srv, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${txnId()}`,
		{ token: u.access_token, json: content });
	assert.equal(res.status, 200, res.text);
	return res.json.event_id;
}
const text = (body) => ({ msgtype: 'm.text', body });
async function setDisplayName(u, name) {
	const res = await api(srv, 'PUT', `/_matrix/client/v3/profile/${enc(u.user_id)}/displayname`,
		{ token: u.access_token, json: { displayname: name } });
	assert.equal(res.status, 200, res.text);
}
const listPushers = async (u) => (await u.client.getPushers()).pushers;

/** A DM from `from` to `to` that `to` joined. */
async function dm(from, to) {
	const roomId = await createRoom(from, { preset: 'trusted_private_chat', is_direct: true, invite: [to.user_id] });
	await join(to, roomId);
	return roomId;
}

describe('pushers API', () => {
	const gw = new Gateway();
	let alice, bob;

	before(async () => {
		await gw.start();
		alice = await register(srv, 'api-alice', 'alice-password');
		bob = await register(srv, 'api-bob', 'bob-password');
	});
	after(() => gw.stop());

	// Spec: POST /pushers/set creates or updates the (app_id, pushkey)
	// pusher of the user; GET /pushers lists it with every field; kind
	// null deletes it.
	it('sets, lists, updates and deletes a pusher', async () => {
		assert.deepEqual(await listPushers(alice), []);
		const p = pusherBody(gw, { data: { url: gw.url, format: 'event_id_only', custom: 'kept' } });
		assert.deepEqual(await alice.client.setPusher(p), {});
		let list = await listPushers(alice);
		assert.equal(list.length, 1);
		for (const [k, v] of Object.entries(p)) assert.deepEqual(list[0][k], v, k);

		// the same app_id and pushkey: updated, not added
		await alice.client.setPusher({ ...p, device_display_name: 'Tablet', lang: 'fr', data: { url: gw.url } });
		list = await listPushers(alice);
		assert.equal(list.length, 1);
		assert.equal(list[0].device_display_name, 'Tablet');
		assert.equal(list[0].lang, 'fr');
		assert.deepEqual(list[0].data, { url: gw.url });

		// another pushkey: a second pusher; profile_tag is optional
		const { profile_tag: _tag, ...noTag } = pusherBody(gw);
		await alice.client.setPusher(noTag);
		list = await listPushers(alice);
		assert.equal(list.length, 2);
		assert.equal(list[1].pushkey, noTag.pushkey);
		assert.ok(!list[1].profile_tag, 'no profile_tag');

		// kind null deletes; deleting what does not exist is fine
		await alice.client.setPusher({ kind: null, app_id: p.app_id, pushkey: p.pushkey });
		list = await listPushers(alice);
		assert.deepEqual(list.map((x) => x.pushkey), [noTag.pushkey]);
		await alice.client.setPusher({ kind: null, app_id: p.app_id, pushkey: p.pushkey });
		await alice.client.setPusher({ kind: null, app_id: noTag.app_id, pushkey: noTag.pushkey });
		assert.deepEqual(await listPushers(alice), []);
	});

	// Spec: append false (the default) removes other users' pushers with the
	// same app_id and pushkey; append true keeps them.
	it('append decides whether other users keep the same pushkey', async () => {
		const p = pusherBody(gw);
		await alice.client.setPusher(p);
		await bob.client.setPusher({ ...p, append: true });
		assert.equal((await listPushers(alice)).length, 1);
		assert.equal((await listPushers(bob)).length, 1);
		await bob.client.setPusher({ ...p, append: false });
		assert.deepEqual(await listPushers(alice), []);
		assert.equal((await listPushers(bob)).length, 1);
		await bob.client.setPusher({ ...p, device_display_name: 'again' }); // no append: same
		assert.deepEqual(await listPushers(alice), []);
		await bob.client.setPusher({ kind: null, app_id: p.app_id, pushkey: p.pushkey });
	});

	// Spec: 400 for invalid values (Synapse's checks: data.url with the
	// notify path; the spec's lengths); nothing is stored.
	it('refuses invalid pushers and stores nothing', async () => {
		const set = (json) => api(srv, 'POST', '/_matrix/client/v3/pushers/set', { token: alice.access_token, json });
		const good = pusherBody(gw);
		const cases = [
			[{ ...good, data: { url: `http://127.0.0.1:${gw.port}/notify` } }, 'M_INVALID_PARAM', 'bad url path'],
			[{ ...good, data: { url: `ftp://127.0.0.1${NOTIFY}` } }, 'M_INVALID_PARAM', 'not http'],
			[{ ...good, data: { url: 'not a url' } }, 'M_INVALID_PARAM', 'not a URL'],
			[{ ...good, data: { url: 42 } }, 'M_INVALID_PARAM', 'url not a string'],
			[{ ...good, data: {} }, 'M_MISSING_PARAM', 'no url'],
			[{ ...good, data: 'x' }, 'M_INVALID_PARAM', 'data not an object'],
			[{ ...good, data: { url: gw.url, blob: 'x'.repeat(5000) } }, 'M_INVALID_PARAM', 'data too large'],
			[{ ...good, lang: undefined, data: undefined }, 'M_MISSING_PARAM', 'missing lang and data'],
			[{ ...good, app_display_name: undefined }, 'M_MISSING_PARAM', 'missing app_display_name'],
			[{ ...good, kind: undefined }, 'M_MISSING_PARAM', 'missing kind'],
			[{ ...good, pushkey: undefined }, 'M_MISSING_PARAM', 'missing pushkey'],
			[{ ...good, pushkey: 'k'.repeat(513) }, 'M_INVALID_PARAM', 'pushkey of 513 bytes'],
			[{ ...good, pushkey: 'é'.repeat(257) }, 'M_INVALID_PARAM', 'pushkey of 514 bytes'],
			[{ ...good, pushkey: '' }, 'M_INVALID_PARAM', 'empty pushkey'],
			[{ ...good, app_id: 'a'.repeat(65) }, 'M_INVALID_PARAM', 'app_id of 65 chars'],
			[{ ...good, app_id: 7 }, 'M_INVALID_PARAM', 'app_id not a string'],
			[{ ...good, kind: 'email', app_id: 'm.email', pushkey: 'alice@example.org' }, 'M_INVALID_PARAM', 'email'],
			[{ ...good, kind: 'carrier-pigeon' }, 'M_INVALID_PARAM', 'unknown kind'],
			[{ ...good, kind: 3 }, 'M_INVALID_PARAM', 'kind not a string'],
			[{ ...good, append: 'yes' }, 'M_INVALID_PARAM', 'append not a boolean'],
			[{ ...good, lang: 'x'.repeat(65) }, 'M_INVALID_PARAM', 'lang too long'],
		];
		for (const [json, errcode, what] of cases) {
			const res = await set(json);
			assertError(res, 400, errcode, what);
		}
		const missing = await set({ kind: 'http', app_id: 'a', pushkey: 'b' });
		assertError(missing, 400, 'M_MISSING_PARAM');
		assert.match(missing.json.error, /app_display_name.*device_display_name.*lang.*data/);
		assert.deepEqual(await listPushers(alice), []);
		// the limits themselves are fine
		await alice.client.setPusher({ ...good, pushkey: 'k'.repeat(512), app_id: 'é'.repeat(64) });
		assert.equal((await listPushers(alice)).length, 1);
		await alice.client.setPusher({ kind: null, pushkey: 'k'.repeat(512), app_id: 'é'.repeat(64) });
		// no token, no pushers
		assertError(await api(srv, 'GET', '/_matrix/client/v3/pushers'), 401, 'M_MISSING_TOKEN');
	});

	// Spec (devices): logging out deletes the device, and with it the
	// pushers it set (as Synapse does); the user's other pushers stay.
	it('logout removes the pushers of the device', async () => {
		const kept = pusherBody(gw);
		await alice.client.setPusher(kept);
		const phone = await login(srv, 'api-alice', 'alice-password');
		const gone = pusherBody(gw);
		await phone.client.setPusher(gone);
		assert.equal((await listPushers(alice)).length, 2);
		await phone.client.logout();
		assert.deepEqual((await listPushers(alice)).map((p) => p.pushkey), [kept.pushkey]);
		// DELETE /devices/{id} does the same
		const tablet = await login(srv, 'api-alice', 'alice-password');
		await tablet.client.setPusher(pusherBody(gw));
		assert.equal((await listPushers(alice)).length, 2);
		const del = await api(srv, 'DELETE', `/_matrix/client/v3/devices/${enc(tablet.device_id)}`, {
			token: alice.access_token,
			json: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.user_id }, password: 'alice-password' } },
		});
		assert.equal(del.status, 200, del.text);
		assert.deepEqual((await listPushers(alice)).map((p) => p.pushkey), [kept.pushkey]);
		await alice.client.setPusher({ kind: null, app_id: kept.app_id, pushkey: kept.pushkey });
	});
});

describe('push gateway delivery', () => {
	const gw = new Gateway();
	let alice, bob, carol;

	before(async () => {
		await gw.start();
		alice = await register(srv, 'alice', 'alice-password');
		bob = await register(srv, 'bob', 'bob-password');
		carol = await register(srv, 'carol', 'carol-password');
		await setDisplayName(bob, 'Bob Builder');
	});
	after(() => gw.stop());

	// Spec: push-gateway-api POST /_matrix/push/v1/notify: every event field,
	// counts, and the device with its data minus url and the tweaks of the
	// matching rule (.m.rule.room_one_to_one: sound, so prio high). The
	// invite too (.m.rule.invite_for_me), with user_is_target.
	it('notifies the gateway of a message in a DM, once, with every field', async () => {
		const p = pusherBody(gw, { app_id: 'org.example.dm' });
		await alice.client.setPusher(p);
		const t0 = Date.now();
		const roomId = await createRoom(bob, { preset: 'trusted_private_chat', is_direct: true, invite: [alice.user_id] });
		const invites = await eventually(() => {
			const v = gw.requests.filter((r) => r.json?.notification?.room_id === roomId);
			return v.length ? v : null;
		}, 5000, 'the invite');
		assert.equal(invites[0].json.notification.membership, 'invite');
		const inv = invites[0].json.notification;
		assert.equal(inv.room_id, roomId);
		assert.equal(inv.type, 'm.room.member');
		assert.equal(inv.user_is_target, true);
		assert.equal(inv.sender, bob.user_id);
		assert.equal(inv.counts.unread, 1, 'an invite counts in the badge');
		await join(alice, roomId);

		const eventId = await send(bob, roomId, text('hello there'));
		const [req] = await gw.waitFor(eventId);
		assert.equal(req.method, 'POST');
		assert.equal(req.path, NOTIFY);
		assert.match(req.headers['content-type'], /^application\/json/);
		const n = req.json.notification;
		assert.equal(n.event_id, eventId);
		assert.equal(n.room_id, roomId);
		assert.equal(n.type, 'm.room.message');
		assert.equal(n.sender, bob.user_id);
		assert.equal(n.sender_display_name, 'Bob Builder');
		assert.equal(n.room_name, 'Bob Builder', 'a DM without a name is named after the other member');
		assert.equal(n.prio, 'high');
		assert.deepEqual(n.content, { msgtype: 'm.text', body: 'hello there' });
		assert.deepEqual(n.counts, { unread: 1 });
		assert.equal(n.devices.length, 1);
		const d = n.devices[0];
		assert.equal(d.app_id, p.app_id);
		assert.equal(d.pushkey, p.pushkey);
		assert.ok(Math.abs(d.pushkey_ts - t0 / 1000) < 60, `pushkey_ts in seconds: ${d.pushkey_ts}`);
		assert.deepEqual(d.data, { custom: 'kept' });
		assert.deepEqual(d.tweaks, { sound: 'default' });
		assert.equal(n.user_is_target, undefined);
		// one request per notification, and none for the sender's own events
		await sleep(300);
		assert.equal(gw.about(eventId).length, 1);
		const own = await send(alice, roomId, text('my own'));
		await sleep(300);
		assert.equal(gw.about(own).length, 0);
		await alice.client.setPusher({ kind: null, app_id: p.app_id, pushkey: p.pushkey });
	});

	// Spec: data.format "event_id_only": only event_id, room_id, counts and
	// devices (and prio).
	it('sends only ids with format event_id_only', async () => {
		const p = pusherBody(gw, { app_id: 'org.example.idonly', data: { url: gw.url, format: 'event_id_only' } });
		await carol.client.setPusher(p);
		const roomId = await dm(bob, carol);
		const eventId = await send(bob, roomId, text('secret'));
		const [req] = await gw.waitFor(eventId);
		const n = req.json.notification;
		assert.deepEqual(Object.keys(n).sort(), ['counts', 'devices', 'event_id', 'prio', 'room_id']);
		assert.equal(n.room_id, roomId);
		assert.deepEqual(n.devices[0].data, { format: 'event_id_only' });
		assert.equal(n.devices[0].pushkey, p.pushkey);
		await carol.client.setPusher({ kind: null, app_id: p.app_id, pushkey: p.pushkey });
	});

	// Spec: a mention highlights (.m.rule.is_user_mention: sound and
	// highlight), so prio is high; a plain message in a group room
	// (.m.rule.message: notify only) is low.
	it('sends prio high for a mention and low for a plain group message', async () => {
		const p = pusherBody(gw, { app_id: 'org.example.prio' });
		await alice.client.setPusher(p);
		const roomId = await createRoom(bob, { preset: 'public_chat', name: 'Group' });
		await join(alice, roomId);
		await join(carol, roomId);
		const plain = await send(bob, roomId, text('hello all'));
		const mention = await send(bob, roomId, { ...text('hey alice'), 'm.mentions': { user_ids: [alice.user_id] } });
		const [a] = await gw.waitFor(plain);
		const [b] = await gw.waitFor(mention);
		assert.equal(a.json.notification.prio, 'low');
		assert.equal(a.json.notification.room_name, 'Group');
		assert.deepEqual(a.json.notification.devices[0].tweaks, {});
		assert.equal(b.json.notification.prio, 'high');
		assert.deepEqual(b.json.notification.devices[0].tweaks, { sound: 'default', highlight: true });
		assert.ok(a.at <= b.at, 'in order');
		await alice.client.setPusher({ kind: null, app_id: p.app_id, pushkey: p.pushkey });
	});

	// Spec (push-gateway-api): "If the endpoint returns an HTTP error code,
	// the homeserver SHOULD retry ... using exponential backoff": 500 twice,
	// then 200; the next notification waits its turn.
	it('retries after 5xx with backoff, in order, and delivers once', async () => {
		const p = pusherBody(gw, { app_id: 'org.example.retry' });
		await carol.client.setPusher(p);
		const roomId = await dm(alice, carol);
		let failures = 2;
		gw.respond = (r) => (r.json?.notification?.content?.body === 'one' && failures-- > 0
			? { status: 500, json: { error: 'down' } }
			: { status: 200, json: { rejected: [] } });
		try {
			const first = await send(alice, roomId, text('one'));
			const second = await send(alice, roomId, text('two'));
			const tries = await gw.waitFor(first, 3, 10000);
			const [next] = await gw.waitFor(second, 1, 5000);
			assert.deepEqual(tries.map((r) => r.answer.status), [500, 500, 200]);
			const gap1 = tries[1].at - tries[0].at, gap2 = tries[2].at - tries[1].at;
			assert.ok(gap1 >= 900 && gap1 < 3000, `first retry after ~1 s (${gap1} ms)`);
			assert.ok(gap2 >= 1800 && gap2 < 5000, `second retry after ~2 s (${gap2} ms)`);
			assert.ok(next.at >= tries[2].at, 'the second waits for the first');
			await sleep(300);
			assert.equal(gw.about(first).length, 3);
			assert.equal(gw.about(second).length, 1);
		} finally {
			gw.respond = () => ({ status: 200, json: { rejected: [] } });
		}
		await carol.client.setPusher({ kind: null, app_id: p.app_id, pushkey: p.pushkey });
	});

	// Past 1,000 waiting notifications a pusher reads them back from the
	// database: all are delivered once, in order, after the gateway
	// recovers.
	it('delivers more than 1,000 waiting notifications once and in order', async () => {
		const frank = await register(srv, 'frank', 'frank-password');
		const p = pusherBody(gw, { app_id: 'org.example.backlog' });
		await frank.client.setPusher(p);
		const roomId = await dm(bob, frank);
		const N = 1100;
		let down = true;
		const mine = (r) => r.json?.notification?.devices?.[0]?.pushkey === p.pushkey && r.json.notification.type === 'm.room.message';
		gw.respond = (r) => (down && mine(r) ? { status: 503, json: {} } : { status: 200, json: { rejected: [] } });
		try {
			for (let i = 0; i < N; i++) await send(bob, roomId, text(`backlog ${i}`));
			down = false;
			const delivered = () => gw.requests.filter((r) => mine(r) && r.answer.status === 200);
			await eventually(() => delivered().length >= N, 60000, `${N} notifications delivered`);
			await sleep(500);
			const bodies = delivered().map((r) => r.json.notification.content.body);
			assert.equal(bodies.length, N, 'each once');
			assert.deepEqual(bodies, Array.from({ length: N }, (_, i) => `backlog ${i}`), 'in order');
		} finally {
			gw.respond = () => ({ status: 200, json: { rejected: [] } });
		}
		await frank.client.setPusher({ kind: null, app_id: p.app_id, pushkey: p.pushkey });
	});

	// Spec (push-gateway-api): "Homeservers must cease sending notification
	// requests for these pushkeys and remove the associated pushers."
	it('removes a pusher whose pushkey the gateway rejects', async () => {
		const p = pusherBody(gw, { app_id: 'org.example.rejected' });
		await carol.client.setPusher(p);
		const roomId = await dm(bob, carol);
		// (the invite into the DM was notified before: this answers the message)
		gw.respond = (r) => ({
			status: 200,
			json: { rejected: r.json?.notification?.type === 'm.room.message' ? r.json.notification.devices.map((d) => d.pushkey) : [] },
		});
		try {
			const eventId = await send(bob, roomId, text('are you there?'));
			await gw.waitFor(eventId);
			await eventually(async () => (await listPushers(carol)).length === 0, 5000, 'the pusher removed');
			const later = await send(bob, roomId, text('hello?'));
			await sleep(500);
			assert.equal(gw.about(later).length, 0);
		} finally {
			gw.respond = () => ({ status: 200, json: { rejected: [] } });
		}
	});
});

// Last: restarts the server.
describe('delivery across a restart', () => {
	const gw = new Gateway();
	let dave, erin;

	before(async () => {
		await gw.start();
		dave = await register(srv, 'dave', 'dave-password');
		erin = await register(srv, 'erin', 'erin-password');
	});
	after(() => gw.server && gw.stop());

	// Delivery positions are durable: a notification that could not be
	// delivered before a restart is delivered after it, and one that was
	// delivered is not sent again.
	it('delivers after a restart what the gateway missed while down, and nothing twice', async () => {
		const p = pusherBody(gw, { app_id: 'org.example.restart' });
		await dave.client.setPusher(p);
		const roomId = await dm(erin, dave);
		const before = await send(erin, roomId, text('before'));
		await gw.waitFor(before);
		gw.requests = [];
		const port = gw.port;
		await gw.stop();
		const during = await send(erin, roomId, text('while the gateway is down'));
		await sleep(1500); // a try or two, refused
		await srv.restart();
		await gw.start(port);
		const [got] = await gw.waitFor(during, 1, 10000);
		assert.equal(got.json.notification.content.body, 'while the gateway is down');
		await sleep(500);
		assert.equal(gw.about(during).length, 1);
		assert.equal(gw.about(before).length, 0, 'delivered before the restart: not sent again');
		// and delivery goes on
		const afterwards = await send(erin, roomId, text('after'));
		await gw.waitFor(afterwards);
		// a clean restart with nothing pending sends nothing
		gw.requests = [];
		await srv.restart();
		await sleep(1000);
		assert.equal(gw.requests.length, 0, 'nothing sent again after a clean restart');
	});
});
