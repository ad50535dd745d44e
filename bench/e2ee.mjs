// SPDX-License-Identifier: Apache-2.0
//
// E2EE benchmark: POST /keys/query latency for a user with 50 devices (each
// with properly signed ed25519 device keys), POST /keys/claim throughput
// with many one-time keys claimed in parallel, and to-device delivery
// latency from sendToDevice returning to the recipient's waiting /sync
// returning. Loopback only, bounded.
//
// Usage: node bench/e2ee.mjs [path/to/myelin]   (Node >= 22)
// Env: E2EE_DEVICES (50), E2EE_QUERIES (500), E2EE_CLAIMS (10000), E2EE_TO_DEVICE (300)

import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

import { enc, fmt, pct, sleep, startServer } from './lib.mjs';

const bin = process.argv[2] || path.resolve('build/myelin');
const DEVICES = Number(process.env.E2EE_DEVICES || 50);
const QUERIES = Number(process.env.E2EE_QUERIES || 500);
const CLAIMS = Number(process.env.E2EE_CLAIMS || 10000);
const TO_DEVICE = Number(process.env.E2EE_TO_DEVICE || 300);

const S = await startServer(bin);
const { call, register, login } = S;

const b64 = (buf) => Buffer.from(buf).toString('base64').replace(/=+$/, '');
function canonicalJson(v) {
	if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
	if (v !== null && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
	return JSON.stringify(v);
}
/** A device with an ed25519 key that signs its device keys and one-time keys like a client. */
function device(userId, deviceId) {
	const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
	const pub = b64(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
	const sign = (obj) => {
		const sig = b64(crypto.sign(null, Buffer.from(canonicalJson(obj)), privateKey));
		return { ...obj, signatures: { [userId]: { [`ed25519:${deviceId}`]: sig } } };
	};
	const deviceKeys = sign({
		user_id: userId, device_id: deviceId,
		algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
		keys: { [`curve25519:${deviceId}`]: b64(crypto.randomBytes(32)), [`ed25519:${deviceId}`]: pub },
	});
	const otks = (n, from) => {
		const out = {};
		for (let i = from; i < from + n; i++) out[`signed_curve25519:k${i}`] = sign({ key: b64(crypto.randomBytes(32)) });
		return out;
	};
	return { deviceKeys, otks };
}
/** Runs n tasks with `width` in flight; returns the elapsed seconds. */
async function pool(n, width, task) {
	let next = 0;
	const t0 = performance.now();
	await Promise.all(Array.from({ length: width }, async () => { while (next < n) await task(next++); }));
	return (performance.now() - t0) / 1000;
}

console.log(`myelin ${bin}, ${os.cpus().length} cores`);
await register('carol');
await register('dave');
const carol = '@carol:localhost', dave = '@dave:localhost';
const daveTok = await login('dave', 'DAVE');

// 1. keys/query for a user with DEVICES devices.
const devs = [];
for (let i = 0; i < DEVICES; i++) {
	const id = `CAROL${i}`;
	const tok = await login('carol', id);
	devs.push({ id, tok, d: device(carol, id) });
}
await Promise.all(devs.map((x) => call('POST', '/keys/upload', x.tok, { device_keys: x.d.deviceKeys })));
const q = await call('POST', '/keys/query', daveTok, { device_keys: { [carol]: [] } });
if (Object.keys(q.device_keys[carol]).length !== DEVICES) throw new Error(`keys/query: ${Object.keys(q.device_keys[carol]).length} devices`);
const ql = [];
for (let i = 0; i < QUERIES; i++) {
	const t0 = performance.now();
	await call('POST', '/keys/query', daveTok, { device_keys: { [carol]: [] } });
	ql.push(performance.now() - t0);
}
console.log(`keys/query, ${DEVICES} devices: p50 ${fmt(pct(ql, 50))} ms, p99 ${fmt(pct(ql, 99))} ms (${QUERIES} sequential)`);

// 2. keys/claim throughput: CLAIMS one-time keys spread over the devices, claimed 50 at a time.
const per = Math.ceil(CLAIMS / DEVICES);
for (const x of devs)
	for (let from = 0; from < per; from += 1000)
		await call('POST', '/keys/upload', x.tok, { one_time_keys: x.d.otks(Math.min(1000, per - from), from) });
let got = 0;
const secs = await pool(CLAIMS, 50, async (i) => {
	const r = await call('POST', '/keys/claim', daveTok, { one_time_keys: { [carol]: { [devs[i % DEVICES].id]: 'signed_curve25519' } } });
	const k = Object.keys(r.one_time_keys[carol]?.[devs[i % DEVICES].id] ?? {})[0];
	if (k && !k.endsWith(':fb')) got++;
});
console.log(`keys/claim: ${fmt(CLAIMS / secs)} claims/s (${CLAIMS} claims, 50 in flight, ${got} one-time keys handed out)`);

// 3. to-device: sendToDevice returning -> the recipient's waiting /sync returning.
let since = (await call('GET', '/sync?timeout=0', daveTok)).next_batch;
const tl = [], tr = [];
for (let i = 0; i < TO_DEVICE; i++) {
	const waiting = call('GET', `/sync?timeout=10000&since=${enc(since)}`, daveTok).then((r) => ({ r, t: performance.now() }));
	await sleep(2); // let the long-poll park
	const start = performance.now();
	await call('PUT', `/sendToDevice/m.bench/td${i}`, devs[0].tok, { messages: { [dave]: { DAVE: { n: i } } } });
	const sent = performance.now();
	const { r, t } = await waiting;
	if (!r.to_device?.events?.some((e) => e.content.n === i)) throw new Error(`to-device ${i} not delivered: ${JSON.stringify(r.to_device)}`);
	tl.push(Math.max(0, t - sent));
	tr.push(t - start);
	since = r.next_batch;
}
console.log(`to-device: sendToDevice -> waiting /sync p50 ${fmt(pct(tl, 50))} ms, p99 ${fmt(pct(tl, 99))} ms (${TO_DEVICE} messages; from the PUT being sent: p50 ${fmt(pct(tr, 50))} ms, p99 ${fmt(pct(tr, 99))} ms)`);
process.exit(0);
