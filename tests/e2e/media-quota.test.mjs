// SPDX-License-Identifier: Apache-2.0
//
// Synapse's per-user upload quota, media_upload_limits: an upload that
// would take a user's bytes within a period over its max_size is refused
// with 400 M_RESOURCE_LIMIT_EXCEEDED and nothing is stored.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, register } from './lib/matrix.mjs';

const srv = useServer({
	config: { media_upload_limits: [{ time_period: '1h', max_size: 1000 }, { time_period: '1d', max_size: '1M' }] },
});

const upload = (user, body) => api(srv, 'POST', '/_matrix/media/v3/upload', {
	token: user.access_token, headers: { 'Content-Type': 'application/octet-stream' }, body,
});

describe('media upload limits', () => {
	let alice;
	let bob;

	before(async () => {
		alice = await register(srv, 'alice', 'alice-password');
		bob = await register(srv, 'bob', 'bob-password');
	});

	it('uploads within the period count against max_size; over it is 400 M_RESOURCE_LIMIT_EXCEEDED', async () => {
		const first = await upload(alice, Buffer.alloc(600, 1));
		assert.equal(first.status, 200, first.text);
		const over = await upload(alice, Buffer.alloc(401, 2));
		assertError(over, 400, 'M_RESOURCE_LIMIT_EXCEEDED');
		assert.equal(over.json.error, 'Upload request exceeds media upload limit');
		// Nothing was stored: the refused bytes do not count either.
		const fits = await upload(alice, Buffer.alloc(400, 3));
		assert.equal(fits.status, 200, fits.text);
		assertError(await upload(alice, Buffer.alloc(1, 4)), 400, 'M_RESOURCE_LIMIT_EXCEEDED');
		// The quota is per user.
		const other = await upload(bob, Buffer.alloc(1000, 5));
		assert.equal(other.status, 200, other.text);
	});

	it('an async upload over the limit is refused and the id stays unfilled', async () => {
		const created = await api(srv, 'POST', '/_matrix/media/v1/create', { token: bob.access_token });
		assert.equal(created.status, 200, created.text);
		const rest = created.json.content_uri.slice('mxc://'.length);
		const put = (body) => api(srv, 'PUT', `/_matrix/media/v3/upload/${rest}`, {
			token: bob.access_token, headers: { 'Content-Type': 'application/octet-stream' }, body,
		});
		assertError(await put(Buffer.alloc(10, 6)), 400, 'M_RESOURCE_LIMIT_EXCEEDED');
		assertError(await api(srv, 'GET', `/_matrix/client/v1/media/download/${rest}?timeout_ms=0`, { token: bob.access_token }), 504, 'M_NOT_YET_UPLOADED');
	});
});
