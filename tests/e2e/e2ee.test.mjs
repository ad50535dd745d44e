// SPDX-License-Identifier: Apache-2.0
//
// End-to-end encryption: key upload/query/claim/changes, to-device
// messaging, and the E2EE parts of /sync, driven both raw (with our own
// ed25519 device keys) and through matrix-js-sdk's Rust crypto (Alice and
// Bob in an encrypted room decrypt each other's messages; a second device
// of Bob's gets the keys of new messages).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { useServer } from './lib/server.mjs';
import { api, assertError, canonicalJson, clientFor, login, register } from './lib/matrix.mjs';
import { eventually, quietLogger, rawSync, startSyncing, stopAll, waitForTimelineEvent } from './lib/rooms.mjs';

const srv = useServer();
const b64 = (buf) => Buffer.from(buf).toString('base64').replace(/=+$/, '');

/** A fake device: an ed25519 key pair that signs like a client would. */
function fakeDevice(userId, deviceId) {
	const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
	const pub = b64(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
	const sign = (obj) => {
		const { signatures, unsigned, ...rest } = obj;
		const sig = b64(crypto.sign(null, Buffer.from(canonicalJson(rest)), privateKey));
		return { ...rest, signatures: { ...(signatures ?? {}), [userId]: { [`ed25519:${deviceId}`]: sig } } };
	};
	const deviceKeys = sign({
		user_id: userId,
		device_id: deviceId,
		algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
		keys: { [`curve25519:${deviceId}`]: b64(crypto.randomBytes(32)), [`ed25519:${deviceId}`]: pub },
	});
	const otks = (n, prefix = 'k') => {
		const out = {};
		for (let i = 0; i < n; i++) out[`signed_curve25519:${prefix}${i}`] = sign({ key: b64(crypto.randomBytes(32)) });
		return out;
	};
	return { pub, sign, deviceKeys, otks };
}

const post = (user, path, json) => api(srv, 'POST', `/_matrix/client/v3${path}`, { token: user.accessToken, json });

describe('e2ee: keys API (raw)', () => {
	let alice, bob, dev;
	before(async () => {
		alice = await register(srv, 'keysalice', 'pw-alice-1', { device_id: 'ALICE1', initial_device_display_name: 'Alice phone' });
		bob = await register(srv, 'keysbob', 'pw-bob-1', { device_id: 'BOB1' });
		dev = fakeDevice(alice.userId, 'ALICE1');
	});

	it('refuses device keys for another user or device, or with a forged signature, storing nothing', async () => {
		const other = fakeDevice(bob.userId, 'BOB1');
		assertError(await post(alice, '/keys/upload', { device_keys: other.deviceKeys }), 400, 'M_INVALID_PARAM', 'other user');
		const wrongDev = fakeDevice(alice.userId, 'NOTMINE');
		assertError(await post(alice, '/keys/upload', { device_keys: wrongDev.deviceKeys }), 400, 'M_INVALID_PARAM', 'other device');
		const forged = structuredClone(dev.deviceKeys);
		forged.keys[`curve25519:ALICE1`] = b64(crypto.randomBytes(32));
		assertError(await post(alice, '/keys/upload', { device_keys: forged, one_time_keys: dev.otks(1) }), 400, 'M_INVALID_PARAM', 'forged');
		const q = await post(bob, '/keys/query', { device_keys: { [alice.userId]: [] } });
		assert.equal(q.status, 200);
		assert.deepEqual(q.json.device_keys[alice.userId], {}, 'nothing stored');
	});

	it('uploads device keys and one-time keys, counts them, and serves them to /keys/query', async () => {
		const res = await post(alice, '/keys/upload', { device_keys: dev.deviceKeys, one_time_keys: dev.otks(3) });
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json.one_time_key_counts.signed_curve25519, 3);
		// A one-time key with a bad signature: 400, nothing stored.
		const bad = dev.otks(1, 'bad');
		bad['signed_curve25519:bad0'].key = b64(crypto.randomBytes(32));
		assertError(await post(alice, '/keys/upload', { one_time_keys: bad }), 400, 'M_INVALID_PARAM');
		const counts = await post(alice, '/keys/upload', {});
		assert.equal(counts.json.one_time_key_counts.signed_curve25519, 3);
		const q = await post(bob, '/keys/query', { device_keys: { [alice.userId]: [] } });
		const got = q.json.device_keys[alice.userId].ALICE1;
		assert.equal(got.keys['ed25519:ALICE1'], dev.pub);
		assert.equal(got.unsigned.device_display_name, 'Alice phone');
		assert.deepEqual(got.signatures, dev.deviceKeys.signatures);
		const one = await post(bob, '/keys/query', { device_keys: { [alice.userId]: ['NOPE'] } });
		assert.deepEqual(one.json.device_keys[alice.userId], {});
	});

	it('gives the last one-time key to exactly one of many concurrent claimers, then the fallback key', async () => {
		const dev2 = fakeDevice(bob.userId, 'BOB1');
		const fb = { 'signed_curve25519:fb': dev2.sign({ key: b64(crypto.randomBytes(32)), fallback: true }) };
		assert.equal((await post(bob, '/keys/upload', { device_keys: dev2.deviceKeys, one_time_keys: dev2.otks(1), fallback_keys: fb })).status, 200);
		const want = { one_time_keys: { [bob.userId]: { BOB1: 'signed_curve25519' } } };
		const results = await Promise.all(Array.from({ length: 8 }, () => post(alice, '/keys/claim', want)));
		const ids = results.map((r) => Object.keys(r.json.one_time_keys[bob.userId]?.BOB1 ?? {})[0]);
		assert.equal(ids.filter((k) => k === 'signed_curve25519:k0').length, 1, `claims: ${ids}`);
		assert.equal(ids.filter((k) => k === 'signed_curve25519:fb').length, 7, `claims: ${ids}`);
		const s = await rawSync(srv, bob);
		assert.equal(s.device_one_time_keys_count.signed_curve25519, 0);
		assert.deepEqual(s.device_unused_fallback_key_types, [], 'the fallback key is used');
	});

	it('reports device-list changes in /sync and /keys/changes to users sharing a room', async () => {
		const room = await alice.client.createRoom({ preset: 'private_chat', invite: [bob.userId] });
		await bob.client.joinRoom(room.room_id);
		const s0 = await rawSync(srv, bob);
		const second = await login(srv, alice.userId, 'pw-alice-1', { device_id: 'ALICE2' });
		const d2 = fakeDevice(alice.userId, 'ALICE2');
		assert.equal((await post(second, '/keys/upload', { device_keys: d2.deviceKeys })).status, 200);
		const s1 = await rawSync(srv, bob, { since: s0.next_batch, timeout: 5000 });
		assert.ok(s1.device_lists.changed.includes(alice.userId), JSON.stringify(s1.device_lists));
		const ch = await api(srv, 'GET', `/_matrix/client/v3/keys/changes?from=${s0.next_batch}&to=${s1.next_batch}`, { token: bob.accessToken });
		assert.equal(ch.status, 200, ch.text);
		assert.ok(ch.json.changed.includes(alice.userId));
		// Bob leaves: Alice no longer shares a room with him.
		const a0 = await rawSync(srv, alice);
		await bob.client.leave(room.room_id);
		const a1 = await rawSync(srv, alice, { since: a0.next_batch, timeout: 5000 });
		assert.ok(a1.device_lists.left.includes(bob.userId), JSON.stringify(a1.device_lists));
	});

	it('deleting a device deletes its keys and is a device-list change', async () => {
		const third = await login(srv, alice.userId, 'pw-alice-1', { device_id: 'ALICE3' });
		const d3 = fakeDevice(alice.userId, 'ALICE3');
		assert.equal((await post(third, '/keys/upload', { device_keys: d3.deviceKeys, one_time_keys: d3.otks(2) })).status, 200);
		const before = await rawSync(srv, alice);
		const del = async (auth) => api(srv, 'DELETE', '/_matrix/client/v3/devices/ALICE3', { token: alice.accessToken, json: auth ? { auth } : {} });
		const first = await del();
		assert.equal(first.status, 401);
		const done = await del({ type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: 'pw-alice-1', session: first.json.session });
		assert.equal(done.status, 200, done.text);
		const q = await post(bob, '/keys/query', { device_keys: { [alice.userId]: ['ALICE3'] } });
		assert.deepEqual(q.json.device_keys[alice.userId], {});
		const after = await rawSync(srv, alice, { since: before.next_batch, timeout: 5000 });
		assert.ok(after.device_lists.changed.includes(alice.userId));
	});
});

