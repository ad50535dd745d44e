// SPDX-License-Identifier: Apache-2.0
//
// Server-side key backups (spec: Client-Server API, "Server-side key
// backups"): versions (create, read, update, delete; only the current one
// writable), session keys at the three scopes with the replacement rules,
// etag and count, M_WRONG_ROOM_KEYS_VERSION, and that nobody else can read,
// replace or delete a user's backup.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, register } from './lib/matrix.mjs';

const srv = useServer();
const ALG = 'm.megolm_backup.v1.curve25519-aes-sha2';
const RK = '/_matrix/client/v3/room_keys';

const req = (user, method, path, json) => api(srv, method, RK + path, { token: user.accessToken, json });
const ok = async (p) => {
	const res = await p;
	assert.equal(res.status, 200, res.text);
	return res.json;
};
const keyData = (fmi, fc, verified, tag) => ({
	first_message_index: fmi,
	forwarded_count: fc,
	is_verified: verified,
	session_data: { ephemeral: 'e', ciphertext: tag, mac: 'm' },
});

describe('key backup: versions', () => {
	let alice, bob;
	before(async () => {
		alice = await register(srv, 'kbalice', 'pw-kb-alice');
		bob = await register(srv, 'kbbob', 'pw-kb-bob');
	});

	// Spec: GET /room_keys/version: 404 M_NOT_FOUND when there is no backup.
	it('no backup yet is 404', async () => {
		assertError(await req(alice, 'GET', '/version'), 404, 'M_NOT_FOUND');
		assertError(await req(alice, 'GET', '/version/1'), 404, 'M_NOT_FOUND');
	});

	// Spec: POST /room_keys/version returns the new version; GET returns it as current.
	it('creates, reads, updates and deletes versions', async () => {
		const { version: v1 } = await ok(req(alice, 'POST', '/version', { algorithm: ALG, auth_data: { public_key: 'pk1' } }));
		assert.equal(typeof v1, 'string');
		const { version: v2 } = await ok(req(alice, 'POST', '/version', { algorithm: ALG, auth_data: { public_key: 'pk2' } }));
		assert.notEqual(v1, v2);
		const cur = await ok(req(alice, 'GET', '/version'));
		assert.deepEqual(cur, { algorithm: ALG, auth_data: { public_key: 'pk2' }, version: v2, etag: cur.etag, count: 0 });
		assert.equal(typeof cur.etag, 'string');
		assert.equal((await ok(req(alice, 'GET', `/version/${v1}`))).auth_data.public_key, 'pk1');

		// PUT: the current version's auth_data; the algorithm must match; version in body must match path.
		await ok(req(alice, 'PUT', `/version/${v2}`, { algorithm: ALG, auth_data: { public_key: 'pk2', signatures: {} } }));
		assert.deepEqual((await ok(req(alice, 'GET', '/version'))).auth_data, { public_key: 'pk2', signatures: {} });
		assertError(await req(alice, 'PUT', `/version/${v2}`, { algorithm: 'm.other', auth_data: {} }), 400, 'M_INVALID_PARAM', 'algorithm');
		assertError(await req(alice, 'PUT', `/version/${v2}`, { algorithm: ALG, auth_data: {}, version: v1 }), 400, 'M_INVALID_PARAM', 'body version');
		assertError(await req(alice, 'PUT', `/version/${v1}`, { algorithm: ALG, auth_data: {} }), 400, 'M_INVALID_PARAM', 'not current');
		assertError(await req(alice, 'PUT', '/version/999', { algorithm: ALG, auth_data: {} }), 404, 'M_NOT_FOUND');

		// Validation: nothing is created on error.
		assertError(await req(alice, 'POST', '/version', { algorithm: ALG }), 400, 'M_MISSING_PARAM');
		assertError(await req(alice, 'POST', '/version', { algorithm: 1, auth_data: {} }), 400, 'M_BAD_JSON');
		assertError(await req(alice, 'POST', '/version', { algorithm: ALG, auth_data: 'x' }), 400, 'M_BAD_JSON');
		assert.equal((await ok(req(alice, 'GET', '/version'))).version, v2);

		// Bob sees none of it and cannot change it.
		assertError(await req(bob, 'GET', '/version'), 404, 'M_NOT_FOUND');
		assertError(await req(bob, 'GET', `/version/${v2}`), 404, 'M_NOT_FOUND');
		assertError(await req(bob, 'PUT', `/version/${v2}`, { algorithm: ALG, auth_data: {} }), 404, 'M_NOT_FOUND');
		assertError(await req(bob, 'DELETE', `/version/${v2}`), 404, 'M_NOT_FOUND');

		// DELETE: the previous version becomes current; numbers are not reused.
		await ok(req(alice, 'DELETE', `/version/${v2}`));
		assertError(await req(alice, 'GET', `/version/${v2}`), 404, 'M_NOT_FOUND');
		assertError(await req(alice, 'DELETE', `/version/${v2}`), 404, 'M_NOT_FOUND');
		assert.equal((await ok(req(alice, 'GET', '/version'))).version, v1);
		const { version: v3 } = await ok(req(alice, 'POST', '/version', { algorithm: ALG, auth_data: {} }));
		assert.ok(![v1, v2].includes(v3));
		assertError(await req(alice, 'GET', '/version/notanumber'), 404, 'M_NOT_FOUND');
	});
});

