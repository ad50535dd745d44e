// SPDX-License-Identifier: Apache-2.0
//
// Login rate limiting with a tight rc_login (burst 2, refilling slowly).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { login, register, rejects } from './lib/matrix.mjs';

const tight = { per_second: 0.1, burst_count: 2 };
const srv = useServer({ config: { rc_login: { address: tight, account: tight, failed_attempts: tight } } });

describe('rate limiting', () => {
	before(async () => {
		await register(srv, 'alice', 'alice-password');
	});

	// Spec: Client-Server API, "Rate limiting" and POST /login 429: M_LIMIT_EXCEEDED
	// with retry_after_ms (deprecated, still sent by Synapse) and a Retry-After header.
	it('the third bad login within a second is 429 M_LIMIT_EXCEEDED', async () => {
		await rejects(login(srv, 'alice', 'wrong-1'), 403, 'M_FORBIDDEN');
		await rejects(login(srv, 'alice', 'wrong-2'), 403, 'M_FORBIDDEN');
		const err = await rejects(login(srv, 'alice', 'wrong-3'), 429, 'M_LIMIT_EXCEEDED');
		assert.ok(Number.isInteger(err.data.retry_after_ms) && err.data.retry_after_ms > 0, `retry_after_ms: ${err.data.retry_after_ms}`);
		const header = err.httpHeaders?.get('retry-after');
		assert.match(header ?? '', /^\d+$/, 'a Retry-After header in seconds');
		assert.ok(err.isRateLimitError());
		// Still limited, even with the right password: the limit is on attempts.
		await rejects(login(srv, 'alice', 'alice-password'), 429, 'M_LIMIT_EXCEEDED');
	});
});
