// SPDX-License-Identifier: Apache-2.0
//
// Device management: list, get, rename, delete one (UIA with m.login.password),
// delete several (POST /delete_devices); deleting a device revokes its token.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { api, assertError, login, passwordAuth, register, rejects, withUia } from './lib/matrix.mjs';

const srv = useServer();

describe('device management', () => {
	const password = 'alice-device-password';
	let alice; // registered with device MAIN
	let bob;

	before(async () => {
		alice = await register(srv, 'alice', password, { device_id: 'MAIN', initial_device_display_name: 'Main' });
		bob = await register(srv, 'bob', 'bob-password');
	});

	const ids = async (client) => (await client.getDevices()).devices.map((d) => d.device_id).sort();

	// Spec: GET /_matrix/client/v3/devices and GET /devices/{deviceId}.
	it('lists the devices of the user, and only theirs', async () => {
		const second = await login(srv, 'alice', password, { initial_device_display_name: 'Second' });
		const { devices } = await alice.client.getDevices();
		assert.deepEqual(devices.map((d) => d.device_id).sort(), ['MAIN', second.device_id].sort());
		for (const d of devices) {
			assert.equal(typeof d.device_id, 'string');
			if (d.last_seen_ts !== undefined && d.last_seen_ts !== null) assert.equal(typeof d.last_seen_ts, 'number');
		}
		assert.equal(devices.find((d) => d.device_id === 'MAIN').display_name, 'Main');
		const one = await alice.client.getDevice(second.device_id);
		assert.equal(one.device_id, second.device_id);
		assert.equal(one.display_name, 'Second');
		assert.ok(!(await ids(bob.client)).includes('MAIN'), "bob does not see alice's devices");
	});

	// Spec: GET /devices/{deviceId}, 404 for a device the user does not have (another user's included).
	it('an unknown or foreign device is 404', async () => {
		await rejects(alice.client.getDevice('NOSUCHDEVICE'), 404);
		await rejects(bob.client.getDevice('MAIN'), 404);
	});

	// Spec: PUT /_matrix/client/v3/devices/{deviceId}.
	it('renames a device; renaming a foreign device is 404 and changes nothing', async () => {
		await alice.client.setDeviceDetails('MAIN', { display_name: 'Renamed Main' });
		assert.equal((await alice.client.getDevice('MAIN')).display_name, 'Renamed Main');
		await rejects(bob.client.setDeviceDetails('MAIN', { display_name: 'Hijacked' }), 404);
		await rejects(alice.client.setDeviceDetails('NOSUCHDEVICE', { display_name: 'x' }), 404);
		assert.equal((await alice.client.getDevice('MAIN')).display_name, 'Renamed Main');
	});

	// Spec: DELETE /_matrix/client/v3/devices/{deviceId}: User-Interactive Authentication
	// with m.login.password; the device's access token is revoked.
	it('deleting a device needs m.login.password UIA and revokes its token', async () => {
		const victim = await login(srv, 'alice', password);
		const first = await rejects(alice.client.deleteDevice(victim.device_id), 401);
		assert.ok(first.data.flows.some((f) => f.stages.includes('m.login.password')), JSON.stringify(first.data));
		assert.equal(typeof first.data.session, 'string');
		// Still there after the 401.
		assert.equal((await victim.client.whoami()).device_id, victim.device_id);

		await alice.client.deleteDevice(victim.device_id, { ...passwordAuth(alice.user_id, password), session: first.data.session });
		await rejects(victim.client.whoami(), 401, 'M_UNKNOWN_TOKEN');
		assert.ok(!(await ids(alice.client)).includes(victim.device_id));
		await rejects(alice.client.getDevice(victim.device_id), 404);
	});

	// Spec: "User-interactive API in the REST API": a failed stage answers 401 with an
	// errcode (M_FORBIDDEN for a wrong password); nothing is deleted.
	it('a wrong password in UIA is refused and the device survives', async () => {
		const target = await login(srv, 'alice', password);
		const err = await rejects(
			withUia((auth) => alice.client.deleteDevice(target.device_id, auth), passwordAuth(alice.user_id, 'wrong-password')),
			401, 'M_FORBIDDEN',
		);
		assert.ok(Array.isArray(err.data.flows), 'the failed stage still lists the flows');
		assert.equal((await target.client.whoami()).device_id, target.device_id);
		assert.ok((await ids(alice.client)).includes(target.device_id));
	});

	// Spec: UIA authenticates the requester: bob's password does not let bob delete
	// alice's device (the request either fails or finds no such device of bob's).
	it("another user's device cannot be deleted", async () => {
		try {
			await withUia((auth) => bob.client.deleteDevice('MAIN', auth), passwordAuth(bob.user_id, 'bob-password'));
		} catch (e) {
			assert.ok(e.httpStatus >= 400 && e.httpStatus < 500, e.message);
		}
		assert.equal((await alice.client.whoami()).device_id, 'MAIN');
	});

	// Spec: POST /_matrix/client/v3/delete_devices with UIA.
	it('POST /delete_devices deletes several devices and revokes their tokens', async () => {
		const x = await login(srv, 'alice', password);
		const y = await login(srv, 'alice', password);
		const keep = await login(srv, 'alice', password);
		await withUia((auth) => alice.client.deleteMultipleDevices([x.device_id, y.device_id], auth), passwordAuth(alice.user_id, password));
		for (const s of [x, y]) await rejects(s.client.whoami(), 401, 'M_UNKNOWN_TOKEN');
		const left = await ids(alice.client);
		assert.ok(!left.includes(x.device_id) && !left.includes(y.device_id));
		assert.ok(left.includes(keep.device_id) && left.includes('MAIN'));
	});

	// Spec: the device endpoints require authentication.
	it('device endpoints without a token are 401 M_MISSING_TOKEN', async () => {
		assertError(await api(srv, 'GET', '/_matrix/client/v3/devices'), 401, 'M_MISSING_TOKEN');
		assertError(await api(srv, 'PUT', '/_matrix/client/v3/devices/MAIN', { json: { display_name: 'x' } }), 401, 'M_MISSING_TOKEN');
	});
});
