// SPDX-License-Identifier: Apache-2.0
//
// To-device messages over federation (SPEC: server-server-api,
// "Transactions" and "Send-to-device messaging"; client-server-api,
// "Send-to-Device messaging"): two Myelin servers with TLS federation
// listeners, and a hand-written remote homeserver for raw signed
// transactions. Alice on A sends to Bob's devices on B: each message
// arrives once, also when the request is retried, when B is down while
// Alice sends, and when A is killed right after answering 200 (the outbox
// is durable). B accepts signed transactions only, processes each once,
// delivers each message id once, refuses oversized transactions, ignores
// messages whose sender is not on the sending server, and answers PDUs
// with per-PDU errors. A scripted remote sees A retry a transaction with
// the same id after 5xx, 401 and 429, and move on after another 4xx.

import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { api, canonicalJson, login, register } from './lib/matrix.mjs';
import { rawSync, sleep } from './lib/rooms.mjs';
import { assertCleanExit } from './lib/server.mjs';
import { makeTestPki, federatingServer, FakeRemote } from './lib/federation.mjs';

/** Poll pred every 25 ms until it holds. */
async function waitFor(pred, ms, what) {
	const deadline = Date.now() + ms;
	while (!pred()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await sleep(25);
	}
}

// Quick retries, so that a server coming back is found within a second or two.
const fedConfig = { federation: { destination_min_retry_interval: '500ms', destination_max_retry_interval: '1s' } };

