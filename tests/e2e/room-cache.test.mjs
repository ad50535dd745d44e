// SPDX-License-Identifier: Apache-2.0
//
// The room cache is bounded (room_cache_size): with room for 10 rooms and
// 30 in use, rooms are dropped and reloaded from the database all the time.
// Nothing a client sees may change: state, membership, sending, joining.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/server.mjs';
import { clientFor, register } from './lib/matrix.mjs';

const srv = useServer({ config: { room_cache_size: 10, rc_message: { per_second: 1000, burst_count: 1000 } } });

describe('bounded room cache', () => {
	let alice, bob, rooms;

	before(async () => {
		alice = clientFor(srv, await register(srv, 'alice'));
		bob = clientFor(srv, await register(srv, 'bob'));
		rooms = [];
		for (let i = 0; i < 30; i++) {
			const { room_id: id } = await alice.createRoom({ name: `room ${i}`, preset: 'public_chat' });
			rooms.push(id);
		}
	});

	it('state read back after eviction is the state written', async () => {
		for (let round = 0; round < 2; round++) {
			for (let i = 0; i < rooms.length; i++) {
				const ev = await alice.getStateEvent(rooms[i], 'm.room.name', '');
				assert.equal(ev.name, `room ${i}`);
			}
		}
	});

	it('sending, joining and renaming work on reloaded rooms', async () => {
		for (let i = 0; i < rooms.length; i++) {
			await bob.joinRoom(rooms[i]);
			await alice.sendTextMessage(rooms[i], `hello ${i}`);
			await alice.setRoomName(rooms[i], `renamed ${i}`);
		}
		for (let i = 0; i < rooms.length; i++) {
			const ev = await bob.getStateEvent(rooms[i], 'm.room.name', '');
			assert.equal(ev.name, `renamed ${i}`);
			const members = await bob.getJoinedRoomMembers(rooms[i]);
			assert.deepEqual(Object.keys(members.joined).sort(), [alice.getUserId(), bob.getUserId()].sort());
			const msgs = await bob.createMessagesRequest(rooms[i], null, 10, 'b');
			const texts = msgs.chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
			assert.deepEqual(texts, [`hello ${i}`]);
		}
	});

	it('concurrent sends across more rooms than the cache holds stay ordered per room', async () => {
		await Promise.all(rooms.map(async (id, i) => {
			for (let k = 0; k < 5; k++) await alice.sendTextMessage(id, `m${k}`);
		}));
		for (const id of rooms) {
			const msgs = await alice.createMessagesRequest(id, null, 10, 'b');
			const texts = msgs.chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body).reverse();
			assert.deepEqual(texts.slice(-5), ['m0', 'm1', 'm2', 'm3', 'm4']);
		}
	});
});