describe('key backup: keys', () => {
	let alice, bob, version, old;
	const room = '!room:localhost';
	before(async () => {
		alice = await register(srv, 'kbkalice', 'pw-kbk-alice');
		bob = await register(srv, 'kbkbob', 'pw-kbk-bob');
		({ version: old } = await ok(req(alice, 'POST', '/version', { algorithm: ALG, auth_data: {} })));
		({ version } = await ok(req(alice, 'POST', '/version', { algorithm: ALG, auth_data: {} })));
	});

	// Spec: PUT /room_keys/keys?version=: "version" is required.
	it('the version parameter is required and must be current', async () => {
		assertError(await req(alice, 'GET', '/keys'), 400, 'M_MISSING_PARAM');
		assertError(await req(alice, 'PUT', '/keys', { rooms: {} }), 400, 'M_MISSING_PARAM');
		const wrong = await req(alice, 'PUT', `/keys/${encodeURIComponent(room)}/s0?version=${old}`, keyData(0, 0, false, 'x'));
		assertError(wrong, 403, 'M_WRONG_ROOM_KEYS_VERSION');
		assert.equal(wrong.json.current_version, version);
		assertError(await req(alice, 'GET', '/keys?version=9999'), 404, 'M_NOT_FOUND');
		assertError(await req(bob, 'PUT', `/keys?version=${version}`, { rooms: {} }), 404, 'M_NOT_FOUND');
	});

	it('stores keys at all three scopes with etag and count', async () => {
		const r = encodeURIComponent(room);
		const a = await ok(req(alice, 'PUT', `/keys?version=${version}`, {
			rooms: { [room]: { sessions: { s1: keyData(5, 1, false, 'first') } }, '!other:localhost': { sessions: { s9: keyData(0, 0, true, 'o') } } },
		}));
		assert.equal(a.count, 2);
		assert.equal(typeof a.etag, 'string');
		const b = await ok(req(alice, 'PUT', `/keys/${r}?version=${version}`, { sessions: { s2: keyData(0, 0, false, 's2') } }));
		assert.equal(b.count, 3);
		assert.notEqual(b.etag, a.etag);
		const c = await ok(req(alice, 'PUT', `/keys/${r}/s3?version=${version}`, keyData(0, 0, false, 's3')));
		assert.equal(c.count, 4);

		const all = await ok(req(alice, 'GET', `/keys?version=${version}`));
		assert.deepEqual(Object.keys(all.rooms).sort(), ['!other:localhost', room].sort());
		assert.deepEqual(Object.keys(all.rooms[room].sessions).sort(), ['s1', 's2', 's3']);
		const one = await ok(req(alice, 'GET', `/keys/${r}?version=${version}`));
		assert.deepEqual(Object.keys(one.sessions).sort(), ['s1', 's2', 's3']);
		assert.deepEqual(await ok(req(alice, 'GET', `/keys/${r}/s1?version=${version}`)), keyData(5, 1, false, 'first'));
		assertError(await req(alice, 'GET', `/keys/${r}/nosuch?version=${version}`), 404, 'M_NOT_FOUND');
		assert.deepEqual(await ok(req(alice, 'GET', `/keys/${encodeURIComponent('!empty:localhost')}?version=${version}`)), { sessions: {} });
		const info = await ok(req(alice, 'GET', `/version/${version}`));
		assert.equal(info.count, 4);
		assert.equal(info.etag, c.etag);

		// Bob can neither read nor delete them.
		assertError(await req(bob, 'GET', `/keys?version=${version}`), 404, 'M_NOT_FOUND');
		assertError(await req(bob, 'DELETE', `/keys?version=${version}`), 404, 'M_NOT_FOUND');
		assert.equal((await ok(req(alice, 'GET', `/version/${version}`))).count, 4);
	});

	// Spec: the rules for storing a key: is_verified, then first_message_index, then forwarded_count.
	it('replaces a stored key only with a better one', async () => {
		const path = `/keys/${encodeURIComponent(room)}/s1?version=${version}`;
		const get = async () => (await ok(req(alice, 'GET', path))).session_data.ciphertext;
		const before = (await ok(req(alice, 'GET', `/version/${version}`))).etag;
		await ok(req(alice, 'PUT', path, keyData(6, 0, false, 'later-index')));
		assert.equal(await get(), 'first');
		assert.equal((await ok(req(alice, 'GET', `/version/${version}`))).etag, before, 'an ignored key keeps the etag');
		await ok(req(alice, 'PUT', path, keyData(5, 2, false, 'more-forwarded')));
		assert.equal(await get(), 'first');
		await ok(req(alice, 'PUT', path, keyData(5, 1, false, 'equal')));
		assert.equal(await get(), 'first');
		await ok(req(alice, 'PUT', path, keyData(5, 0, false, 'less-forwarded')));
		assert.equal(await get(), 'less-forwarded');
		await ok(req(alice, 'PUT', path, keyData(3, 7, false, 'lower-index')));
		assert.equal(await get(), 'lower-index');
		await ok(req(alice, 'PUT', path, keyData(50, 9, true, 'verified')));
		assert.equal(await get(), 'verified');
		await ok(req(alice, 'PUT', path, keyData(0, 0, false, 'unverified')));
		assert.equal(await get(), 'verified');
		assert.notEqual((await ok(req(alice, 'GET', `/version/${version}`))).etag, before);
	});

	it('refuses malformed key data and stores nothing', async () => {
		const r = encodeURIComponent(room);
		const count = (await ok(req(alice, 'GET', `/version/${version}`))).count;
		for (const bad of [
			{ ...keyData(0, 0, false, 'x'), first_message_index: -1 },
			{ ...keyData(0, 0, false, 'x'), forwarded_count: 'a' },
			{ ...keyData(0, 0, false, 'x'), is_verified: 1 },
			{ ...keyData(0, 0, false, 'x'), session_data: 'x' },
		]) {
			assertError(await req(alice, 'PUT', `/keys/${r}/bad?version=${version}`, bad), 400, 'M_BAD_JSON', JSON.stringify(bad));
		}
		const { first_message_index, ...missing } = keyData(0, 0, false, 'x');
		assertError(await req(alice, 'PUT', `/keys/${r}/bad?version=${version}`, missing), 400, 'M_MISSING_PARAM');
		// One bad key in a batch: none of the batch is stored.
		assertError(await req(alice, 'PUT', `/keys?version=${version}`, {
			rooms: { [room]: { sessions: { good: keyData(0, 0, false, 'g'), bad: { ...keyData(0, 0, false, 'b'), is_verified: 'no' } } } },
		}), 400, 'M_BAD_JSON');
		assertError(await req(alice, 'PUT', `/keys?version=${version}`, { rooms: { 'not-a-room': { sessions: {} } } }), 400, 'M_INVALID_PARAM');
		assert.equal((await ok(req(alice, 'GET', `/version/${version}`))).count, count);
	});

	it('deletes keys at each scope', async () => {
		const r = encodeURIComponent(room);
		let res = await ok(req(alice, 'DELETE', `/keys/${r}/s2?version=${version}`));
		assert.equal(res.count, 3);
		res = await ok(req(alice, 'DELETE', `/keys/${r}?version=${version}`));
		assert.equal(res.count, 1);
		res = await ok(req(alice, 'DELETE', `/keys?version=${version}`));
		assert.equal(res.count, 0);
		assert.deepEqual(await ok(req(alice, 'GET', `/keys?version=${version}`)), { rooms: {} });
		assertError(await req(alice, 'DELETE', '/keys?version=424242'), 404, 'M_NOT_FOUND');
	});
});