// Spec: "Tracking the device list for a user": devices deleted by a password
// change with logout_devices, by logout and by deactivation lose their keys
// and pending to-device messages, and are a device-list change of their user
// seen by the users sharing a room.
describe('e2ee: account-wide device removal (raw)', () => {
	let alice, bob;
	const uia = (path, body, user, pw) => async () => {
		const first = await post(user, path, body);
		assert.equal(first.status, 401, first.text);
		return post(user, path, { ...body, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: user.userId }, password: pw, session: first.json.session } });
	};
	before(async () => {
		alice = await register(srv, 'gonealice', 'pw-ga', { device_id: 'GA1' });
		bob = await register(srv, 'gonebob', 'pw-gb', { device_id: 'GB1' });
		const room = await alice.client.createRoom({ preset: 'private_chat', invite: [bob.userId] });
		await bob.client.joinRoom(room.room_id);
	});

	it('a password change with logout_devices deletes the other devices\' keys and inboxes', async () => {
		const second = await login(srv, bob.userId, 'pw-gb', { device_id: 'GB2' });
		const d2 = fakeDevice(bob.userId, 'GB2');
		assert.equal((await post(second, '/keys/upload', { device_keys: d2.deviceKeys, one_time_keys: d2.otks(2) })).status, 200);
		const put = await api(srv, 'PUT', '/_matrix/client/v3/sendToDevice/m.test/gone1', { token: alice.accessToken, json: { messages: { [bob.userId]: { GB2: { stale: true } } } } });
		assert.equal(put.status, 200, put.text);
		const a0 = await rawSync(srv, alice);
		const done = await uia('/account/password', { new_password: 'pw-gb2', logout_devices: true }, bob, 'pw-gb')();
		assert.equal(done.status, 200, done.text);
		const a1 = await rawSync(srv, alice, { since: a0.next_batch, timeout: 5000 });
		assert.ok(a1.device_lists?.changed?.includes(bob.userId), JSON.stringify(a1.device_lists));
		const q = await post(alice, '/keys/query', { device_keys: { [bob.userId]: [] } });
		assert.deepEqual(Object.keys(q.json.device_keys[bob.userId]), [], 'GB2 keys gone');
		const cl = await post(alice, '/keys/claim', { one_time_keys: { [bob.userId]: { GB2: 'signed_curve25519' } } });
		assert.deepEqual(cl.json.one_time_keys[bob.userId] ?? {}, {}, 'GB2 one-time keys gone');
		// The same device ID logged in again starts with an empty inbox.
		const again = await login(srv, bob.userId, 'pw-gb2', { device_id: 'GB2' });
		const s = await rawSync(srv, again);
		assert.deepEqual(s.to_device?.events ?? [], [], 'no stale to-device messages');
	});

	it('deactivation deletes every device\'s keys', async () => {
		const d1 = fakeDevice(bob.userId, 'GB1');
		assert.equal((await post(bob, '/keys/upload', { device_keys: d1.deviceKeys, one_time_keys: d1.otks(1) })).status, 200);
		const q0 = await post(alice, '/keys/query', { device_keys: { [bob.userId]: [] } });
		assert.ok(q0.json.device_keys[bob.userId].GB1);
		const done = await uia('/account/deactivate', {}, bob, 'pw-gb2')();
		assert.equal(done.status, 200, done.text);
		const q = await post(alice, '/keys/query', { device_keys: { [bob.userId]: [] } });
		assert.deepEqual(q.json.device_keys[bob.userId] ?? {}, {}, 'no keys left');
		const cl = await post(alice, '/keys/claim', { one_time_keys: { [bob.userId]: { GB1: 'signed_curve25519' } } });
		assert.deepEqual(cl.json.one_time_keys[bob.userId] ?? {}, {});
	});
});

