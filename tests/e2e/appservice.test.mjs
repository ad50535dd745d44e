// SPDX-License-Identifier: Apache-2.0
//
// Application services: a registration file named by app_service_config_files,
// and a Node HTTP server on 127.0.0.1 playing the AS. It records every
// request and answers as each test tells it. Covers: AS registration in its
// namespace, M_EXCLUSIVE for everyone else (users and aliases), identity
// assertion with ?user_id= (and its audit record), transactions pushed with
// the hs_token, once and in order, retried with the same txnId, and ping.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useServer, freePort } from './lib/server.mjs';
import { api, assertError, register } from './lib/matrix.mjs';
import { eventually, sleep, txnId } from './lib/rooms.mjs';

const enc = encodeURIComponent;
const AS_TOKEN = 'as-token-e2e-0123456789';
const HS_TOKEN = 'hs-token-e2e-9876543210';
const asPort = await freePort();
const regDir = mkdtempSync(path.join(os.tmpdir(), 'myelin-as-'));
const regPath = path.join(regDir, 'bridge.yaml');
writeFileSync(regPath, [
	'id: bridge',
	`url: http://127.0.0.1:${asPort}`,
	`as_token: ${AS_TOKEN}`,
	`hs_token: ${HS_TOKEN}`,
	'sender_localpart: bridgebot',
	'rate_limited: false',
	'namespaces:',
	'  users:',
	'    - exclusive: true',
	"      regex: '@br_.*'",
	'  aliases:',
	'    - exclusive: true',
	"      regex: '#br_.*'",
	'  rooms: []',
	'',
].join('\n'));

const srv = useServer({
	config: {
		app_service_config_files: [regPath],
		rc_message: { per_second: 1000, burst_count: 1000 },
		rc_registration: { per_second: 1000, burst_count: 1000 },
	},
});

/** The AS: records requests; `respond(rec)` gives { status, json }. */
class FakeAs {
	constructor() {
		this.requests = [];
		this.respond = () => ({ status: 200, json: {} });
	}

	async start() {
		this.server = http.createServer((req, res) => {
			const chunks = [];
			req.on('data', (c) => chunks.push(c));
			req.on('end', () => {
				let json;
				try {
					json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
				} catch {
					json = undefined;
				}
				const rec = { method: req.method, path: req.url, headers: req.headers, json };
				rec.answer = this.respond(rec);
				this.requests.push(rec);
				res.writeHead(rec.answer.status, { 'Content-Type': 'application/json' });
				res.end(JSON.stringify(rec.answer.json ?? {}));
			});
		});
		await new Promise((resolve, reject) => {
			this.server.once('error', reject);
			this.server.listen(asPort, '127.0.0.1', resolve);
		});
	}

	async stop() {
		this.server.closeAllConnections?.();
		await new Promise((resolve) => this.server.close(resolve));
	}

	txns() {
		return this.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/_matrix/app/v1/transactions/'));
	}

	/** Events of the transactions answered 2xx, each txnId counted once (as an AS would). */
	delivered() {
		const seen = new Set();
		const out = [];
		for (const r of this.txns()) {
			if (r.answer.status >= 300 || seen.has(r.path)) continue;
			seen.add(r.path);
			out.push(...(r.json?.events ?? []));
		}
		return out;
	}
}

function sql(query) {
	return execFileSync('sqlite3', [path.join(srv.dir, 'homeserver.db'), query], { encoding: 'utf8' }).trim();
}

const asApi = (method, p, opts = {}) => api(srv, method, p, { token: AS_TOKEN, ...opts });

