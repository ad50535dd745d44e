// SPDX-License-Identifier: Apache-2.0
//
// Search benchmark: the cost of the full-text index on sends (events/s and
// disk bytes per 1,000 messages, indexed m.room.message against an
// unindexed event type with the same content, driven by wrk), POST /search
// latency (p50/p99) for words of several frequencies in a 100,000-message
// room and across 100 rooms, in both orders, and the index size on disk
// per 1,000 messages. Loopback only, bounded.
//
// Usage: node bench/search.mjs [path/to/myelin]   (Node >= 22)
// Env: SEARCH_BIG (100000), SEARCH_ROOMS (100), SEARCH_PER_ROOM (200),
//      SEARCH_QUERIES (200), SEND_SECONDS (5), SEND_ROUNDS (3)

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { enc, fmt, pct, startServer } from './lib.mjs';

const bin = process.argv[2] || path.resolve('build/myelin');
const BIG = Number(process.env.SEARCH_BIG || 100000);
const ROOMS = Number(process.env.SEARCH_ROOMS || 100);
const PER_ROOM = Number(process.env.SEARCH_PER_ROOM || 200);
const QUERIES = Number(process.env.SEARCH_QUERIES || 200);
const SEND_SECONDS = Number(process.env.SEND_SECONDS || 5);

const S = await startServer(bin);
const { call, register, port } = S;
const db = path.join(S.dir, 'homeserver.db');
let txn = 0;

// A deterministic vocabulary of 5,000 words used with Zipf frequencies
// (the word of rank r is r times rarer than the commonest), ten words a
// message: rank 1 is in about two messages of three, rank 10 in one of
// ten, rank 100 in one of a hundred, rank 1,000 in one of a thousand.
// Words end in "x", which starts no syllable, so that none is the start of
// another and a search (which matches words by their start) counts one.
const SYL = ['ka', 'lo', 'mi', 'ten', 'ra', 'sul', 've', 'po', 'dri', 'an', 'ge', 'tho', 'nu', 'bel', 'cor', 'fi', 'ma', 'zen', 'qui', 'lar'];
const VOCAB = Array.from({ length: 5000 }, (_, i) => {
	let w = '';
	for (let n = i + 20; n > 0; n = Math.floor(n / 20)) w += SYL[n % 20];
	return `${w}x`;
});
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const cdf = [];
{
	let sum = 0;
	for (let r = 1; r <= VOCAB.length; r++) { sum += 1 / r; cdf.push(sum); }
	for (let i = 0; i < cdf.length; i++) cdf[i] /= sum;
}
const zipfWord = () => {
	const u = rand();
	let lo = 0, hi = cdf.length - 1;
	while (lo < hi) { const mid = (lo + hi) >> 1; if (cdf[mid] < u) lo = mid + 1; else hi = mid; }
	return VOCAB[lo];
};
const sentence = () => Array.from({ length: 10 }, zipfWord).join(' ');
const send = (tok, room, body) => call('PUT', `/rooms/${enc(room)}/send/m.room.message/q${txn++}`, tok, { msgtype: 'm.text', body });

// CPU time of the server (user + system, microseconds): less disturbed by
// whatever else runs on the machine than throughput is.
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const cpuUs = () => {
	const f = fs.readFileSync(`/proc/${S.pid}/stat`, 'utf8').split(') ')[1].split(' ');
	return (Number(f[11]) + Number(f[12])) * TICK_US;
};
const sqlite = (sql) => execFileSync('sqlite3', ['-readonly', db, sql], { encoding: 'utf8' }).trim();
const indexBytes = () => Number(sqlite("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE 'event\\_search%' ESCAPE '\\'"));
const eventsBytes = () => Number(sqlite("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN ('events', 'events_by_room', 'events_by_ts', 'sqlite_autoindex_events_1')"));
const indexedRows = () => Number(sqlite('SELECT COUNT(*) FROM event_search_docsize'));

console.log(`myelin ${bin}, ${os.cpus().length} cores`);
const alice = await register('alice');
const bob = await register('bob');

