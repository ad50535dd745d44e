// SPDX-License-Identifier: Apache-2.0
//
// Token-authenticated registration (registration_requires_token: true) with no
// token issued: every flow must demand m.login.registration_token, an unknown
// token is reported invalid, and nothing can register.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, clientFor, ClientPrefix, Method, rejects } from './lib/matrix.mjs';

const srv = useServer({ config: { registration_requires_token: true } });

const VALIDITY = '/register/m.login.registration_token/validity';

/** GET /_matrix/client/v1/register/m.login.registration_token/validity through the SDK's HTTP layer. */
const validity = (query) => clientFor(srv).http.request(Method.Get, VALIDITY, query, undefined, { prefix: ClientPrefix.V1 });

describe('token-authenticated registration', () => {
	// Spec: Client-Server API, "Token-authenticated registration": with tokens
	// required, no flow may complete without the m.login.registration_token stage.
	it('every /register flow requires m.login.registration_token', async () => {
		const err = await rejects(clientFor(srv).registerRequest({ username: 'tokenless', password: 'pw-tokenless' }), 401);
		const { flows, session } = err.data;
		assert.ok(Array.isArray(flows) && flows.length > 0, JSON.stringify(err.data));
		for (const f of flows) {
			assert.ok(f.stages.includes('m.login.registration_token'), `flow without the token stage: ${JSON.stringify(f)}`);
		}
		assert.equal(typeof session, 'string');
	});

	// Spec: GET /_matrix/client/v1/register/m.login.registration_token/validity:
	// `valid` is false for a token the server does not recognise.
	it('an unknown token is valid: false', async () => {
		const res = await validity({ token: 'fBVFdqVE' });
		assert.deepEqual(res, { valid: false });
	});

	// Spec: the `token` query parameter is required (Synapse: 400 M_MISSING_PARAM).
	it('the validity check without a token is 400 M_MISSING_PARAM', async () => {
		assertError(await api(srv, 'GET', `/_matrix/client/v1${VALIDITY}`), 400, 'M_MISSING_PARAM');
	});

	// Spec: "User-interactive API in the REST API": a failed stage answers 401 with
	// an errcode and the flows; the stage is not completed and no account is made.
	it('registering with an unknown token fails and creates nothing', async () => {
		const c = clientFor(srv);
		const first = await rejects(c.registerRequest({ username: 'tokenuser', password: 'pw-tokenuser' }), 401);
		const err = await rejects(c.registerRequest({
			username: 'tokenuser', password: 'pw-tokenuser',
			auth: { type: 'm.login.registration_token', token: 'fBVFdqVE', session: first.data.session },
		}), 401);
		assert.equal(typeof err.errcode, 'string', 'a failed stage carries an errcode');
		assert.ok(!(err.data.completed ?? []).includes('m.login.registration_token'));
		assert.equal(await c.isUsernameAvailable('tokenuser'), true);
	});

	// Spec: "Dummy Auth" cannot stand in for a required stage.
	it('m.login.dummy alone does not register', async () => {
		const c = clientFor(srv);
		const first = await rejects(c.registerRequest({ username: 'dummyonly', password: 'pw-dummyonly' }), 401);
		const err = await rejects(c.registerRequest({
			username: 'dummyonly', password: 'pw-dummyonly',
			auth: { type: 'm.login.dummy', session: first.data.session },
		}), [400, 401]);
		assert.ok(err.httpStatus === 400 || Array.isArray(err.data.flows));
		assert.equal(await c.isUsernameAvailable('dummyonly'), true);
	});
});