describe('application services', () => {
	const fake = new FakeAs();
	let alice;
	let roomId;

	before(async () => {
		await fake.start();
		alice = await register(srv, 'alice');
	});

	after(async () => {
		await fake.stop();
		rmSync(regDir, { recursive: true, force: true });
	});

	it('authenticates the as_token as its sender user', async () => {
		const res = await asApi('GET', '/_matrix/client/v3/account/whoami');
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json.user_id, `@bridgebot:${srv.serverName}`);
	});

	it('lets the AS register users in its namespace, without UIA', async () => {
		const res = await asApi('POST', '/_matrix/client/v3/register', {
			json: { type: 'm.login.application_service', username: 'br_bob' },
		});
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json.user_id, `@br_bob:${srv.serverName}`);
		assert.ok(res.json.access_token);
		const twice = await asApi('POST', '/_matrix/client/v3/register', {
			json: { type: 'm.login.application_service', username: 'BR_bob' },
		});
		assertError(twice, 400, 'M_USER_IN_USE');
		const out = await asApi('POST', '/_matrix/client/v3/register', {
			json: { type: 'm.login.application_service', username: 'notmine' },
		});
		assertError(out, 400, 'M_EXCLUSIVE');
		const bad = await api(srv, 'POST', '/_matrix/client/v3/register', {
			token: 'wrong',
			json: { type: 'm.login.application_service', username: 'br_x' },
		});
		assertError(bad, 401, 'M_UNKNOWN_TOKEN');
	});

	it('refuses exclusive namespaces to everyone else', async () => {
		const res = await api(srv, 'POST', '/_matrix/client/v3/register', {
			json: { username: 'br_eve', password: 'pw-123456', auth: { type: 'm.login.dummy' } },
		});
		assertError(res, 400, 'M_EXCLUSIVE');
		const avail = await api(srv, 'GET', '/_matrix/client/v3/register/available?username=br_eve');
		assertError(avail, 400, 'M_EXCLUSIVE');
		const room = await api(srv, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: {} });
		assert.equal(room.status, 200, room.text);
		const alias = await api(srv, 'PUT', `/_matrix/client/v3/directory/room/${enc(`#br_x:${srv.serverName}`)}`, {
			token: alice.accessToken,
			json: { room_id: room.json.room_id },
		});
		assertError(alias, 400, 'M_EXCLUSIVE');
	});

	it('pushes events of rooms with a namespaced member, with the hs_token, once and in order', async () => {
		const room = await api(srv, 'POST', '/_matrix/client/v3/createRoom', {
			token: alice.accessToken,
			json: { preset: 'public_chat' },
		});
		roomId = room.json.room_id;
		const bob = `@br_bob:${srv.serverName}`;
		const join = await asApi('POST', `/_matrix/client/v3/join/${enc(roomId)}?user_id=${enc(bob)}`, { json: {} });
		assert.equal(join.status, 200, join.text);
		const ids = [];
		for (let i = 0; i < 5; i++) {
			const r = await api(srv, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${txnId()}`, {
				token: alice.accessToken,
				json: { msgtype: 'm.text', body: `hello ${i}` },
			});
			assert.equal(r.status, 200, r.text);
			ids.push(r.json.event_id);
		}
		await eventually(() => {
			const got = new Set(fake.delivered().map((e) => e.event_id));
			return ids.every((id) => got.has(id));
		}, 10000, 'the messages at the AS');
		for (const t of fake.txns()) assert.equal(t.headers.authorization, `Bearer ${HS_TOKEN}`);
		const msgs = fake.delivered().filter((e) => e.room_id === roomId && e.type === 'm.room.message');
		assert.deepEqual(msgs.map((e) => e.event_id), ids, 'once each, in order');
		assert.equal(msgs[0].sender, alice.userId);
		assert.equal(msgs[0].content.body, 'hello 0');
		assert.ok(fake.delivered().some((e) => e.type === 'm.room.member' && e.state_key === bob));
	});

	it('masquerades as a namespaced user, with an audit record, and not outside', async () => {
		const bob = `@br_bob:${srv.serverName}`;
		const sendPath = `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${txnId()}?user_id=${enc(bob)}`;
		const r = await asApi('PUT', sendPath, { json: { msgtype: 'm.text', body: 'from the bridge' } });
		assert.equal(r.status, 200, r.text);
		// A bridge retrying the same transaction (no device) gets the same event, not a second one.
		const again = await asApi('PUT', sendPath, { json: { msgtype: 'm.text', body: 'from the bridge' } });
		assert.equal(again.json?.event_id, r.json.event_id, again.text);
		const ev = await api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(r.json.event_id)}`, {
			token: alice.accessToken,
		});
		assert.equal(ev.json.sender, bob);
		const rows = sql(`SELECT actor, action, target FROM audit_log WHERE action = 'masquerade' AND target = '${bob}'`);
		assert.match(rows, /^appservice:bridge\|masquerade\|@br_bob:/m);
		const out = await asApi('GET', `/_matrix/client/v3/account/whoami?user_id=${enc(alice.userId)}`);
		assertError(out, 403, 'M_FORBIDDEN');
		const unknown = await asApi('GET', `/_matrix/client/v3/account/whoami?user_id=${enc(`@br_ghost:${srv.serverName}`)}`);
		assertError(unknown, 403, 'M_FORBIDDEN');
		const who = await asApi('GET', `/_matrix/client/v3/account/whoami?user_id=${enc(bob)}`);
		assert.equal(who.status, 200, who.text);
		assert.equal(who.json.user_id, bob);
		// The AS may make aliases in its own namespace.
		const alias = await asApi('PUT', `/_matrix/client/v3/directory/room/${enc(`#br_room:${srv.serverName}`)}?user_id=${enc(bob)}`, {
			json: { room_id: roomId },
		});
		assert.equal(alias.status, 200, alias.text);
	});

	it('retries a failed transaction with the same txnId, also while the AS is down', async () => {
		let fails = 2;
		fake.respond = (rec) => (rec.path.startsWith('/_matrix/app/v1/transactions/') && fails-- > 0
			? { status: 500, json: { errcode: 'M_UNKNOWN' } }
			: { status: 200, json: {} });
		const before = fake.txns().length;
		const r = await api(srv, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${txnId()}`, {
			token: alice.accessToken,
			json: { msgtype: 'm.text', body: 'retried' },
		});
		await eventually(() => fake.delivered().some((e) => e.event_id === r.json.event_id), 15000, 'the retried event');
		const tries = fake.txns().slice(before).filter((t) => t.json.events.some((e) => e.event_id === r.json.event_id));
		assert.equal(tries.length, 3);
		assert.ok(tries.every((t) => t.path === tries[0].path), 'the same txnId on every try');
		assert.deepEqual(tries[2].json, tries[0].json, 'the same body on every try');
		fake.respond = () => ({ status: 200, json: {} });

		await fake.stop();
		const down = await api(srv, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${txnId()}`, {
			token: alice.accessToken,
			json: { msgtype: 'm.text', body: 'while down' },
		});
		await sleep(1500);
		await fake.start();
		await eventually(() => fake.delivered().some((e) => e.event_id === down.json.event_id), 15000, 'the event sent while down');
		const msgs = fake.delivered().filter((e) => e.type === 'm.room.message').map((e) => e.event_id);
		assert.equal(new Set(msgs).size, msgs.length, 'no event twice');
	});

	it('pings the AS', async () => {
		const res = await asApi('POST', '/_matrix/client/v1/appservice/bridge/ping', { json: { transaction_id: 'ping-1' } });
		assert.equal(res.status, 200, res.text);
		assert.equal(typeof res.json.duration_ms, 'number');
		const ping = fake.requests.find((r) => r.path === '/_matrix/app/v1/ping');
		assert.ok(ping);
		assert.equal(ping.json.transaction_id, 'ping-1');
		assert.equal(ping.headers.authorization, `Bearer ${HS_TOKEN}`);
		fake.respond = () => ({ status: 403, json: { errcode: 'M_FORBIDDEN' } });
		const bad = await asApi('POST', '/_matrix/client/v1/appservice/bridge/ping', { json: {} });
		fake.respond = () => ({ status: 200, json: {} });
		assertError(bad, 502, 'M_BAD_STATUS');
		assert.equal(bad.json.status, 403);
		const other = await asApi('POST', '/_matrix/client/v1/appservice/other/ping', { json: {} });
		assertError(other, 403, 'M_FORBIDDEN');
		const user = await api(srv, 'POST', '/_matrix/client/v1/appservice/bridge/ping', { token: alice.accessToken, json: {} });
		assertError(user, 403, 'M_FORBIDDEN');
	});
});
