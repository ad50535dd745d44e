// SPDX-License-Identifier: Apache-2.0
//
// Expiring access tokens (refreshable_access_token_lifetime: 1s): an expired
// token is a soft logout, a refresh brings the session back, and tokens of
// clients that did not opt in to refresh tokens do not expire.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { useServer } from './lib/server.mjs';
import { clientFor, login, register, rejects } from './lib/matrix.mjs';

const srv = useServer({ config: { refreshable_access_token_lifetime: '1s' } });

describe('access token expiry', () => {
	// Spec: Client-Server API, "Refreshing access tokens": an expired access token is
	// 401 M_UNKNOWN_TOKEN, preferably with soft_logout: true; POST /refresh then gives
	// a working token for the same device. "Soft logout": the session is kept.
	it('an expired token is a soft logout, and /refresh restores the session', async () => {
		const s = await register(srv, 'alice', 'alice-password', { refresh_token: true });
		assert.ok(s.expires_in_ms > 0 && s.expires_in_ms <= 1000, `expires_in_ms: ${s.expires_in_ms}`);
		assert.equal((await s.client.whoami()).user_id, s.user_id);

		await sleep(s.expires_in_ms + 300);
		const err = await rejects(s.client.whoami(), 401, 'M_UNKNOWN_TOKEN');
		assert.equal(err.data.soft_logout, true, 'an expired token is a soft logout');

		const fresh = await clientFor(srv).refreshToken(s.refresh_token);
		const c = clientFor(srv, { accessToken: fresh.access_token, userId: s.user_id });
		const me = await c.whoami();
		assert.equal(me.device_id, s.device_id, 'the same device after the refresh');
	});

	// Spec: "Refreshing access tokens": the old refresh token remains valid until the
	// new access or refresh token is used, so a client that lost the answer can repeat
	// the refresh; once the new token is used, the old refresh token is revoked.
	it('a refresh can be repeated until its result is used', async () => {
		const s = await login(srv, 'alice', 'alice-password', { refresh_token: true });
		const anon = clientFor(srv);
		await anon.refreshToken(s.refresh_token); // answer "lost"
		const second = await anon.refreshToken(s.refresh_token);
		await clientFor(srv, { accessToken: second.access_token }).whoami();
		await rejects(anon.refreshToken(s.refresh_token), 401, 'M_UNKNOWN_TOKEN');
	});

	// Spec: "Refreshing access tokens": handling clients that do not support refresh
	// tokens is up to the server; like Synapse (nonrefreshable_access_token_lifetime
	// unset), their tokens do not expire.
	it('a token issued without refresh_token: true does not expire', async () => {
		const s = await login(srv, 'alice', 'alice-password');
		assert.equal(s.expires_in_ms, undefined);
		await sleep(1300);
		assert.equal((await s.client.whoami()).device_id, s.device_id);
	});
});
