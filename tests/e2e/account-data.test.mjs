// SPDX-License-Identifier: Apache-2.0
//
// Client config (account data, global and per room) and filters.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, register, rejects } from './lib/matrix.mjs';

const srv = useServer();

const adPath = (userId, type) => `/_matrix/client/v3/user/${encodeURIComponent(userId)}/account_data/${encodeURIComponent(type)}`;

describe('account data and filters', () => {
	let alice;
	let bob;
	before(async () => {
		alice = await register(srv, 'alice', 'alice-password');
		bob = await register(srv, 'bob', 'bob-password');
	});

	describe('account data', () => {
		// Spec: Client-Server API, "Client Config": PUT and GET /user/{userId}/account_data/{type}.
		it('global account data is stored, overwritten and read back', async () => {
			await alice.client.setAccountData('org.example.settings', { theme: 'dark', n: 1 });
			assert.deepEqual(await alice.client.getAccountDataFromServer('org.example.settings'), { theme: 'dark', n: 1 });
			await alice.client.setAccountData('org.example.settings', { theme: 'light' });
			assert.deepEqual(await alice.client.getAccountDataFromServer('org.example.settings'), { theme: 'light' });
			// Each user has their own.
			assert.equal(await bob.client.getAccountDataFromServer('org.example.settings'), null);
		});

		// Spec: GET /user/{userId}/account_data/{type}, 404 M_NOT_FOUND when none is set.
		it('unset account data is 404 M_NOT_FOUND', async () => {
			assertError(await api(srv, 'GET', adPath(alice.user_id, 'org.example.never'), { token: alice.access_token }), 404, 'M_NOT_FOUND');
		});

		// Spec: PUT/GET account data, 403 M_FORBIDDEN for another user's data. The data is unchanged.
		it("another user's account data is 403 M_FORBIDDEN both ways, and unchanged", async () => {
			assertError(await api(srv, 'GET', adPath(alice.user_id, 'org.example.settings'), { token: bob.access_token }), 403, 'M_FORBIDDEN');
			const res = await api(srv, 'PUT', adPath(alice.user_id, 'org.example.settings'), { token: bob.access_token, json: { theme: 'evil' } });
			assertError(res, 403, 'M_FORBIDDEN');
			assert.deepEqual(await alice.client.getAccountDataFromServer('org.example.settings'), { theme: 'light' });
		});

		// Spec: PUT account data, 405 M_BAD_JSON for a type the server controls;
		// "Read markers": clients cannot set m.fully_read directly.
		it('m.fully_read cannot be set through account data: 405 M_BAD_JSON', async () => {
			const res = await api(srv, 'PUT', adPath(alice.user_id, 'm.fully_read'), { token: alice.access_token, json: { event_id: '$x' } });
			assertError(res, 405, 'M_BAD_JSON');
		});

		// Spec: PUT account data, 400 M_NOT_JSON / M_BAD_JSON when the body is not a JSON object.
		it('a body that is not a JSON object is refused, the data unchanged', async () => {
			for (const body of ['{"theme": ', '[1, 2]', '"text"']) {
				const res = await api(srv, 'PUT', adPath(alice.user_id, 'org.example.settings'), { token: alice.access_token, body });
				assertError(res, 400, ['M_NOT_JSON', 'M_BAD_JSON']);
			}
			assert.deepEqual(await alice.client.getAccountDataFromServer('org.example.settings'), { theme: 'light' });
		});

		// Spec: PUT /user/{userId}/rooms/{roomId}/account_data/{type}, 400 M_INVALID_PARAM
		// for a string that is not a room ID.
		it('per-room account data with an invalid room ID is 400 M_INVALID_PARAM', async () => {
			const res = await api(srv, 'PUT', `/_matrix/client/v3/user/${encodeURIComponent(alice.user_id)}/rooms/not-a-room-id/account_data/org.example.tag`, {
				token: alice.access_token,
				json: { x: 1 },
			});
			assertError(res, 400, 'M_INVALID_PARAM');
		});

		// Spec: PUT and GET /user/{userId}/rooms/{roomId}/account_data/{type}. Rooms do
		// not exist yet in this issue: a server that refuses data for an unknown room
		// (403/404) skips the round trip; rooms will bring a full test.
		it('per-room account data round-trips (or is refused for an unknown room)', async (t) => {
			const roomId = `!notyetaroom:${srv.serverName}`;
			try {
				await alice.client.setRoomAccountData(roomId, 'org.example.room', { pinned: true });
			} catch (e) {
				if ((e.httpStatus === 403 || e.httpStatus === 404) && e.errcode !== 'M_UNRECOGNIZED') {
					t.skip(`server refuses account data for an unknown room (${e.httpStatus} ${e.errcode})`);
					return;
				}
				throw e;
			}
			const res = await api(srv, 'GET', `/_matrix/client/v3/user/${encodeURIComponent(alice.user_id)}/rooms/${encodeURIComponent(roomId)}/account_data/org.example.room`, {
				token: alice.access_token,
			});
			assert.equal(res.status, 200, res.text);
			assert.deepEqual(res.json, { pinned: true });
			// Room data is not global data.
			assert.equal(await alice.client.getAccountDataFromServer('org.example.room'), null);
		});
	});

	describe('filters', () => {
		const definition = {
			event_fields: ['type', 'content', 'sender'],
			event_format: 'client',
			presence: { types: ['m.presence'], not_senders: ['@spam:example.org'] },
			room: {
				state: { types: ['m.room.*'], not_rooms: ['!726s6s6q:example.com'], lazy_load_members: true },
				timeline: { limit: 10, types: ['m.room.message'], not_senders: ['@spam:example.org'] },
				ephemeral: { types: ['m.receipt', 'm.typing'] },
			},
		};

		// Spec: Client-Server API, "Filtering": POST /user/{userId}/filter and
		// GET /user/{userId}/filter/{filterId}.
		it('creates a filter and reads it back', async () => {
			const filter = await alice.client.createFilter(definition);
			assert.equal(typeof filter.filterId, 'string');
			assert.ok(filter.filterId.length > 0);
			assert.ok(!filter.filterId.startsWith('{'), 'a filter ID cannot start with {');
			const fetched = await alice.client.getFilter(alice.user_id, filter.filterId, false);
			assert.deepEqual(fetched.getDefinition(), definition);
		});

		// Spec: GET /user/{userId}/filter/{filterId}, 404 "Unknown filter".
		it('an unknown filter is 404', async () => {
			await rejects(alice.client.getFilter(alice.user_id, '987654321', false), 404);
		});

		// Synapse behaviour: filters of another user are 403 M_FORBIDDEN, both to read and to create.
		it("another user's filters are refused", async () => {
			const { filterId } = await alice.client.createFilter({ room: { timeline: { limit: 5 } } });
			const read = await api(srv, 'GET', `/_matrix/client/v3/user/${encodeURIComponent(alice.user_id)}/filter/${filterId}`, { token: bob.access_token });
			assert.ok([403, 404].includes(read.status), `bob reading alice's filter: ${read.status} ${read.text}`);
			const create = await api(srv, 'POST', `/_matrix/client/v3/user/${encodeURIComponent(alice.user_id)}/filter`, {
				token: bob.access_token,
				json: { room: { timeline: { limit: 1 } } },
			});
			assertError(create, 403, 'M_FORBIDDEN');
		});

		// Spec: "Filtering": the filter must follow the schema; a limit that is not an
		// integer is a bad request.
		it('an invalid filter is 400', async () => {
			const res = await api(srv, 'POST', `/_matrix/client/v3/user/${encodeURIComponent(alice.user_id)}/filter`, {
				token: alice.access_token,
				json: { room: { timeline: { limit: 'ten' } } },
			});
			assertError(res, 400, ['M_BAD_JSON', 'M_INVALID_PARAM']);
		});
	});
});
