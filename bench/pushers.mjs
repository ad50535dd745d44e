// SPDX-License-Identifier: Apache-2.0
//
// Pushers benchmark: a push gateway in this process (node:http on
// 127.0.0.1, answering 200 {"rejected": []} at once) and a fresh server
// whitelisting loopback (ip_range_whitelist). Measures:
//   - latency from the start of a send to the gateway receiving the
//     notify (p50/p99), sequential sends, with 1 and with 100 users with
//     a pusher in one room (every notification of each send counted);
//   - throughput: notifications/s with 100 pushers and SENDERS sends in
//     flight, from the first send to the last notify;
//   - disk bytes written (/proc/PID/io write_bytes) per message in the
//     100-member room without pushers and with them, and the difference
//     per notification.
// Usage: node bench/pushers.mjs [path/to/myelin]   (bench/pushers.sh wraps it)

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { enc, fmt, pct, sleep, startServer } from './lib.mjs';

const bin = process.argv[2] || path.resolve('build/myelin');
const USERS = Number(process.env.PUSH_USERS || 100);
const LAT_MSGS = Number(process.env.PUSH_LAT_MSGS || 200);
const BIG_LAT_MSGS = Number(process.env.PUSH_BIG_LAT_MSGS || 50);
const TPUT_MSGS = Number(process.env.PUSH_TPUT_MSGS || 300);
const SENDERS = Number(process.env.PUSH_SENDERS || 10);

// ---- the gateway ----
const arrivals = new Map(); // event_id -> [ms]
let received = 0;
let waiter = null;
const gw = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const at = performance.now();
		const id = JSON.parse(Buffer.concat(chunks).toString()).notification.event_id;
		if (!arrivals.has(id)) arrivals.set(id, []);
		arrivals.get(id).push(at);
		received++;
		res.writeHead(200, { 'Content-Type': 'application/json' });
		res.end('{"rejected":[]}');
		if (waiter && received >= waiter.n) { waiter.resolve(); waiter = null; }
	});
});
gw.keepAliveTimeout = 60_000;
await new Promise((r) => gw.listen(0, '127.0.0.1', r));
const gwUrl = `http://127.0.0.1:${gw.address().port}/_matrix/push/v1/notify`;
const untilReceived = (n, ms = 60_000) => new Promise((resolve, reject) => {
	if (received >= n) return resolve();
	const t = setTimeout(() => reject(new Error(`gateway got ${received} of ${n}`)), ms);
	waiter = { n, resolve: () => { clearTimeout(t); resolve(); } };
});

// ---- the server ----
const S = await startServer(bin, { ip_range_whitelist: ['127.0.0.0/8'] });
const { call } = S;
// The server's CPU time (user + system), ms: /proc/PID/stat fields 14 and 15, in ticks of 10 ms.
const cpuMs = () => fs.readFileSync(`/proc/${S.pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13)
	.reduce((a, x) => a + Number(x) * 10, 0);
let txn = 0;
const send = (tok, room, body) => call('PUT', `/rooms/${enc(room)}/send/m.room.message/b${txn++}`, tok, { msgtype: 'm.text', body });
const setPusher = (tok, i) => call('POST', '/pushers/set', tok, {
	kind: 'http', app_id: 'bench.app', pushkey: `key-${i}`, app_display_name: 'Bench',
	device_display_name: 'dev', lang: 'en', data: { url: gwUrl },
});

console.log(`pushers benchmark: ${bin}, ${os.cpus().length} CPUs`);
const sender = await S.register('sender');

/* Sequential sends; latency of each notification from the send's start. */
async function latency(room, msgs, perMsg) {
	const lat = [], last = [];
	for (let i = 0; i < msgs; i++) {
		const before = received;
		const t0 = performance.now();
		const { event_id } = await send(sender, room, `latency ${i}`);
		await untilReceived(before + perMsg);
		const times = arrivals.get(event_id) ?? [];
		if (times.length !== perMsg) throw new Error(`${event_id}: ${times.length} notifies, want ${perMsg}`);
		for (const t of times) lat.push(t - t0);
		last.push(Math.max(...times) - t0);
	}
	return { lat, last };
}

// 1 user with a pusher, in a DM-like room of 2.
{
	const tok = await S.register('solo');
	await setPusher(tok, 'solo');
	const { room_id } = await call('POST', '/createRoom', sender, { preset: 'private_chat', invite: ['@solo:localhost'] });
	await call('POST', `/join/${enc(room_id)}`, tok, {});
	await untilReceived(1); // the invite
	await sleep(200);
	const { lat } = await latency(room_id, LAT_MSGS, 1);
	console.log(`1 pusher: send -> gateway p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms (${LAT_MSGS} sequential messages)`);
}

// USERS users in one public room.
const { room_id: big } = await call('POST', '/createRoom', sender, { preset: 'public_chat', name: 'Big' });
const toks = [];
for (let i = 0; i < USERS; i++) {
	const tok = await S.register(`u${i}`);
	await call('POST', `/join/${enc(big)}`, tok, {});
	toks.push(tok);
}
await sleep(500);

// Disk bytes per message without pushers (the same room, the same sends).
async function burst(n) {
	const w0 = S.writeBytes(), c0 = cpuMs();
	const t0 = performance.now();
	let next = 0;
	const ids = [];
	await Promise.all(Array.from({ length: SENDERS }, async () => {
		while (next < n) { const i = next++; ids.push((await send(sender, big, `burst ${i}`)).event_id); }
	}));
	return { w0, c0, t0, ids };
}
const base = await burst(TPUT_MSGS);
await sleep(1500); // the push rows and the WAL settle
const bytesNoPush = (S.writeBytes() - base.w0) / TPUT_MSGS;
const cpuNoPush = (cpuMs() - base.c0) / TPUT_MSGS;

for (let i = 0; i < USERS; i++) await setPusher(toks[i], i);
await sleep(500);
{
	const { lat, last } = await latency(big, BIG_LAT_MSGS, USERS);
	console.log(`${USERS} pushers in one room: send -> gateway p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms;`
		+ ` last of the ${USERS} p50 ${fmt(pct(last, 50))} ms, p99 ${fmt(pct(last, 99))} ms (${BIG_LAT_MSGS} sequential messages)`);
}

{
	const start = received;
	const b = await burst(TPUT_MSGS);
	await untilReceived(start + TPUT_MSGS * USERS, 300_000);
	const secs = (performance.now() - b.t0) / 1000;
	const cpu = (cpuMs() - b.c0) / TPUT_MSGS;
	await sleep(1500);
	const bytes = (S.writeBytes() - b.w0) / TPUT_MSGS;
	const n = TPUT_MSGS * USERS;
	console.log(`throughput: ${n} notifications (${TPUT_MSGS} messages x ${USERS} pushers, ${SENDERS} sends in flight)`
		+ ` in ${fmt(secs)} s: ${Math.round(n / secs)} notifications/s`);
	console.log(`disk writes per message: ${Math.round(bytesNoPush)} B without pushers, ${Math.round(bytes)} B with ${USERS}:`
		+ ` ${Math.round((bytes - bytesNoPush) / USERS)} B per notification`);
	console.log(`server CPU per message: ${fmt(cpuNoPush)} ms without pushers, ${fmt(cpu)} ms with ${USERS}:`
		+ ` ${fmt((cpu - cpuNoPush) * 1000 / USERS)} us per notification`);
}
console.log(`RSS ${Math.round(S.rssKb() / 1024)} MiB`);
gw.close();
process.exit(0);
