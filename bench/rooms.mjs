// SPDX-License-Identifier: Apache-2.0
//
// Rooms benchmark: message throughput with 1, 10 and 100 concurrent senders,
// send -> waiting /sync latency, /messages page latency on a 100,000-event
// room, initial /sync for a user in 500 rooms, RSS with 1,000 active rooms,
// and disk write bytes and fsyncs per 1,000 messages. Loopback only, bounded.
//
// Usage: node bench/rooms.mjs [path/to/myelin]   (Node >= 22)
// Env: BIG_ROOM_EVENTS (100000), ROOMS_SYNC (500), ROOMS_ACTIVE (1000)

import { spawn, execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import { enc, fmt, pct, sleep, startServer } from './lib.mjs';

const bin = process.argv[2] || path.resolve('build/myelin');
const BIG = Number(process.env.BIG_ROOM_EVENTS || 100000);
const ROOMS_SYNC = Number(process.env.ROOMS_SYNC || 500);
const ROOMS_ACTIVE = Number(process.env.ROOMS_ACTIVE || 1000);

const S = await startServer(bin);
const { call, register, port } = S;
const srv = S.proc;
let txn = 0;
const send = (tok, room, body) => call('PUT', `/rooms/${enc(room)}/send/m.room.message/b${txn++}`, tok, { msgtype: 'm.text', body });
const io = S.writeBytes;
const rss = S.rssKb;

console.log(`myelin ${bin}, ${os.cpus().length} cores`);
const users = [];
for (let i = 0; i < 100; i += 10)
	users.push(...await Promise.all(Array.from({ length: 10 }, (_, j) => register(`u${i + j}`))));
const [alice, bob] = users;
const { room_id: room } = await call('POST', '/createRoom', alice, { preset: 'public_chat' });
for (let i = 1; i < users.length; i += 20)
	await Promise.all(users.slice(i, i + 20).map((t) => call('POST', `/rooms/${enc(room)}/join`, t, {})));

// 1. throughput with 1, 10, 100 concurrent senders (wrk: the client must not
// be the bottleneck; a Node client tops out near 2,000 requests/s), and the
// disk bytes written and fsyncs per 1,000 messages at each concurrency.
const fsyncTracer = () => {
	try {
		const p = spawn('strace', ['-f', '-c', '--seccomp-bpf', '-e', 'trace=fsync,fdatasync', '-p', String(srv.pid)],
			{ stdio: ['ignore', 'ignore', 'pipe'] });
		let out = '';
		p.stderr.on('data', (d) => { out += d; });
		return { stop: async () => { p.kill('SIGINT'); await new Promise((r) => p.on('exit', r));
			return out.split('\n').filter((l) => /fsync|fdatasync/.test(l))
				.map((l) => Number(l.trim().split(/\s+/)[3]) || 0).reduce((a, b) => a + b, 0); } };
	} catch { return { stop: async () => NaN }; }
};
for (const c of [1, 10, 100]) {
	const run = () => execFileSync('wrk', [`-t${c === 1 ? 1 : 2}`, `-c${c}`, '-d5s', '--latency', '-s', 'bench/send.lua',
		`http://127.0.0.1:${port}`], { env: { ...process.env, TOKEN: users[0], ROOM: enc(room) }, encoding: 'utf8' });
	const w0 = io();
	const out = run();
	const w1 = io();
	const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
	const n = Number(/(\d+) requests in/.exec(out)[1]);
	const p50 = /50%\s+(\S+)/.exec(out)[1], p99 = /99%\s+(\S+)/.exec(out)[1];
	/* fsyncs counted in a second run under strace (which slows the server). */
	const tracer = fsyncTracer();
	await sleep(300);
	const traced = run();
	const fsyncs = await tracer.stop();
	const nt = Number(/(\d+) requests in/.exec(traced)[1]);
	console.log(`send, ${c} concurrent sender(s): ${rps.toFixed(0)} events/s, latency p50 ${p50} p99 ${p99};` +
		` per 1,000 messages: ${((w1 - w0) / n * 1000 / 1048576).toFixed(1)} MiB written, ${(fsyncs / nt * 1000).toFixed(0)} fsyncs (under strace)`);
}

// 3. delivery latency: from the start of a send to a waiting /sync returning
// with it (the /sync is woken as soon as the event is durable, which can be
// before the sender has read its own answer)
{
	await sleep(2000); /* let the load of the previous phase drain */
	const init = await call('GET', '/sync?timeout=0', bob);
	let since = init.next_batch;
	const lat = [];
	const filter = enc(JSON.stringify({ room: { timeline: { limit: 1 } } }));
	for (let i = 0; i < 200; i++) {
		const p = call('GET', `/sync?timeout=10000&since=${enc(since)}&filter=${filter}`, bob)
			.then((r) => { since = r.next_batch; return performance.now(); });
		await sleep(5);
		const start = performance.now();
		await send(alice, room, `ping ${i}`);
		const t = (await p) - start;
		if (i >= 10)
			lat.push(t);
	}
	console.log(`send start -> waiting /sync returned: p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms`);
}

// 4. /messages on a room with BIG events
{
	const { room_id: br } = await call('POST', '/createRoom', alice, {});
	const t0 = performance.now();
	let n = 0;
	const senders = 50;
	await Promise.all(Array.from({ length: senders }, async () => { while (n < BIG) { n++; await send(alice, br, `m${n}`); } }));
	console.log(`filled a room with ${BIG} messages in ${fmt((performance.now() - t0) / 1000)} s`);
	const lat = [];
	let from;
	for (let i = 0; i < 200; i++) {
		const t = performance.now();
		const r = await call('GET', `/rooms/${enc(br)}/messages?dir=b&limit=50${from ? `&from=${from}` : ''}`, alice);
		lat.push(performance.now() - t);
		from = r.end;
	}
	console.log(`/messages page (50 events) on a ${BIG}-event room: p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms`);
}

// 5. initial /sync for a user in ROOMS_SYNC rooms
{
	const carol = users[2];
	for (let i = 0; i < ROOMS_SYNC; i += 25)
		await Promise.all(Array.from({ length: Math.min(25, ROOMS_SYNC - i) }, async (_, j) => {
			const { room_id } = await call('POST', '/createRoom', carol, { name: `room ${i + j}` });
			await send(carol, room_id, 'hello');
		}));
	const times = [];
	for (let i = 0; i < 3; i++) {
		const t = performance.now();
		const r = await call('GET', '/sync?timeout=0', carol);
		times.push(performance.now() - t);
		if (i === 0) console.log(`(carol is in ${Object.keys(r.rooms.join).length} rooms)`);
	}
	console.log(`initial /sync, ${ROOMS_SYNC} rooms: ${times.map(fmt).join(' / ')} ms`);
}

// 6. RSS with ROOMS_ACTIVE active rooms
{
	const dave = users[3];
	const have = ROOMS_SYNC + 3;
	for (let i = have; i < ROOMS_ACTIVE; i += 25)
		await Promise.all(Array.from({ length: Math.min(25, ROOMS_ACTIVE - i) }, async () => {
			const { room_id } = await call('POST', '/createRoom', dave, {});
			await send(dave, room_id, 'hello');
		}));
	console.log(`RSS with ${ROOMS_ACTIVE} active rooms: ${(rss() / 1024).toFixed(1)} MiB`);
}
process.exit(0);