describe('e2ee: to-device (raw)', () => {
	let alice, bob;
	before(async () => {
		alice = await register(srv, 'tdalice', 'pw-a', { device_id: 'TDA' });
		bob = await register(srv, 'tdbob', 'pw-b', { device_id: 'TDB' });
	});
	const send = (txn, messages, type = 'm.test') =>
		api(srv, 'PUT', `/_matrix/client/v3/sendToDevice/${type}/${txn}`, { token: alice.accessToken, json: { messages } });

	it('delivers messages once, in order, until acknowledged, and is idempotent per transaction', async () => {
		const s0 = await rawSync(srv, bob);
		const waiting = rawSync(srv, bob, { since: s0.next_batch, timeout: 10000 });
		for (let i = 0; i < 5; i++) assert.equal((await send(`t${i}`, { [bob.userId]: { TDB: { n: i } } })).status, 200);
		assert.equal((await send('t0', { [bob.userId]: { TDB: { n: 0 } } })).status, 200, 'a retried transaction');
		const woke = await waiting;
		let got = woke.to_device.events;
		// The long-poll may have woken after the first message: collect the rest.
		let s = woke;
		while (got.length < 5) {
			s = await rawSync(srv, bob, { since: s.next_batch, timeout: 2000 });
			got = got.concat(s.to_device.events);
		}
		assert.deepEqual(got.map((e) => e.content.n), [0, 1, 2, 3, 4]);
		assert.ok(got.every((e) => e.sender === alice.userId && e.type === 'm.test'));
		// Not acknowledged yet: syncing from the old token gets them again.
		const again = await rawSync(srv, bob, { since: s0.next_batch });
		assert.ok(again.to_device.events.length > 0);
		// Acknowledged: gone.
		const next = await rawSync(srv, bob, { since: s.next_batch });
		assert.deepEqual(next.to_device.events, []);
		const replay = await rawSync(srv, bob, { since: s.next_batch });
		assert.deepEqual(replay.to_device.events, []);
	});

	it('"*" reaches every device of the user', async () => {
		const other = await login(srv, bob.userId, 'pw-b', { device_id: 'TDB2' });
		const s0 = await rawSync(srv, other);
		assert.equal((await send('star', { [bob.userId]: { '*': { hello: 1 } } })).status, 200);
		const s1 = await rawSync(srv, other, { since: s0.next_batch });
		assert.equal(s1.to_device.events.length, 1);
	});

	it('refuses an oversized message with 413 and bad input with 400, storing nothing', async () => {
		const s0 = await rawSync(srv, bob);
		assertError(await send('big', { [bob.userId]: { TDB: { pad: 'x'.repeat(70 * 1024) } } }), 413, 'M_TOO_LARGE');
		assertError(await send('bad1', { [bob.userId]: { TDB: 'not an object' } }), 400, 'M_BAD_JSON');
		assertError(await send('bad2', { 'not-a-user': { TDB: {} } }), 400, 'M_INVALID_PARAM');
		assertError(await send('bad3', 'nope'), 400, 'M_BAD_JSON');
		const s1 = await rawSync(srv, bob, { since: s0.next_batch });
		assert.deepEqual(s1.to_device.events, []);
	});
});

