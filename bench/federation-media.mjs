// SPDX-License-Identifier: Apache-2.0
//
// Federation media benchmark: two Myelin servers with TLS federation
// listeners (certificates from a CA made for the run). A user of server A
// downloads media uploaded on server B:
//   - cold fetch (B -> A over federation, then to the client) and cached
//     download throughput for 1 MB and 50 MB files, A's peak RSS;
//   - 20 clients asking at once for the same new remote file (one fetch);
//   - signed GET /_matrix/federation/v1/media/download of a 10 kB file
//     straight to B (X-Matrix check + multipart body): latency percentiles.
// Usage: node bench/federation-media.mjs [path/to/myelin]
//        (bench/federation-media.sh wraps it)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { pct, freePort, startServer } from './lib.mjs';
import { makeTestPki, FakeRemote } from '../tests/e2e/lib/federation.mjs';

const bin = process.argv[2] || path.resolve('build/myelin');
const ROUNDS = Number(process.env.ROUNDS || 3);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-fedbench-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const pki = makeTestPki(tmp);

async function federating() {
	const fedPort = await freePort();
	const s = await startServer(bin, {
		server_name: `127.0.0.1:${fedPort}`,
		max_upload_size: '100M',
		tls_certificate_path: pki.cert,
		tls_private_key_path: pki.key,
		federation_custom_ca_list: [pki.ca],
		ip_range_whitelist: ['127.0.0.0/8'],
		trusted_key_servers: [],
		extraListeners: [{ port: fedPort, bind_addresses: ['127.0.0.1'], type: 'http', tls: true, resources: [{ names: ['federation', 'keys', 'media'] }] }],
	});
	s.serverName = `127.0.0.1:${fedPort}`;
	s.fedUrl = `https://127.0.0.1:${fedPort}`;
	return s;
}

const A = await federating();
const B = await federating();
const authA = { Authorization: `Bearer ${await A.register('reader')}` };
const authB = { Authorization: `Bearer ${await B.register('writer')}` };

function randomBuf(n) {
	const buf = Buffer.alloc(n);
	for (let k = 0; k < n; k += 4096) buf.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, k);
	return buf;
}
async function uploadB(buf) {
	const r = await fetch(`${B.root}/_matrix/media/v3/upload`, { method: 'POST', headers: { ...authB, 'Content-Type': 'application/octet-stream' }, body: buf });
	const j = await r.json();
	if (!r.ok) throw new Error(`upload: ${r.status} ${JSON.stringify(j)}`);
	return j.content_uri.slice('mxc://'.length);
}
async function downloadA(mxc) {
	const r = await fetch(`${A.root}/_matrix/client/v1/media/download/${mxc}`, { headers: authA });
	const b = Buffer.from(await r.arrayBuffer());
	if (!r.ok) throw new Error(`download: ${r.status} ${b.toString().slice(0, 200)}`);
	return b.length;
}

console.log(`federation media benchmark: ${bin}, ${os.cpus().length} CPUs, median of ${ROUNDS} rounds`);
for (const mb of [1, 50]) {
	const cold = [], warm = [], written = [];
	for (let i = 0; i < ROUNDS; i++) {
		const buf = randomBuf(mb * 1024 * 1024);
		const mxc = await uploadB(buf);
		const w0 = A.writeBytes();
		let t = performance.now();
		if ((await downloadA(mxc)) !== buf.length) throw new Error('short download');
		cold.push(mb / ((performance.now() - t) / 1000));
		written.push((A.writeBytes() - w0) / buf.length);
		t = performance.now();
		await downloadA(mxc);
		warm.push(mb / ((performance.now() - t) / 1000));
	}
	console.log(`${String(mb).padStart(2)} MB: first download (fetched over federation) ${median(cold).toFixed(1)} MB/s, cached ${median(warm).toFixed(1)} MB/s; server A wrote ${median(written).toFixed(2)} bytes per byte fetched`);
}
// (VmHWM is set by the 64 MiB argon2id of the registration, not by media.)
console.log(`server A RSS after the transfers ${(A.rssKb() / 1024).toFixed(1)} MiB`);

{
	const mxc = await uploadB(randomBuf(1024 * 1024));
	const t = performance.now();
	const lat = await Promise.all(Array.from({ length: 20 }, async () => {
		const t0 = performance.now();
		await downloadA(mxc);
		return performance.now() - t0;
	}));
	console.log(`20 clients at once, one new 1 MB remote file: all done in ${(performance.now() - t).toFixed(1)} ms, p50 ${pct(lat, 50).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms`);
}

{
	const fake = await new FakeRemote(pki).start();
	const id = (await uploadB(randomBuf(10 * 1024))).split('/')[1];
	const uri = `/_matrix/federation/v1/media/download/${id}`;
	const N = 500, lat = [];
	await fake.request(B, 'GET', uri); // B fetches the fake's key once
	const t = performance.now();
	for (let i = 0; i < N; i++) {
		const t0 = performance.now();
		const r = await fake.request(B, 'GET', uri);
		if (r.status !== 200) throw new Error(`federation download: ${r.status}`);
		lat.push(performance.now() - t0);
	}
	const s = (performance.now() - t) / 1000;
	console.log(`signed federation download of 10 kB (one client, keep-alive): ${(N / s).toFixed(0)} req/s sequential, p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms`);
	await fake.stop();
}
process.exit(0);