describe('federation: to-device messages', () => {
	let tmp, pki, a, b, fake, alice, bob, bob2;
	const marks = new Map();
	let n = 0;
	const txn = (p = 'txn') => `${p}-${Date.now()}-${n++}`;

	const sendToDevice = (user, type, id, messages) =>
		api(a, 'PUT', `/_matrix/client/v3/sendToDevice/${encodeURIComponent(type)}/${encodeURIComponent(id)}`, { token: user.accessToken, json: { messages } });

	// Each device's sync position on B.
	const since = new Map();
	async function syncStart(user) {
		const s = await rawSync(b, user, { timeout: 0 });
		since.set(user.accessToken, s.next_batch);
	}
	/** Sync user's device until pred(all to-device events so far) holds; returns them. */
	async function toDeviceUntil(user, pred, ms = 15000, what = 'to-device events') {
		const got = [];
		const deadline = Date.now() + ms;
		for (;;) {
			const left = deadline - Date.now();
			if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(got)}`);
			const s = await rawSync(b, user, { since: since.get(user.accessToken), timeout: Math.min(2000, left) });
			since.set(user.accessToken, s.next_batch);
			got.push(...(s.to_device?.events ?? []));
			if (pred(got)) return got;
		}
	}
	/**
	 * Send a marker message to user's device from alice and sync until it
	 * arrives; returns every event that came before it. Transactions to one
	 * destination go in order, so anything sent earlier that has not
	 * arrived by then never will.
	 */
	async function drainWithMarker(user, deviceId) {
		const mark = txn('marker');
		const res = await sendToDevice(alice, 'm.test.marker', mark, { [user.userId]: { [deviceId]: { mark } } });
		assert.equal(res.status, 200, res.text);
		const got = await toDeviceUntil(user, (evs) => evs.some((e) => e.content?.mark === mark), 15000, 'the marker');
		const i = got.findIndex((e) => e.content?.mark === mark);
		assert.equal(got.length, i + 1, `nothing after the marker: ${JSON.stringify(got)}`);
		return got.slice(0, i);
	}
	/** Sync a device on B until the marker sent through the fake remote arrives; returns what came before. */
	async function drainFromFake(user, deviceId) {
		const mark = txn('fmark');
		const r = await fakeSend(txn('T'), [directToDevice(`@eve:${fake.serverName}`, 'm.test.marker', txn('mid'), { [user.userId]: { [deviceId]: { mark } } })]);
		assert.equal(r.status, 200, JSON.stringify(r.json));
		const got = await toDeviceUntil(user, (evs) => evs.some((e) => e.content?.mark === mark), 10000, 'the marker');
		const i = got.findIndex((e) => e.content?.mark === mark);
		assert.equal(got.length, i + 1, `nothing after the marker: ${JSON.stringify(got)}`);
		return got.slice(0, i);
	}

	const directToDevice = (sender, type, messageId, messages) => ({
		edu_type: 'm.direct_to_device',
		content: { sender, type, message_id: messageId, messages },
	});
	const fakeSend = (id, edus = [], pdus = [], opts = {}) =>
		fake.request(b, 'PUT', `/_matrix/federation/v1/send/${encodeURIComponent(id)}`, {
			json: { origin: fake.serverName, origin_server_ts: Date.now(), pdus, edus },
			...opts,
		});

	before(async () => {
		tmp = await mkdtemp(path.join(os.tmpdir(), 'myelin-fedtd-'));
		pki = makeTestPki(tmp);
		a = await federatingServer(pki, tmp, fedConfig);
		b = await federatingServer(pki, tmp, fedConfig);
		await a.start();
		await b.start();
		fake = await new FakeRemote(pki).start();
		alice = await register(a, 'alice', 'pw-alice', { device_id: 'ALICEDEV' });
		bob = await register(b, 'bob', 'pw-bob', { device_id: 'BOB1' });
		bob2 = await login(b, bob.userId, 'pw-bob', { device_id: 'BOB2' });
		await syncStart(bob);
		await syncStart(bob2);
	});

	beforeEach(() => {
		for (const s of [a, b]) marks.set(s, s.logSize());
	});

	afterEach((t) => {
		if (t.passed) return;
		for (const [name, s] of [['A', a], ['B', b]]) {
			process.stderr.write(`\n# test "${t.name}" failed; server ${name} log during the test:\n${s.logTail(marks.get(s) ?? 0)}\n`);
		}
	});

	after(async () => {
		await fake?.stop();
		for (const s of [a, b]) {
			if (s?.proc) assertCleanExit(await s.stop(), s);
		}
		for (const s of [a, b]) await s?.cleanup();
		if (tmp && !process.env.MYELIN_E2E_KEEP) await rm(tmp, { recursive: true, force: true });
	});

	// SPEC: client-server-api#put_matrixclientv3sendtodeviceeventtypetxnid, server-server-api#send-to-device-messaging
	it('delivers a message from alice@A to bob\'s device on B once, with sender and type, even when the request is retried', async () => {
		const id = txn();
		const messages = { [bob.userId]: { BOB1: { secret: 's3cr3t', n: 1 } } };
		const res = await sendToDevice(alice, 'm.test.fed', id, messages);
		assert.equal(res.status, 200, res.text);
		const got = await toDeviceUntil(bob, (evs) => evs.length >= 1);
		assert.equal(got.length, 1, JSON.stringify(got));
		assert.equal(got[0].sender, alice.userId);
		assert.equal(got[0].type, 'm.test.fed');
		assert.deepEqual(got[0].content, { secret: 's3cr3t', n: 1 });

		// The same request again (a client retry): 200, and nothing new arrives.
		const again = await sendToDevice(alice, 'm.test.fed', id, messages);
		assert.equal(again.status, 200, again.text);
		assert.deepEqual(await drainWithMarker(bob, 'BOB1'), []);
		// Bob's other device got nothing.
		assert.deepEqual(await drainWithMarker(bob2, 'BOB2'), []);
	});

	it('delivers to all of bob\'s devices with "*", and to local and remote recipients in one request', async () => {
		const carol = await register(a, 'carol', 'pw-carol', { device_id: 'CAROLDEV' });
		const c0 = await rawSync(a, carol, { timeout: 0 });
		const res = await sendToDevice(alice, 'm.test.all', txn(), {
			[bob.userId]: { '*': { to: 'all' } },
			[carol.userId]: { CAROLDEV: { to: 'carol' } },
		});
		assert.equal(res.status, 200, res.text);
		for (const u of [bob, bob2]) {
			const got = await toDeviceUntil(u, (evs) => evs.length >= 1);
			assert.equal(got.length, 1, JSON.stringify(got));
			assert.equal(got[0].type, 'm.test.all');
			assert.deepEqual(got[0].content, { to: 'all' });
			assert.equal(got[0].sender, alice.userId);
		}
		const c1 = await rawSync(a, carol, { since: c0.next_batch, timeout: 5000 });
		assert.deepEqual(c1.to_device.events.map((e) => e.content), [{ to: 'carol' }]);
		assert.deepEqual(await drainWithMarker(bob, 'BOB1'), []);
	});

	it('refuses content that federation cannot carry, and stores nothing of the request', async () => {
		const res = await sendToDevice(alice, 'm.test.bad', txn(), {
			[bob.userId]: { BOB1: { ok: 1 }, BOB2: { f: 1.5 } },
		});
		assert.equal(res.status, 400, res.text);
		assert.equal(res.json.errcode, 'M_BAD_JSON');
		assert.deepEqual(await drainWithMarker(bob, 'BOB1'), []);
	});

	it('keeps the message while B is down and delivers it once B is back', async () => {
		await b.stop();
		const res = await sendToDevice(alice, 'm.test.later', txn(), { [bob.userId]: { BOB1: { when: 'later' } } });
		assert.equal(res.status, 200, res.text);
		await sleep(1500); // A tries, fails, and backs off
		await b.start();
		const got = await toDeviceUntil(bob, (evs) => evs.length >= 1, 20000, 'the message sent while B was down');
		assert.equal(got.length, 1, JSON.stringify(got));
		assert.deepEqual(got[0].content, { when: 'later' });
		assert.deepEqual(await drainWithMarker(bob, 'BOB1'), []);
	});

	it('delivers a message answered 200 just before A is killed (kill -9), after A restarts', async () => {
		// B down, so that the message can only be in A's outbox when A dies.
		await b.stop();
		const res = await sendToDevice(alice, 'm.test.crash', txn(), { [bob.userId]: { BOB1: { survived: true } } });
		assert.equal(res.status, 200, res.text);
		a.proc.kill('SIGKILL');
		await a.exited;
		a.proc = null;
		await b.start();
		await a.start();
		const got = await toDeviceUntil(bob, (evs) => evs.length >= 1, 20000, 'the message sent before the crash');
		assert.equal(got.length, 1, JSON.stringify(got));
		assert.deepEqual(got[0].content, { survived: true });
		assert.equal(got[0].sender, alice.userId);
		assert.deepEqual(await drainWithMarker(bob, 'BOB1'), []);
	});

	it('retries a transaction answered 5xx, 401 or 429 with the same id and body, and drops one refused with another 4xx', async () => {
		// A remote whose /send answers are scripted; the path carries the txnId, so match by prefix.
		const remote = await new FakeRemote(pki).start();
		remote.routes = new (class extends Map {
			get(k) {
				return super.get(k) ?? (k.startsWith('PUT /_matrix/federation/v1/send/') ? super.get('PUT /send/*') : undefined);
			}
		})();
		const seen = [];
		const script = [];
		remote.handle('PUT', '/send/*', (req, res) => {
			let body = '';
			req.on('data', (c) => (body += c));
			req.on('end', () => {
				const txnId = decodeURIComponent(new URL(req.url, 'https://x').pathname.split('/').pop());
				seen.push({ txnId, body: JSON.parse(body), auth: req.headers.authorization });
				const [status, json] = script.shift() ?? [200, { pdus: {} }];
				res.writeHead(status, { 'Content-Type': 'application/json' });
				res.end(JSON.stringify(json));
			});
		});
		try {
			const eve = `@eve:${remote.serverName}`;
			const messagesOf = (s) => s.body.edus.map((e) => e.content.messages[eve].EVEDEV);
			// 1. A 503, a 401 (the remote could not check our signature yet),
			// a 429, then accepted: four tries of one transaction.
			script.push([503, { errcode: 'M_UNKNOWN', error: 'busy' }], [401, { errcode: 'M_UNAUTHORIZED', error: 'no key yet' }],
				[429, { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down', retry_after_ms: 200 }]);
			let res = await sendToDevice(alice, 'm.test.retry', txn(), { [eve]: { EVEDEV: { n: 1 } } });
			assert.equal(res.status, 200, res.text);
			await waitFor(() => seen.length >= 4, 15000, 'four tries');
			assert.equal(new Set(seen.map((s) => s.txnId)).size, 1, JSON.stringify(seen.map((s) => s.txnId)));
			for (const s of seen) {
				assert.deepEqual(s.body.edus, seen[0].body.edus, 'the same EDUs each time');
				assert.equal(s.body.origin, a.serverName);
				assert.deepEqual(s.body.pdus, []);
				assert.match(s.auth, new RegExp(`^X-Matrix origin="${a.serverName}"`));
			}
			const edu = seen[0].body.edus[0];
			assert.equal(edu.edu_type, 'm.direct_to_device');
			assert.equal(edu.content.sender, alice.userId);
			assert.equal(edu.content.type, 'm.test.retry');
			assert.ok(edu.content.message_id.length > 0 && edu.content.message_id.length <= 32);
			assert.deepEqual(messagesOf(seen[0]), [{ n: 1 }]);

			// 2. Refused with 400: dropped, and the next message goes in a new transaction.
			script.push([400, { errcode: 'M_BAD_JSON', error: 'no' }]);
			res = await sendToDevice(alice, 'm.test.refused', txn(), { [eve]: { EVEDEV: { n: 2 } } });
			assert.equal(res.status, 200, res.text);
			await waitFor(() => seen.length >= 5, 10000, 'the refused transaction');
			res = await sendToDevice(alice, 'm.test.after', txn(), { [eve]: { EVEDEV: { n: 3 } } });
			assert.equal(res.status, 200, res.text);
			await waitFor(() => seen.length >= 6, 10000, 'the next transaction');
			await sleep(1500); // no retry of the refused one comes
			assert.equal(seen.length, 6, JSON.stringify(seen.map((s) => s.txnId)));
			assert.notEqual(seen[5].txnId, seen[4].txnId);
			assert.deepEqual(messagesOf(seen[4]), [{ n: 2 }]);
			assert.deepEqual(messagesOf(seen[5]), [{ n: 3 }]);
		} finally {
			await remote.stop();
		}
	});

	// SPEC: server-server-api#put_matrixfederationv1sendtxnid
	it('delivers an m.direct_to_device EDU from a signed transaction, once per transaction id and per message id', async () => {
		const eve = `@eve:${fake.serverName}`;
		const id = txn('T');
		const edu = directToDevice(eve, 'm.test.in', txn('mid'), { [bob.userId]: { BOB1: { from: 'fake' } } });
		const first = await fakeSend(id, [edu]);
		assert.equal(first.status, 200, JSON.stringify(first.json));
		assert.deepEqual(first.json, { pdus: {} });
		const got = await toDeviceUntil(bob, (evs) => evs.length >= 1);
		assert.equal(got.length, 1);
		assert.equal(got[0].sender, eve);
		assert.equal(got[0].type, 'm.test.in');
		assert.deepEqual(got[0].content, { from: 'fake' });

		// The same transaction again: the same answer, nothing delivered.
		const second = await fakeSend(id, [edu]);
		assert.equal(second.status, 200);
		assert.deepEqual(second.json, first.json);
		// The same message id in another transaction: not delivered again.
		const third = await fakeSend(txn('T'), [edu]);
		assert.equal(third.status, 200);
		assert.deepEqual(await drainFromFake(bob, 'BOB1'), []);

		// "*" reaches every device; an unknown device and users of other servers get nothing.
		const all = await fakeSend(txn('T'), [directToDevice(eve, 'm.test.star', txn('mid'), {
			[bob.userId]: { '*': { star: 1 }, NOSUCHDEV: { none: 1 } },
			[`@zed:${fake.serverName}`]: { Z: { no: 1 } },
		})]);
		assert.equal(all.status, 200);
		for (const u of [bob, bob2]) {
			const evs = await toDeviceUntil(u, (e) => e.length >= 1);
			assert.deepEqual(evs.map((e) => e.content), [{ star: 1 }]);
		}
		assert.deepEqual(await drainFromFake(bob, 'BOB1'), []);
	});

	it('ignores to-device messages whose sender is not a user of the sending server, and unknown EDU types', async () => {
		const r = await fakeSend(txn('T'), [
			directToDevice(alice.userId, 'm.test.forged', txn('mid'), { [bob.userId]: { BOB1: { forged: true } } }),
			{ edu_type: 'm.test.unknown', content: { whatever: 1 } },
			{ edu_type: 'm.typing', content: { room_id: '!r:x', user_id: `@eve:${fake.serverName}`, typing: true } },
		]);
		assert.equal(r.status, 200, JSON.stringify(r.json));
		assert.deepEqual(await drainFromFake(bob, 'BOB1'), []);
	});

	it('refuses transactions over the limits and unsigned ones', async () => {
		const pdu = (i) => ({ room_id: '!nowhere:x', type: 'm.room.message', sender: `@eve:${fake.serverName}`, content: { i } });
		let r = await fakeSend(txn('T'), [], Array.from({ length: 51 }, (_, i) => pdu(i)));
		assert.equal(r.status, 400, JSON.stringify(r.json));
		const edu = { edu_type: 'm.test.unknown', content: {} };
		r = await fakeSend(txn('T'), Array.from({ length: 101 }, () => edu));
		assert.equal(r.status, 400, JSON.stringify(r.json));
		// Exactly at the limits: accepted.
		r = await fakeSend(txn('T'), Array.from({ length: 100 }, () => edu), Array.from({ length: 50 }, (_, i) => pdu(i)));
		assert.equal(r.status, 200, JSON.stringify(r.json));
		// Unsigned, or signed by someone else for another body.
		const edus = [directToDevice(`@eve:${fake.serverName}`, 'm.test.unsigned', txn('mid'), { [bob.userId]: { BOB1: { unsigned: true } } })];
		r = await fakeSend(txn('T'), edus, [], { authorization: null });
		assert.equal(r.status, 401, JSON.stringify(r.json));
		r = await fakeSend(txn('T'), edus, [], { authorization: fake.authorization(b.serverName, 'PUT', '/_matrix/federation/v1/send/other', {}) });
		assert.equal(r.status, 401, JSON.stringify(r.json));
		// The body's origin must be the signing server.
		r = await fake.request(b, 'PUT', `/_matrix/federation/v1/send/${txn('T')}`, { json: { origin: 'elsewhere.example', origin_server_ts: Date.now(), pdus: [], edus } });
		assert.equal(r.status, 400, JSON.stringify(r.json));
		assert.deepEqual(await drainFromFake(bob, 'BOB1'), []);
	});

	it('answers each PDU with an error instead of failing the transaction', async () => {
		const room = await api(b, 'POST', '/_matrix/client/v3/createRoom', { token: bob.accessToken, json: {} });
		assert.equal(room.status, 200, room.text);
		const roomId = room.json.room_id;
		// An event of that room (content and keys that redaction keeps, so the
		// reference hash is over the event as it is).
		const ev = {
			room_id: roomId, type: 'm.room.message', sender: `@eve:${fake.serverName}`, content: {},
			origin_server_ts: Date.now(), depth: 5, prev_events: [], auth_events: [], hashes: { sha256: 'x' },
			signatures: { [fake.serverName]: { 'ed25519:test': 'sig' } },
		};
		const { signatures, ...unsigned } = ev;
		const eventId = '$' + crypto.createHash('sha256').update(canonicalJson(unsigned)).digest('base64url');
		// A v1-style event of a room we do not know names itself; one without an id is left out.
		const v1 = { event_id: `$abc:${fake.serverName}`, room_id: `!old:${fake.serverName}`, type: 'm.room.message', content: {} };
		const anonymous = { room_id: `!unknown:${fake.serverName}`, type: 'm.room.message', content: {} };
		const edu = directToDevice(`@eve:${fake.serverName}`, 'm.test.withpdus', txn('mid'), { [bob.userId]: { BOB1: { beside: 'pdus' } } });
		const r = await fakeSend(txn('T'), [edu], [ev, v1, anonymous, 'not an object']);
		assert.equal(r.status, 200, JSON.stringify(r.json));
		assert.deepEqual(Object.keys(r.json.pdus).sort(), [eventId, v1.event_id].sort(), JSON.stringify(r.json));
		assert.equal(typeof r.json.pdus[eventId].error, 'string');
		assert.equal(typeof r.json.pdus[v1.event_id].error, 'string');
		// The EDU beside them was delivered.
		const got = await toDeviceUntil(bob, (evs) => evs.length >= 1);
		assert.deepEqual(got.map((e) => e.content), [{ beside: 'pdus' }]);
	});
});
