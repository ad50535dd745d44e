// SPDX-License-Identifier: Apache-2.0
//
// Spaces benchmark: GET /_matrix/client/v1/rooms/{roomId}/hierarchy on a
// 3-level space of 100 rooms (the root, 9 sub-spaces, 10 rooms in each),
// all on this server. Prints per-page and whole-walk latency (p50/p99,
// sequential requests) for a member of every room and for a user in none
// (every room public: each is checked and shown), with the default page
// of 50 rooms and with pages of 10 (each page walks the tree again from
// the root, so later pages cost more), and walks/s with 10 in flight.
//
// Usage: node bench/spaces.mjs [path/to/myelin]   (Node >= 22)
// Env: SPACES_ITERS (200)

import os from 'node:os';
import path from 'node:path';

import { enc, fmt, pct, startServer } from './lib.mjs';

const bin = process.argv[2] || path.resolve('build/myelin');
const ITERS = Number(process.env.SPACES_ITERS || 200);
const SUBSPACES = 9, PER_SUBSPACE = 10;

const S = await startServer(bin);
const { call, register, root: url } = S;
console.log(`myelin ${bin}, ${os.cpus().length} cores`);

const alice = await register('alice');
const bob = await register('bob');
const mkRoom = (name, space) => call('POST', '/createRoom', alice, {
	preset: 'public_chat', name, ...(space ? { creation_content: { type: 'm.space' } } : {}),
}).then((r) => r.room_id);
const link = (parent, child, order) => call('PUT', `/rooms/${enc(parent)}/state/m.space.child/${enc(child)}`, alice,
	{ via: ['localhost'], order });

const top = await mkRoom('Top', true);
let total = 1;
for (let i = 0; i < SUBSPACES; i++) {
	const sub = await mkRoom(`Sub ${i}`, true);
	await link(top, sub, String(i).padStart(2, '0'));
	total++;
	await Promise.all(Array.from({ length: PER_SUBSPACE }, async (_, j) => {
		const room = await mkRoom(`Room ${i}.${j}`, false);
		await link(sub, room, String(j).padStart(2, '0'));
	}));
	total += PER_SUBSPACE;
}
console.log(`space: ${total} rooms in 3 levels (1 + ${SUBSPACES} + ${SUBSPACES * PER_SUBSPACE})`);

async function page(token, limit, from) {
	const qs = new URLSearchParams();
	if (limit) qs.set('limit', String(limit));
	if (from) qs.set('from', from);
	const r = await fetch(`${url}/_matrix/client/v1/rooms/${enc(top)}/hierarchy?${qs}`, {
		headers: { Authorization: `Bearer ${token}` },
	});
	const j = await r.json();
	if (!r.ok) throw new Error(`hierarchy: ${r.status} ${JSON.stringify(j)}`);
	return j;
}

/* One whole walk; returns [total ms, [page ms...]]. */
async function walk(token, limit) {
	const pages = [];
	const t0 = performance.now();
	let from, seen = 0;
	do {
		const p0 = performance.now();
		const res = await page(token, limit, from);
		pages.push(performance.now() - p0);
		seen += res.rooms.length;
		from = res.next_batch;
	} while (from);
	if (seen !== total) throw new Error(`walk saw ${seen} rooms, want ${total}`);
	return [performance.now() - t0, pages];
}

for (const [who, token] of [['member', alice], ['non-member', bob]]) {
	for (const limit of [undefined, 10]) {
		for (let i = 0; i < 10; i++) await walk(token, limit); // warm-up
		const walks = [], first = [], last = [];
		for (let i = 0; i < ITERS; i++) {
			const [t, pages] = await walk(token, limit);
			walks.push(t);
			first.push(pages[0]);
			last.push(pages[pages.length - 1]);
		}
		const n = Math.ceil(total / (limit ?? 50));
		console.log(`${who}, limit ${limit ?? '50 (default)'} (${n} pages): ` +
			`first page p50 ${fmt(pct(first, 50))} ms p99 ${fmt(pct(first, 99))} ms, ` +
			`last page p50 ${fmt(pct(last, 50))} ms p99 ${fmt(pct(last, 99))} ms, ` +
			`whole walk p50 ${fmt(pct(walks, 50))} ms p99 ${fmt(pct(walks, 99))} ms`);
	}
}

// Throughput: whole walks (2 pages of 50) with 10 in flight.
const CONC = 10, DURATION_MS = 5000;
let walks = 0;
const end = performance.now() + DURATION_MS;
await Promise.all(Array.from({ length: CONC }, async () => {
	while (performance.now() < end) {
		await walk(alice, undefined);
		walks++;
	}
}));
console.log(`throughput: ${fmt(walks / (DURATION_MS / 1000))} whole walks/s (${fmt(2 * walks / (DURATION_MS / 1000))} pages/s) with ${CONC} in flight`);
console.log(`RSS ${S.rssKb()} kB`);
process.exit(0);
