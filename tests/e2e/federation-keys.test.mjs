// SPDX-License-Identifier: Apache-2.0
//
// End-to-end encryption keys over federation (SPEC: server-server-api,
// "End-to-End Encryption"; client-server-api, /keys/query and /keys/claim
// with "timeout" and "failures"): two Myelin servers with TLS federation
// listeners and hand-written remote homeservers. Alice on B publishes
// device, one-time, fallback and cross-signing keys; Bob on A queries and
// claims them through A, raw and with matrix-js-sdk's Rust crypto. A keeps
// only what a remote server may vouch for; B answers signed requests only,
// for its own users only, and never gives out a user-signing key.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { api, assertError, canonicalJson, clientFor, register } from './lib/matrix.mjs';
import { assertCleanExit, freePort } from './lib/server.mjs';
import { quietLogger, startSyncing, stopAll } from './lib/rooms.mjs';
import { makeTestPki, federatingServer, FakeRemote } from './lib/federation.mjs';

const b64 = (buf) => Buffer.from(buf).toString('base64').replace(/=+$/, '');

/** An ed25519 key pair signing JSON as entity under "ed25519:<name>" (name: the public key by default). */
function keyPair() {
	const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
	const pub = b64(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
	const sign = (obj, entity, name = pub) => {
		const { signatures, unsigned, ...rest } = obj;
		const sig = b64(crypto.sign(null, Buffer.from(canonicalJson(rest)), privateKey));
		const mine = { ...(signatures?.[entity] ?? {}), [`ed25519:${name}`]: sig };
		return { ...obj, signatures: { ...(signatures ?? {}), [entity]: mine } };
	};
	return { pub, sign };
}

/** True if obj carries a valid signature by entity with the base64 ed25519 key pub under keyId. */
function verifySigned(obj, entity, keyId, pub) {
	const sig = obj.signatures?.[entity]?.[keyId];
	if (!sig) return false;
	const { signatures, unsigned, ...rest } = obj;
	const key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub, 'base64').toString('base64url') }, format: 'jwk' });
	return crypto.verify(null, Buffer.from(canonicalJson(rest)), key, Buffer.from(sig, 'base64'));
}

/** A device of userId: its key pair, self-signed device keys, signed one-time keys. */
function fakeDevice(userId, deviceId) {
	const kp = keyPair();
	const keys = kp.sign({
		user_id: userId,
		device_id: deviceId,
		algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
		keys: { [`curve25519:${deviceId}`]: b64(crypto.randomBytes(32)), [`ed25519:${deviceId}`]: kp.pub },
	}, userId, deviceId);
	const otks = (n, prefix) => Object.fromEntries(Array.from({ length: n }, (_, i) =>
		[`signed_curve25519:${prefix}${i}`, kp.sign({ key: b64(crypto.randomBytes(32)) }, userId, deviceId)]));
	return { ...kp, keys, otks };
}

const csKey = (userId, usage, kp) => ({ user_id: userId, usage: [usage], keys: { [`ed25519:${kp.pub}`]: kp.pub } });