describe('e2ee: matrix-js-sdk Rust crypto', () => {
	let alice, bob, bob2;
	const opts = quietLogger ? { logger: quietLogger } : {};

	async function cryptoClient(session) {
		const c = clientFor(srv, { ...session, clientOpts: opts });
		await c.initRustCrypto({ useIndexedDB: false });
		await startSyncing(c);
		return c;
	}

	before(async () => {
		const a = await register(srv, 'cryalice', 'pw-cry-a');
		const b = await register(srv, 'crybob', 'pw-cry-b');
		alice = { ...a, client: await cryptoClient(a) };
		bob = { ...b, client: await cryptoClient(b) };
	});
	after(() => stopAll(alice?.client, bob?.client, bob2?.client));

	async function decrypted(client, roomId, body) {
		const ev = await waitForTimelineEvent(client, roomId, (e) => e.getWireType() === 'm.room.encrypted' || e.getType() === 'm.room.message', 15000);
		void ev;
		return eventually(async () => {
			const found = client.getRoom(roomId).getLiveTimeline().getEvents().find((e) => e.getClearContent()?.body === body);
			assert.ok(found, `${client.getUserId()} has decrypted "${body}"`);
			assert.equal(found.isDecryptionFailure(), false);
			assert.equal(found.isEncrypted(), true);
			return found;
		}, 20000, `decryption of "${body}"`);
	}

	it('Alice and Bob decrypt each other in an encrypted room; a new device of Bob gets the keys of new messages', async () => {
		const { room_id: roomId } = await alice.client.createRoom({
			preset: 'private_chat',
			invite: [bob.userId],
			initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
		});
		await eventually(() => bob.client.getRoom(roomId), 10000, 'the invite');
		await bob.client.joinRoom(roomId);
		await eventually(() => alice.client.getRoom(roomId)?.getMember(bob.userId)?.membership === 'join', 10000, 'bob joined');
		await alice.client.sendTextMessage(roomId, 'hello bob, secretly');
		await decrypted(bob.client, roomId, 'hello bob, secretly');
		await bob.client.sendTextMessage(roomId, 'hello alice, secretly');
		await decrypted(alice.client, roomId, 'hello alice, secretly');

		const b2 = await login(srv, bob.userId, 'pw-cry-b');
		bob2 = { ...b2, client: await cryptoClient(b2) };
		// Alice's client learns of the new device through device_lists.changed.
		await eventually(async () => {
			const devs = await alice.client.getCrypto().getUserDeviceInfo([bob.userId], true);
			return devs.get(bob.userId)?.has(b2.deviceId);
		}, 15000, "alice's view of bob's devices");
		await alice.client.sendTextMessage(roomId, 'for both of your devices');
		await decrypted(bob2.client, roomId, 'for both of your devices');
		await decrypted(bob.client, roomId, 'for both of your devices');
	});
});
