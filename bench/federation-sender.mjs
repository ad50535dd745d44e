// SPDX-License-Identifier: Apache-2.0
//
// Federation sender benchmark: two Myelin servers with TLS federation
// listeners (certificates from a CA made for the run). Alice on A sends
// to-device messages (1 KiB of "ciphertext" each) to Bob's device on B:
//   - throughput with 1 and 50 concurrent senders: PUT /sendToDevice rate
//     on A, and end to end, until Bob's /sync on B has had every message;
//     A's disk bytes written per message (/proc/PID/io: inbox-less, so the
//     request's durable write, its outbox row and the row's deletion) and,
//     in a second run under strace, A's fsyncs per message;
//   - latency from the start of a PUT on A to Bob's waiting /sync on B
//     returning with the message (p50/p99), one message at a time.
// Usage: node bench/federation-sender.mjs [path/to/myelin]
//        (bench/federation-sender.sh wraps it)
// Env: FED_TD_ONE (1000 messages with 1 sender), FED_TD_MANY (5000 with 50),
//      FED_TD_LATENCY (300).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { fmt, pct, sleep, freePort, startServer } from './lib.mjs';
import { makeTestPki } from '../tests/e2e/lib/federation.mjs';

const bin = process.argv[2] || path.resolve('build/myelin');
const ONE = Number(process.env.FED_TD_ONE || 1000);
const MANY = Number(process.env.FED_TD_MANY || 5000);
const LATENCY = Number(process.env.FED_TD_LATENCY || 300);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-fedsend-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const pki = makeTestPki(tmp);

async function federating() {
	const fedPort = await freePort();
	const s = await startServer(bin, {
		server_name: `127.0.0.1:${fedPort}`,
		tls_certificate_path: pki.cert,
		tls_private_key_path: pki.key,
		federation_custom_ca_list: [pki.ca],
		ip_range_whitelist: ['127.0.0.0/8'],
		trusted_key_servers: [],
		extraListeners: [{ port: fedPort, bind_addresses: ['127.0.0.1'], type: 'http', tls: true, resources: [{ names: ['federation', 'keys'] }] }],
	});
	s.serverName = `127.0.0.1:${fedPort}`;
	return s;
}

const A = await federating();
const B = await federating();
const alice = await A.register('alice');
await B.register('bob');
const bob = await B.login('bob', 'BOBDEV');
const bobId = `@bob:${B.serverName}`;
const pad = 'c'.repeat(1024);

let since = (await B.call('GET', '/sync?timeout=0', bob)).next_batch;
let received = 0;
/** Sync Bob until n more messages have arrived; resolves with the time. */
async function receive(n) {
	const want = received + n;
	while (received < want) {
		const r = await B.call('GET', `/sync?timeout=10000&since=${encodeURIComponent(since)}`, bob);
		since = r.next_batch;
		received += r.to_device?.events?.length ?? 0;
	}
	return performance.now();
}
let seq = 0;
const put = () => {
	const i = seq++;
	return A.call('PUT', `/sendToDevice/m.bench/t${i}`, alice, { messages: { [bobId]: { BOBDEV: { i, ciphertext: pad } } } });
};
async function sendAll(n, conc) {
	let left = n;
	await Promise.all(Array.from({ length: conc }, async () => {
		while (left > 0) {
			left--;
			await put();
		}
	}));
	return performance.now();
}
const fsyncTracer = (pid) => {
	const p = spawn('strace', ['-f', '-c', '--seccomp-bpf', '-e', 'trace=fsync,fdatasync', '-p', String(pid)],
		{ stdio: ['ignore', 'ignore', 'pipe'] });
	let out = '';
	p.stderr.on('data', (d) => { out += d; });
	p.on('error', () => {});
	return { stop: async () => { p.kill('SIGINT'); await new Promise((r) => p.on('exit', r));
		const n = out.split('\n').filter((l) => /fsync|fdatasync/.test(l))
			.map((l) => Number(l.trim().split(/\s+/)[3]) || 0).reduce((a, b) => a + b, 0);
		return out ? n : NaN; } };
};

console.log(`federation sender benchmark: ${bin}, ${os.cpus().length} CPUs`);
// Warm up: B fetches A's key, connections open.
await Promise.all([put(), receive(1)]);

for (const [conc, n] of [[1, ONE], [50, MANY]]) {
	await sleep(500);
	const w0 = A.writeBytes();
	const t0 = performance.now();
	const [tPut, tRecv] = await Promise.all([sendAll(n, conc), receive(n)]);
	await sleep(300); // the deletes of the last transactions
	const written = A.writeBytes() - w0;
	// fsyncs in a second run under strace (which slows the server).
	await sleep(500);
	const tracer = fsyncTracer(A.pid);
	await sleep(300);
	await Promise.all([sendAll(n, conc), receive(n)]);
	await sleep(300);
	const fsyncs = await tracer.stop();
	console.log(`${String(conc).padStart(2)} concurrent sender(s), ${n} messages: PUT ${(n / ((tPut - t0) / 1000)).toFixed(0)} msg/s,` +
		` delivered to Bob's /sync ${(n / ((tRecv - t0) / 1000)).toFixed(0)} msg/s;` +
		` A wrote ${(written / n).toFixed(0)} bytes and ${(fsyncs / n).toFixed(2)} fsyncs per message (fsyncs under strace)`);
}

{
	await sleep(1000);
	const lat = [];
	for (let i = 0; i < LATENCY; i++) {
		const before = received;
		const p = receive(1);
		await sleep(5);
		const start = performance.now();
		await put();
		const t = (await p) - start;
		if (received !== before + 1) throw new Error('more than one message arrived');
		if (i >= 10) lat.push(t);
	}
	console.log(`PUT start on A -> Bob's waiting /sync on B returned: p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms (${lat.length} messages, one at a time)`);
}
process.exit(0);
