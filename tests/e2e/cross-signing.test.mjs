// SPDX-License-Identifier: Apache-2.0
//
// Cross-signing (spec: Client-Server API, "Cross-signing"): uploading
// master, self-signing and user-signing keys (the first master key without
// User-Interactive Authentication, a replacement with m.login.password),
// key validation, and /keys/signatures/upload: valid signatures stored,
// forged ones reported in "failures" and not stored.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { useServer } from './lib/server.mjs';
import { api, assertError, canonicalJson, clientFor, login, passwordAuth, register } from './lib/matrix.mjs';
import { eventually, quietLogger, startSyncing, stopAll } from './lib/rooms.mjs';

const srv = useServer();
const b64 = (buf) => Buffer.from(buf).toString('base64').replace(/=+$/, '');

/** An ed25519 key pair that signs JSON as entity under key id "ed25519:<name>". */
function keyPair() {
	const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
	const pub = b64(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
	const sign = (obj, entity, name = pub) => {
		const { signatures, unsigned, ...rest } = obj;
		const sig = b64(crypto.sign(null, Buffer.from(canonicalJson(rest)), privateKey));
		const mine = { ...(signatures?.[entity] ?? {}), [`ed25519:${name}`]: sig };
		return { ...rest, signatures: { ...(signatures ?? {}), [entity]: mine } };
	};
	return { pub, sign };
}

const csKey = (userId, usage, kp) => ({ user_id: userId, usage: [usage], keys: { [`ed25519:${kp.pub}`]: kp.pub } });

/** A user's three keys, the sub-keys signed by the master key. */
function crossSigningKeys(userId) {
	const master = keyPair(), self = keyPair(), user = keyPair();
	return {
		master, self, user,
		body: {
			master_key: csKey(userId, 'master', master),
			self_signing_key: master.sign(csKey(userId, 'self_signing', self), userId),
			user_signing_key: master.sign(csKey(userId, 'user_signing', user), userId),
		},
	};
}

const post = (u, path, json) => api(srv, 'POST', `/_matrix/client/v3${path}`, { token: u.accessToken, json });
const query = async (u, users) => {
	const res = await post(u, '/keys/query', { device_keys: Object.fromEntries(users.map((x) => [x, []])) });
	assert.equal(res.status, 200, res.text);
	return res.json;
};

describe('cross-signing', () => {
	let alice, bob, aliceKeys, bobKeys, device;
	before(async () => {
		alice = await register(srv, 'csalice', 'pw-cs-alice', { device_id: 'ALICEDEV' });
		bob = await register(srv, 'csbob', 'pw-cs-bob', { device_id: 'BOBDEV' });
		aliceKeys = crossSigningKeys(alice.userId);
		bobKeys = crossSigningKeys(bob.userId);
		// Alice's device keys, so that they can be cross-signed.
		device = keyPair();
		const dk = device.sign({
			user_id: alice.userId, device_id: 'ALICEDEV',
			algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
			keys: { 'curve25519:ALICEDEV': b64(crypto.randomBytes(32)), 'ed25519:ALICEDEV': '' },
		}, alice.userId, 'ALICEDEV');
		// The ed25519 key must be the device's own; sign after setting it.
		const { signatures, ...raw } = dk;
		raw.keys['ed25519:ALICEDEV'] = device.pub;
		device.keys = device.sign(raw, alice.userId, 'ALICEDEV');
		const up = await post(alice, '/keys/upload', { device_keys: device.keys });
		assert.equal(up.status, 200, up.text);
	});

	// Spec: keys/device_signing/upload validates the keys: usage, user_id, signed by the master key.
	it('refuses malformed keys and stores nothing', async () => {
		const other = keyPair();
		const { body } = aliceKeys;
		assertError(await post(alice, '/keys/device_signing/upload', { ...body, master_key: { ...body.master_key, usage: ['self_signing'] } }), 400, 'M_INVALID_PARAM', 'usage');
		assertError(await post(alice, '/keys/device_signing/upload', { ...body, master_key: { ...body.master_key, user_id: bob.userId } }), 400, 'M_INVALID_PARAM', 'user_id');
		assertError(await post(alice, '/keys/device_signing/upload', { ...body, master_key: { ...body.master_key, keys: { 'ed25519:abc': 'abc' } } }), 400, 'M_INVALID_PARAM', 'keys');
		assertError(await post(alice, '/keys/device_signing/upload', {
			...body, self_signing_key: other.sign(csKey(alice.userId, 'self_signing', aliceKeys.self), alice.userId, aliceKeys.master.pub),
		}), 400, 'M_INVALID_SIGNATURE', 'forged sub-key signature');
		assertError(await post(alice, '/keys/device_signing/upload', { self_signing_key: body.self_signing_key }), 400, 'M_MISSING_PARAM', 'no master');
		const q = await query(alice, [alice.userId]);
		assert.equal(q.master_keys?.[alice.userId], undefined);
	});

	// Spec: the first upload needs no UIA (as Synapse allows); keys/query then shows the keys.
	it('uploads the first keys without UIA', async () => {
		const res = await post(alice, '/keys/device_signing/upload', aliceKeys.body);
		assert.equal(res.status, 200, res.text);
		const res2 = await post(bob, '/keys/device_signing/upload', bobKeys.body);
		assert.equal(res2.status, 200, res2.text);
		const mine = await query(alice, [alice.userId, bob.userId]);
		assert.deepEqual(mine.master_keys[alice.userId].keys, aliceKeys.body.master_key.keys);
		assert.deepEqual(mine.self_signing_keys[alice.userId].keys, aliceKeys.body.self_signing_key.keys);
		assert.deepEqual(mine.user_signing_keys[alice.userId].keys, aliceKeys.body.user_signing_key.keys);
		assert.deepEqual(mine.master_keys[bob.userId].keys, bobKeys.body.master_key.keys);
		assert.equal(mine.user_signing_keys[bob.userId], undefined, "only one's own user-signing key");
		// The same keys again: nothing to authorise.
		assert.equal((await post(alice, '/keys/device_signing/upload', aliceKeys.body)).status, 200);
	});

	// Spec: "This API endpoint uses the User-Interactive Authentication API."
	it('replacing keys needs m.login.password UIA', async () => {
		const fresh = crossSigningKeys(alice.userId);
		const first = await post(alice, '/keys/device_signing/upload', fresh.body);
		assert.equal(first.status, 401, first.text);
		assert.ok(first.json.flows.some((f) => f.stages.includes('m.login.password')));
		const wrong = await post(alice, '/keys/device_signing/upload', { ...fresh.body, auth: { ...passwordAuth(alice.userId, 'nope'), session: first.json.session } });
		assert.equal(wrong.status, 401);
		let q = await query(alice, [alice.userId]);
		assert.deepEqual(q.master_keys[alice.userId].keys, aliceKeys.body.master_key.keys, 'unchanged before UIA');
		const done = await post(alice, '/keys/device_signing/upload', { ...fresh.body, auth: { ...passwordAuth(alice.userId, 'pw-cs-alice'), session: first.json.session } });
		assert.equal(done.status, 200, done.text);
		q = await query(alice, [alice.userId]);
		assert.deepEqual(q.master_keys[alice.userId].keys, fresh.body.master_key.keys);
		aliceKeys = fresh;
	});

	// Spec: keys/signatures/upload: valid signatures are stored; invalid ones reported in failures.
	it('stores valid signatures and reports forged ones', async () => {
		const signedDevice = aliceKeys.self.sign(device.keys, alice.userId);
		const bobMaster = aliceKeys.user.sign(bobKeys.body.master_key, alice.userId);
		const res = await post(alice, '/keys/signatures/upload', {
			[alice.userId]: { ALICEDEV: signedDevice },
			[bob.userId]: { [bobKeys.master.pub]: bobMaster },
		});
		assert.equal(res.status, 200, res.text);
		assert.deepEqual(res.json.failures, {});
		const q = await query(alice, [alice.userId, bob.userId]);
		const dsigs = q.device_keys[alice.userId].ALICEDEV.signatures[alice.userId];
		assert.equal(dsigs[`ed25519:${aliceKeys.self.pub}`], signedDevice.signatures[alice.userId][`ed25519:${aliceKeys.self.pub}`]);
		assert.ok(q.master_keys[bob.userId].signatures[alice.userId][`ed25519:${aliceKeys.user.pub}`]);

		// Forged: signed by a random key under the self-signing key's id.
		const forger = keyPair();
		const forged = forger.sign(device.keys, alice.userId, aliceKeys.self.pub);
		const forgedBob = forger.sign(bobKeys.body.master_key, alice.userId, aliceKeys.user.pub);
		const bad = await post(alice, '/keys/signatures/upload', {
			[alice.userId]: { ALICEDEV: forged, NOSUCHDEVICE: forged },
			[bob.userId]: { [bobKeys.master.pub]: forgedBob },
		});
		assert.equal(bad.status, 200, bad.text);
		assert.equal(bad.json.failures[alice.userId].ALICEDEV.errcode, 'M_INVALID_SIGNATURE');
		assert.equal(bad.json.failures[alice.userId].NOSUCHDEVICE.errcode, 'M_NOT_FOUND');
		assert.equal(bad.json.failures[bob.userId][bobKeys.master.pub].errcode, 'M_INVALID_SIGNATURE');
		const q2 = await query(alice, [alice.userId]);
		assert.equal(q2.device_keys[alice.userId].ALICEDEV.signatures[alice.userId][`ed25519:${aliceKeys.self.pub}`],
			signedDevice.signatures[alice.userId][`ed25519:${aliceKeys.self.pub}`], 'the forged signature was not stored');

		// A device signing its user's master key.
		const byDevice = device.sign(aliceKeys.body.master_key, alice.userId, 'ALICEDEV');
		const res3 = await post(alice, '/keys/signatures/upload', { [alice.userId]: { [aliceKeys.master.pub]: byDevice } });
		assert.deepEqual(res3.json.failures, {});
		const q3 = await query(bob, [alice.userId]);
		assert.ok(q3.master_keys[alice.userId].signatures[alice.userId]['ed25519:ALICEDEV']);
		assert.equal(q3.user_signing_keys?.[alice.userId], undefined);
	});
});

// Spec: "Cross-signing", "Secret storage" and "Server-side key backups",
// driven by matrix-js-sdk's Rust crypto: Alice bootstraps cross-signing (with
// m.login.password UIA when asked) and secret storage with a recovery key and
// a new key backup; her room keys are backed up; a new login of hers
// restores the backup through secret storage with the recovery key and
// decrypts the history it never had the keys for.
describe('Rust crypto: cross-signing, secret storage and key backup, restored on a new login', () => {
	const opts = quietLogger ? { logger: quietLogger } : {};
	let alice, bob, alice2, recoveryKey;
	const clients = [];

	/** A Rust-crypto client whose secret-storage key callback answers with the recovery key. */
	async function cryptoClient(session) {
		const cryptoCallbacks = {
			getSecretStorageKey: async ({ keys }) => {
				const id = Object.keys(keys)[0];
				return recoveryKey ? [id, recoveryKey.privateKey] : null;
			},
		};
		const c = clientFor(srv, { ...session, clientOpts: { ...opts, cryptoCallbacks } });
		await c.initRustCrypto({ useIndexedDB: false });
		await startSyncing(c);
		clients.push(c);
		return c;
	}

	before(async () => {
		const a = await register(srv, 'rcalice', 'pw-rc-alice');
		const b = await register(srv, 'rcbob', 'pw-rc-bob');
		alice = { ...a, client: await cryptoClient(a) };
		bob = { ...b, client: await cryptoClient(b) };
	});
	after(() => stopAll(...clients));

	it('bootstraps, backs up, and a new device restores and decrypts old history', async () => {
		const crypto1 = alice.client.getCrypto();
		let uia = 0;
		await crypto1.bootstrapCrossSigning({
			authUploadDeviceSigningKeys: async (makeRequest) => {
				try {
					await makeRequest(null);
				} catch (e) {
					if (e.httpStatus !== 401) throw e;
					uia += 1;
					await makeRequest({ ...passwordAuth(alice.userId, 'pw-rc-alice'), session: e.data.session });
				}
			},
		});
		assert.ok(uia <= 1);
		assert.equal(await crypto1.isCrossSigningReady(), true, 'cross-signing ready');
		recoveryKey = await crypto1.createRecoveryKeyFromPassphrase();
		await crypto1.bootstrapSecretStorage({ createSecretStorageKey: async () => recoveryKey, setupNewKeyBackup: true });
		assert.equal(await crypto1.isSecretStorageReady(), true, 'secret storage ready');
		const version = await eventually(() => crypto1.getActiveSessionBackupVersion(), 10000, 'an active backup');
		// The server has the keys and the backup info.
		const q = await api(srv, 'POST', '/_matrix/client/v3/keys/query', { token: bob.accessToken, json: { device_keys: { [alice.userId]: [] } } });
		assert.ok(q.json.master_keys?.[alice.userId], 'master key published');
		const info = await api(srv, 'GET', '/_matrix/client/v3/room_keys/version', { token: alice.accessToken });
		assert.equal(info.status, 200, info.text);
		assert.equal(info.json.version, version);

		const { room_id: roomId } = await alice.client.createRoom({
			preset: 'private_chat',
			invite: [bob.userId],
			initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
		});
		await eventually(() => bob.client.getRoom(roomId), 10000, 'the invite');
		await bob.client.joinRoom(roomId);
		await eventually(() => alice.client.getRoom(roomId)?.getMember(bob.userId)?.membership === 'join', 10000, 'bob joined');
		const bodies = ['old secret one', 'old secret two'];
		for (const body of bodies) await alice.client.sendTextMessage(roomId, body);
		await bob.client.sendTextMessage(roomId, 'old secret from bob');
		await eventually(() => alice.client.getRoom(roomId).getLiveTimeline().getEvents().some((e) => e.getClearContent()?.body === 'old secret from bob'), 20000, "bob's message decrypted by alice");

		// Alice's client uploads the megolm sessions (hers and Bob's) to the backup.
		await eventually(async () => {
			const r = await api(srv, 'GET', `/_matrix/client/v3/room_keys/keys/${encodeURIComponent(roomId)}?version=${version}`, { token: alice.accessToken });
			assert.equal(r.status, 200, r.text);
			return Object.keys(r.json.sessions ?? {}).length >= 2;
		}, 20000, 'the room keys in the backup');

		// A new login: no keys for the room, until the backup is restored.
		const a2 = await login(srv, alice.userId, 'pw-rc-alice');
		alice2 = { ...a2, client: await cryptoClient(a2) };
		const crypto2 = alice2.client.getCrypto();
		await eventually(() => alice2.client.getRoom(roomId), 10000, 'the room on the new device');
		await crypto2.loadSessionBackupPrivateKeyFromSecretStorage();
		const restored = await crypto2.restoreKeyBackup();
		assert.ok(restored.imported >= 2, `imported ${restored.imported} of ${restored.total}`);

		const all = [...bodies, 'old secret from bob'];
		await eventually(async () => {
			const room = alice2.client.getRoom(roomId);
			let events = room.getLiveTimeline().getEvents();
			for (const e of events) if (e.isEncrypted() && e.isDecryptionFailure()) await alice2.client.decryptEventIfNeeded(e, { isRetry: true });
			events = room.getLiveTimeline().getEvents();
			const seen = events.map((e) => e.getClearContent()?.body).filter(Boolean);
			for (const body of all) assert.ok(seen.includes(body), `"${body}" decrypted on the new device (saw ${JSON.stringify(seen)})`);
			return true;
		}, 20000, 'the old history decrypted');
	});
});
