// SPDX-License-Identifier: Apache-2.0
//
// Server keys over federation (SPEC: server-server-api#retrieving-server-keys,
// #querying-keys-through-another-server): Myelin as a notary answers for
// other servers' keys, fetching them while the request waits, each response
// signed by the origin and by the notary; and a Myelin configured with a
// trusted key server accepts a request from a server it cannot reach,
// through the notary's copy of that server's key.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canonicalJson } from './lib/matrix.mjs';
import { assertCleanExit, freePort } from './lib/server.mjs';
import { makeTestPki, federatingServer, FakeRemote } from './lib/federation.mjs';

/** Whether obj carries a valid signature of server with the base64 key pub. */
function signedBy(obj, server, keyId, pubB64) {
	const { signatures, unsigned, ...rest } = obj;
	const sig = signatures?.[server]?.[keyId];
	if (!sig) return false;
	const raw = Buffer.from(pubB64, 'base64');
	const key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
	return crypto.verify(null, Buffer.from(canonicalJson(rest)), key, Buffer.from(sig, 'base64'));
}

describe('federation keys and notary', () => {
	let tmp, pki, notary, client, remote, notaryKey;

	before(async () => {
		tmp = await mkdtemp(path.join(os.tmpdir(), 'myelin-notary-'));
		pki = makeTestPki(tmp);
		notary = await federatingServer(pki, tmp);
		await notary.start();
		remote = await new FakeRemote(pki).start();
		const own = await remote.request(notary, 'GET', '/_matrix/key/v2/server', { authorization: null });
		const [keyId, { key }] = Object.entries(own.json.verify_keys)[0];
		notaryKey = { keyId, key };
		// A server that trusts the notary, with its key pinned.
		client = await federatingServer(pki, tmp, {
			trusted_key_servers: [{ server_name: notary.serverName, verify_keys: { [keyId]: key } }],
		});
		await client.start();
	});

	after(async () => {
		await remote?.stop();
		for (const s of [notary, client]) if (s?.proc) assertCleanExit(await s.stop(), s);
		for (const s of [notary, client]) await s?.cleanup();
		if (tmp && !process.env.MYELIN_E2E_KEEP) await rm(tmp, { recursive: true, force: true });
	});

	it('GET /_matrix/key/v2/query/{serverName} fetches and countersigns the origin\'s keys', async () => {
		const res = await remote.request(notary, 'GET', `/_matrix/key/v2/query/${remote.serverName}`, { authorization: null });
		assert.equal(res.status, 200, res.body.toString());
		const [doc] = res.json.server_keys;
		assert.equal(doc.server_name, remote.serverName);
		assert.equal(doc.verify_keys[remote.keyId].key, remote.publicKeyB64);
		assert.ok(signedBy(doc, remote.serverName, remote.keyId, remote.publicKeyB64), 'signed by the origin');
		assert.ok(signedBy(doc, notary.serverName, notaryKey.keyId, notaryKey.key), 'signed by the notary');
	});

	it('POST /_matrix/key/v2/query answers for several servers, ourselves included', async () => {
		const res = await remote.request(notary, 'POST', '/_matrix/key/v2/query', {
			authorization: null,
			json: { server_keys: { [remote.serverName]: {}, [notary.serverName]: {} } },
		});
		assert.equal(res.status, 200, res.body.toString());
		const names = res.json.server_keys.map((d) => d.server_name).sort();
		assert.deepEqual(names, [remote.serverName, notary.serverName].sort());
	});

	it('an unreachable server yields no keys, a bad name 400', async () => {
		const dead = `127.0.0.1:${await freePort()}`;
		let res = await remote.request(notary, 'GET', `/_matrix/key/v2/query/${dead}`, { authorization: null });
		assert.equal(res.status, 200);
		assert.deepEqual(res.json.server_keys, []);
		res = await remote.request(notary, 'GET', '/_matrix/key/v2/query/not_a%20name', { authorization: null });
		assert.equal(res.status, 400);
		assert.equal(res.json.errcode, 'M_INVALID_PARAM');
	});

	it('a request from a server we cannot reach is accepted through the notary', async () => {
		// The notary holds the remote's keys (first test); now the remote's
		// own key server goes away, and it sends a signed request to client.
		await remote.stop();
		const res = await remote.request(client, 'GET', '/_matrix/federation/v1/media/download/nothing');
		assert.equal(res.status, 404, `signature accepted, media missing: ${res.body.toString()}`);
		assert.equal(res.json.errcode, 'M_NOT_FOUND');
		// A forged signature is still refused with the same key source.
		const bad = await remote.request(client, 'GET', '/_matrix/federation/v1/media/download/nothing', { overrides: { sig: 'AAAA' } });
		assert.equal(bad.status, 401);
	});
});