/** A user's master, self-signing and user-signing keys, the last two signed by the first. */
function crossSigning(userId) {
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

/** The JSON body of an incoming request (FakeRemote handlers). */
function readJson(req) {
	return new Promise((resolve, reject) => {
		let s = '';
		req.on('data', (c) => (s += c));
		req.on('end', () => {
			try {
				resolve(JSON.parse(s));
			} catch (e) {
				reject(e);
			}
		});
	});
}

function replyJson(res, status, body) {
	res.writeHead(status, { 'Content-Type': 'application/json' });
	res.end(JSON.stringify(body));
}

/** Check an X-Matrix header of a request with a JSON body against the origin's published key. */
async function verifyXMatrix(pki, header, method, uri, destination, content) {
	const params = Object.fromEntries([...header.replace(/^X-Matrix\s+/, '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
	const keyDoc = await new Promise((resolve, reject) => {
		https.get(`https://${params.origin}/_matrix/key/v2/server`, { ca: fs.readFileSync(pki.ca) }, (res) => {
			let s = '';
			res.on('data', (c) => (s += c));
			res.on('end', () => resolve(JSON.parse(s)));
		}).on('error', reject);
	});
	const signed = { method, uri, origin: params.origin, destination, content };
	return params.destination === destination &&
		verifySigned({ ...signed, signatures: { [params.origin]: { [params.key]: params.sig } } }, params.origin, params.key, keyDoc.verify_keys[params.key].key);
}

describe('federation: end-to-end encryption keys', () => {
	let tmp, pki, a, b, fake, slow, alice, carol, bob, dev, aliceCs, carolCs;
	const clients = [];
	const hanging = [];

	const post = (srv, user, p, json) => api(srv, 'POST', `/_matrix/client/v3${p}`, { token: user.accessToken, json });
	const fedRequest = (srv, method, uri, opts) => fake.request(srv, method, uri, opts).then((r) => ({ ...r, text: r.body.toString(), headers: new Headers(r.headers) }));

	before(async () => {
		tmp = await mkdtemp(path.join(os.tmpdir(), 'myelin-fedkeys-'));
		pki = makeTestPki(tmp);
		a = await federatingServer(pki, tmp);
		b = await federatingServer(pki, tmp);
		await a.start();
		await b.start();
		fake = await new FakeRemote(pki).start();
		slow = await new FakeRemote(pki).start();
		slow.handle('POST', '/_matrix/federation/v1/user/keys/query', (req, res) => hanging.push(res));

		bob = await register(a, 'bob');
		alice = await register(b, 'alice', 'pw-alice', { device_id: 'ALICEDEV', initial_device_display_name: 'Alice phone' });
		carol = await register(b, 'carol', 'pw-carol', { device_id: 'CAROLDEV' });
		dev = fakeDevice(alice.userId, 'ALICEDEV');
		const fallback = { 'signed_curve25519:fb': dev.sign({ key: b64(crypto.randomBytes(32)), fallback: true }, alice.userId, 'ALICEDEV') };
		let res = await post(b, alice, '/keys/upload', { device_keys: dev.keys, one_time_keys: dev.otks(3, 'otk'), fallback_keys: fallback });
		assert.equal(res.status, 200, res.text);
		// Cross-signing: Alice's keys, her self-signing key over her device;
		// Carol (also on B) signs Alice's master key with her user-signing key.
		aliceCs = crossSigning(alice.userId);
		carolCs = crossSigning(carol.userId);
		assert.equal((await post(b, alice, '/keys/device_signing/upload', aliceCs.body)).status, 200);
		assert.equal((await post(b, carol, '/keys/device_signing/upload', carolCs.body)).status, 200);
		res = await post(b, alice, '/keys/signatures/upload', { [alice.userId]: { ALICEDEV: aliceCs.self.sign(dev.keys, alice.userId) } });
		assert.deepEqual(res.json?.failures, {}, res.text);
		res = await post(b, carol, '/keys/signatures/upload', { [alice.userId]: { [aliceCs.master.pub]: carolCs.user.sign(aliceCs.body.master_key, carol.userId) } });
		assert.deepEqual(res.json?.failures, {}, res.text);
	});

	after(async () => {
		stopAll(...clients);
		for (const res of hanging) res.destroy();
		await fake?.stop();
		await slow?.stop();
		for (const s of [a, b]) {
			if (s?.proc) assertCleanExit(await s.stop(), s);
		}
		for (const s of [a, b]) await s?.cleanup();
		if (tmp && !process.env.MYELIN_E2E_KEEP) await rm(tmp, { recursive: true, force: true });
	});

	// SPEC: client-server-api#post_matrixclientv3keysquery, server-server-api#post_matrixfederationv1userkeysquery
	it('Bob queries Alice\'s keys through his server and gets them with valid signatures, without her user-signing key', async () => {
		const res = await post(a, bob, '/keys/query', { device_keys: { [alice.userId]: [], [bob.userId]: [] } });
		assert.equal(res.status, 200, res.text);
		assert.deepEqual(res.json.failures, {});
		assert.deepEqual(res.json.device_keys[bob.userId], {}, 'local users are answered alongside');
		const got = res.json.device_keys[alice.userId]?.ALICEDEV;
		assert.ok(got, JSON.stringify(res.json.device_keys));
		assert.deepEqual(got.keys, dev.keys.keys);
		// allow_device_name_lookup_over_federation is false by default (as Synapse).
		assert.equal(got.unsigned?.device_display_name, undefined, 'device names stay private');
		assert.ok(verifySigned(got, alice.userId, 'ed25519:ALICEDEV', dev.pub), 'self-signed by the device');
		assert.ok(verifySigned(got, alice.userId, `ed25519:${aliceCs.self.pub}`, aliceCs.self.pub), 'signed by her self-signing key');

		const master = res.json.master_keys?.[alice.userId];
		assert.deepEqual(master?.keys, aliceCs.body.master_key.keys);
		assert.deepEqual(Object.keys(master.signatures ?? {}).filter((u) => u !== alice.userId), [], "Carol's signature is not Bob's to see");
		const self = res.json.self_signing_keys?.[alice.userId];
		assert.ok(verifySigned(self, alice.userId, `ed25519:${aliceCs.master.pub}`, aliceCs.master.pub), 'self-signing key signed by the master key');
		assert.equal(res.json.user_signing_keys?.[alice.userId], undefined);

		// One device by id; an unknown one is simply absent.
		const one = await post(a, bob, '/keys/query', { device_keys: { [alice.userId]: ['NOPE', 'ALICEDEV'] } });
		assert.deepEqual(Object.keys(one.json.device_keys[alice.userId]), ['ALICEDEV']);
		// Carol, on B, sees her own signature over Alice's master key (and Alice does not).
		const byCarol = await post(b, carol, '/keys/query', { device_keys: { [alice.userId]: [] } });
		assert.ok(byCarol.json.master_keys[alice.userId].signatures?.[carol.userId], byCarol.text);
		const byAlice = await post(b, alice, '/keys/query', { device_keys: { [alice.userId]: [] } });
		assert.equal(byAlice.json.master_keys[alice.userId].signatures?.[carol.userId], undefined);
		assert.ok(byAlice.json.user_signing_keys[alice.userId], 'her own user-signing key, to herself');
	});

	// SPEC: client-server-api#post_matrixclientv3keysclaim, server-server-api#post_matrixfederationv1userkeysclaim
	it('Bob claims Alice\'s one-time keys through his server, one at a time, then her fallback key', async () => {
		const want = { one_time_keys: { [alice.userId]: { ALICEDEV: 'signed_curve25519' } } };
		const seen = new Set();
		for (let i = 0; i < 3; i++) {
			const res = await post(a, bob, '/keys/claim', want);
			assert.equal(res.status, 200, res.text);
			assert.deepEqual(res.json.failures, {});
			const keys = res.json.one_time_keys[alice.userId]?.ALICEDEV ?? {};
			const [name] = Object.keys(keys);
			assert.match(name ?? '', /^signed_curve25519:otk\d$/);
			assert.ok(verifySigned(keys[name], alice.userId, 'ed25519:ALICEDEV', dev.pub));
			seen.add(name);
			const counts = await post(b, alice, '/keys/upload', {});
			assert.equal(counts.json.one_time_key_counts.signed_curve25519, 2 - i, 'the count on B dropped');
		}
		assert.equal(seen.size, 3, 'never the same key twice');
		const res = await post(a, bob, '/keys/claim', want);
		assert.deepEqual(Object.keys(res.json.one_time_keys[alice.userId].ALICEDEV), ['signed_curve25519:fb']);
	});

	it('matrix-js-sdk\'s Rust crypto on A sees Alice\'s device and cross-signing keys on B', async () => {
		const c = clientFor(a, { ...bob, clientOpts: quietLogger ? { logger: quietLogger } : {} });
		clients.push(c);
		await c.initRustCrypto({ useIndexedDB: false });
		await startSyncing(c);
		const devices = await c.getCrypto().getUserDeviceInfo([alice.userId], true);
		const d = devices.get(alice.userId)?.get('ALICEDEV');
		assert.ok(d, 'the SDK accepted the device');
		assert.equal(d.getFingerprint(), dev.pub);
		assert.equal(d.displayName, undefined, 'the name stays on B');
		assert.equal(await c.getCrypto().userHasCrossSigningKeys(alice.userId, true), true);
	});

	it('an unreachable server and a silent one end up in failures, within the timeout, beside the others\' keys', async () => {
		const dead = `127.0.0.1:${await freePort()}`;
		const silent = slow.serverName;
		let t0 = Date.now();
		let res = await post(a, bob, '/keys/query', { device_keys: { [`@x:${dead}`]: [], [alice.userId]: [] } });
		assert.equal(res.status, 200, res.text);
		assert.ok(Date.now() - t0 < 5000, `answered in ${Date.now() - t0} ms`);
		assert.equal(res.json.failures[dead]?.status, 503, res.text);
		assert.ok(res.json.device_keys[alice.userId].ALICEDEV, 'the reachable server still answered');

		t0 = Date.now();
		res = await post(a, bob, '/keys/query', { timeout: 1500, device_keys: { [`@y:${silent}`]: [], [alice.userId]: [], [`@z:${dead}`]: [] } });
		const took = Date.now() - t0;
		assert.equal(res.status, 200, res.text);
		assert.ok(took >= 1400 && took < 4000, `answered after ${took} ms`);
		assert.deepEqual(Object.keys(res.json.failures).sort(), [dead, silent].sort(), res.text);
		assert.ok(res.json.device_keys[alice.userId].ALICEDEV);
		assert.ok(hanging.length >= 1, 'the silent server was asked');

		// Claims likewise.
		res = await post(a, bob, '/keys/claim', { timeout: 2000, one_time_keys: { [`@x:${dead}`]: { D: 'signed_curve25519' } } });
		assert.equal(res.status, 200, res.text);
		assert.ok(res.json.failures[dead], res.text);
		// The silent server's late failure touches nothing: A still answers.
		await new Promise((r) => setTimeout(r, 1000));
		assert.equal((await post(a, bob, '/keys/query', { device_keys: { [bob.userId]: [] } })).status, 200);
	});

	it('keeps of a remote answer only self-signed keys of the users asked, and never a user-signing key', async () => {
		const eve = `@eve:${fake.serverName}`, ivy = `@ivy:${fake.serverName}`, mallory = `@mallory:${fake.serverName}`;
		const good = fakeDevice(eve, 'GOOD');
		const forged = fakeDevice(eve, 'FORGED');
		forged.keys.keys[`curve25519:FORGED`] = b64(crypto.randomBytes(32)); // after signing
		const renamed = fakeDevice(eve, 'RENAMED');
		const stranger = fakeDevice(mallory, 'MAL');
		const eveCs = crossSigning(eve), ivyCs = crossSigning(ivy), bogus = keyPair();
		let asked, authOk;
		fake.handle('POST', '/_matrix/federation/v1/user/keys/query', async (req, res, url) => {
			asked = await readJson(req);
			authOk = await verifyXMatrix(pki, req.headers.authorization ?? '', 'POST', url.pathname, fake.serverName, asked);
			replyJson(res, 200, {
				device_keys: {
					[eve]: { GOOD: good.keys, FORGED: forged.keys, OTHERNAME: renamed.keys },
					[mallory]: { MAL: stranger.keys },
					[alice.userId]: { EVIL: fakeDevice(alice.userId, 'EVIL').keys },
				},
				master_keys: { [eve]: eveCs.body.master_key, [ivy]: ivyCs.body.master_key, [alice.userId]: csKey(alice.userId, 'master', bogus) },
				self_signing_keys: {
					[eve]: eveCs.body.self_signing_key,
					[ivy]: bogus.sign(csKey(ivy, 'self_signing', ivyCs.self), ivy, ivyCs.master.pub),
				},
				user_signing_keys: { [eve]: eveCs.body.user_signing_key },
			});
		});
		const res = await post(a, bob, '/keys/query', { device_keys: { [eve]: [], [ivy]: [], [alice.userId]: [] } });
		assert.equal(res.status, 200, res.text);
		assert.equal(authOk, true, 'signed by A');
		assert.deepEqual(asked, { device_keys: { [eve]: [], [ivy]: [] } }, 'each server is asked about its own users only');
		assert.deepEqual(Object.keys(res.json.device_keys[eve]), ['GOOD']);
		assert.equal(res.json.device_keys[mallory], undefined);
		assert.deepEqual(Object.keys(res.json.device_keys[alice.userId]), ['ALICEDEV'], 'B speaks for Alice, not the fake');
		assert.deepEqual(res.json.master_keys[alice.userId].keys, aliceCs.body.master_key.keys);
		assert.deepEqual(res.json.master_keys[eve], eveCs.body.master_key);
		assert.deepEqual(res.json.self_signing_keys[eve], eveCs.body.self_signing_key);
		assert.ok(res.json.master_keys[ivy], "Ivy's master key is fine");
		assert.equal(res.json.self_signing_keys[ivy], undefined, 'not signed by her master key');
		assert.equal(res.json.user_signing_keys[eve], undefined);

		// Claims: the device and algorithm asked for, one key.
		fake.handle('POST', '/_matrix/federation/v1/user/keys/claim', async (req, res2) => {
			await readJson(req);
			replyJson(res2, 200, {
				one_time_keys: {
					[eve]: {
						GOOD: { 'curve25519:plain': 'abc', ...good.otks(2, 'k') },
						OTHER: good.otks(1, 'o'),
					},
					[mallory]: { MAL: stranger.otks(1, 'm') },
				},
			});
		});
		const cl = await post(a, bob, '/keys/claim', { one_time_keys: { [eve]: { GOOD: 'signed_curve25519' } } });
		assert.equal(cl.status, 200, cl.text);
		assert.deepEqual(Object.keys(cl.json.one_time_keys), [eve]);
		assert.deepEqual(Object.keys(cl.json.one_time_keys[eve]), ['GOOD']);
		const keys = Object.keys(cl.json.one_time_keys[eve].GOOD);
		assert.equal(keys.length, 1);
		assert.match(keys[0], /^signed_curve25519:k/);

		// An error status is a failure of that server.
		fake.handle('POST', '/_matrix/federation/v1/user/keys/claim', (req, res2) => replyJson(res2, 403, { errcode: 'M_FORBIDDEN', error: 'go away' }));
		const refused = await post(a, bob, '/keys/claim', { one_time_keys: { [eve]: { GOOD: 'signed_curve25519' } } });
		assert.deepEqual(refused.json.failures[fake.serverName], { status: 403, message: 'go away' });
	});

	// SPEC: server-server-api#get_matrixfederationv1userdevicesuserid
	it('GET /user/devices gives a local user\'s devices, keys and cross-signing keys to a signed request', async () => {
		const uri = `/_matrix/federation/v1/user/devices/${encodeURIComponent(alice.userId)}`;
		const res = await fedRequest(b, 'GET', uri);
		assert.equal(res.status, 200, res.text);
		assert.equal(res.json.user_id, alice.userId);
		assert.ok(Number.isInteger(res.json.stream_id) && res.json.stream_id > 0, res.text);
		assert.equal(res.json.devices.length, 1);
		const [d] = res.json.devices;
		assert.equal(d.device_id, 'ALICEDEV');
		assert.equal(d.device_display_name, undefined, 'device names stay private by default');
		assert.deepEqual(d.keys.keys, dev.keys.keys);
		assert.ok(verifySigned(d.keys, alice.userId, 'ed25519:ALICEDEV', dev.pub));
		assert.deepEqual(res.json.master_key.keys, aliceCs.body.master_key.keys);
		assert.equal(res.json.master_key.signatures?.[carol.userId], undefined, 'only the owner\'s signatures');
		assert.deepEqual(res.json.self_signing_key.keys, aliceCs.body.self_signing_key.keys);
		assert.equal(res.json.user_signing_key, undefined);

		// A change of her keys moves the stream position.
		const more = await post(b, alice, '/keys/upload', { one_time_keys: dev.otks(1, 'late') });
		assert.equal(more.status, 200);
		const other = fakeDevice(carol.userId, 'CAROLDEV');
		assert.equal((await post(b, carol, '/keys/upload', { device_keys: other.keys })).status, 200);
		const again = await fedRequest(b, 'GET', uri);
		assert.equal(again.json.stream_id, res.json.stream_id, "others' changes do not count");

		assertError(await fedRequest(b, 'GET', `/_matrix/federation/v1/user/devices/${encodeURIComponent(bob.userId)}`), 400, 'M_INVALID_PARAM', 'a user of another server');
		const nobody = await fedRequest(b, 'GET', `/_matrix/federation/v1/user/devices/${encodeURIComponent(`@nobody:${b.serverName}`)}`);
		assert.equal(nobody.status, 200);
		assert.deepEqual(nobody.json.devices, []);
	});

	it('POST /user/keys/query and /user/keys/claim answer for local users only', async () => {
		const q = await fedRequest(b, 'POST', '/_matrix/federation/v1/user/keys/query', { json: { device_keys: { [alice.userId]: [] } } });
		assert.equal(q.status, 200, q.text);
		assert.ok(verifySigned(q.json.device_keys[alice.userId].ALICEDEV, alice.userId, 'ed25519:ALICEDEV', dev.pub));
		assert.ok(q.json.master_keys[alice.userId]);
		assert.equal(q.json.master_keys[alice.userId].signatures?.[carol.userId], undefined);
		assert.ok(q.json.self_signing_keys[alice.userId]);
		assert.equal(q.json.user_signing_keys, undefined, 'never a user-signing key to another server');

		assertError(await fedRequest(b, 'POST', '/_matrix/federation/v1/user/keys/query', { json: { device_keys: { [alice.userId]: [], [bob.userId]: [] } } }), 400, 'M_INVALID_PARAM', "another server's user");
		assertError(await fedRequest(b, 'POST', '/_matrix/federation/v1/user/keys/query', { json: { device_keys: { [alice.userId]: 'all' } } }), 400, 'M_BAD_JSON');
		assertError(await fedRequest(b, 'POST', '/_matrix/federation/v1/user/keys/query', { json: {} }), 400, 'M_MISSING_PARAM');

		const c = await fedRequest(b, 'POST', '/_matrix/federation/v1/user/keys/claim', { json: { one_time_keys: { [alice.userId]: { ALICEDEV: 'signed_curve25519' } } } });
		assert.equal(c.status, 200, c.text);
		assert.deepEqual(Object.keys(c.json.one_time_keys[alice.userId].ALICEDEV), ['signed_curve25519:late0']);
		assertError(await fedRequest(b, 'POST', '/_matrix/federation/v1/user/keys/claim', { json: { one_time_keys: { [bob.userId]: { X: 'signed_curve25519' } } } }), 400, 'M_INVALID_PARAM');
	});

	it('unsigned requests are refused with 401', async () => {
		const cases = [
			['GET', `/_matrix/federation/v1/user/devices/${encodeURIComponent(alice.userId)}`, undefined],
			['POST', '/_matrix/federation/v1/user/keys/query', { device_keys: { [alice.userId]: [] } }],
			['POST', '/_matrix/federation/v1/user/keys/claim', { one_time_keys: { [alice.userId]: { ALICEDEV: 'signed_curve25519' } } }],
		];
		for (const [method, uri, json] of cases) {
			assertError(await fedRequest(b, method, uri, { json, authorization: null }), 401, 'M_UNAUTHORIZED', `${method} ${uri}`);
			assertError(await fedRequest(b, method, uri, { json, overrides: { sig: 'AAAA' } }), 401, 'M_UNAUTHORIZED', `forged ${uri}`);
		}
	});
});