// 1. send cost of the index: the same bodies as m.room.message (indexed)
// and as an event type nothing indexes, in alternating runs (ROUNDS of
// each, medians: the machine's noise hits both alike), with 1 and 10
// senders (wrk, bench/search.lua).
const ROUNDS = Number(process.env.SEND_ROUNDS || 3);
const median = (v) => pct(v, 50);
async function sendCost(label) {
	const { room_id: room } = await call('POST', '/createRoom', alice, {});
	for (const c of [1, 10]) {
		const runs = { 'm.room.message': { rps: [], mib: [], cpu: [] }, 'org.example.unindexed': { rps: [], mib: [], cpu: [] } };
		for (let r = 0; r < ROUNDS; r++)
			for (const type of Object.keys(runs)) {
				const w0 = S.writeBytes(), c0 = cpuUs();
				const res = execFileSync('wrk', [`-t${c === 1 ? 1 : 2}`, `-c${c}`, `-d${SEND_SECONDS}s`, '-s', 'bench/search.lua',
					`http://127.0.0.1:${port}`], { env: { ...process.env, TOKEN: alice, ROOM: enc(room), EVENT_TYPE: type }, encoding: 'utf8' });
				const w1 = S.writeBytes(), c1 = cpuUs();
				const n = Number(/(\d+) requests in/.exec(res)[1]);
				runs[type].cpu.push((c1 - c0) / n);
				runs[type].rps.push(Number(/Requests\/sec:\s+([\d.]+)/.exec(res)[1]));
				runs[type].mib.push((w1 - w0) / n * 1000 / 1048576);
			}
		const a = runs['m.room.message'], b = runs['org.example.unindexed'];
		const ar = median(a.rps), br = median(b.rps);
		console.log(`send (${label}), ${c} sender(s), median of ${ROUNDS}: indexed ${ar.toFixed(0)} events/s, ${median(a.mib).toFixed(1)} MiB/1,000;` +
			` unindexed ${br.toFixed(0)} events/s, ${median(b.mib).toFixed(1)} MiB/1,000;` +
			` server CPU per event ${fmt(median(a.cpu))} us vs ${fmt(median(b.cpu))} us;` +
			` the index costs ${fmt(median(a.cpu) - median(b.cpu))} us of CPU and` +
			` ${(median(a.mib) - median(b.mib)).toFixed(1)} MiB/1,000 written` +
			` [runs: ${a.rps.map((x) => x.toFixed(0)).join('/')} vs ${b.rps.map((x) => x.toFixed(0)).join('/')}]`);
	}
}
await sendCost('empty index');

// 2. a room of BIG messages
const { room_id: big } = await call('POST', '/createRoom', alice, {});
{
	const t0 = performance.now();
	const bodies = Array.from({ length: BIG }, sentence);
	let n = 0;
	await Promise.all(Array.from({ length: 50 }, async () => { while (n < BIG) await send(alice, big, bodies[n++]); }));
	console.log(`filled a room with ${BIG} messages in ${fmt((performance.now() - t0) / 1000)} s`);
}

async function latency(user, term, order_by, what) {
	const lat = [];
	let count = 0;
	for (let i = 0; i < QUERIES; i++) {
		const t = performance.now();
		const r = await call('POST', '/search', user, { search_categories: { room_events: { search_term: term, order_by } } });
		lat.push(performance.now() - t);
		count = r.search_categories.room_events.count;
	}
	console.log(`search ${what}, "${term}" (${count} matches), ${order_by}: p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms`);
}
const words = [[1000, 'rare'], [100, 'medium'], [10, 'common'], [1, 'commonest']];
for (const [rank, label] of words)
	for (const order of ['recent', 'rank'])
		await latency(alice, VOCAB[rank - 1], order, `in a ${BIG}-message room, ${label} word`);
// Two words, and a prefix of a common word.
await latency(alice, `${VOCAB[9]} ${VOCAB[99]}`, 'rank', `in a ${BIG}-message room, two words`);
await latency(alice, VOCAB[9].slice(0, 3), 'rank', `in a ${BIG}-message room, 3-letter prefix`);

// 3. ROOMS rooms of PER_ROOM messages each, searched at once (bob is not
// in the big room, whose matches the index still holds).
{
	for (let i = 0; i < ROOMS; i += 10)
		await Promise.all(Array.from({ length: Math.min(10, ROOMS - i) }, async () => {
			const { room_id } = await call('POST', '/createRoom', bob, {});
			for (let j = 0; j < PER_ROOM; j++) await send(bob, room_id, sentence());
		}));
	for (const [rank, label] of words.slice(0, 3))
		for (const order of ['recent', 'rank'])
			await latency(bob, VOCAB[rank - 1], order, `across ${ROOMS} rooms (${ROOMS * PER_ROOM} messages), ${label} word`);
}

// 4. size on disk
{
	const rows = indexedRows();
	const ib = indexBytes(), eb = eventsBytes();
	console.log(`index on disk: ${(ib / 1048576).toFixed(1)} MiB for ${rows} indexed events: ${(ib / rows * 1000 / 1024).toFixed(1)} KiB per 1,000` +
		` (the events table and its indexes: ${(eb / rows * 1000 / 1024).toFixed(1)} KiB per 1,000)`);
}

// 5. the send cost again, with a large index
await sendCost(`${indexedRows()} events indexed`);
process.exit(0);
