// SPDX-License-Identifier: Apache-2.0
//
// Media benchmark: upload and download throughput (MB/s) of 1 MB and 50 MB
// files, and the time and server RSS of making a thumbnail of a 4000x3000
// PNG (generated here: a gradient, zlib-compressed). Thumbnails are
// generated on demand (thumbnail_sizes: []), so each request decodes.
// Usage: node bench/media.mjs [path/to/myelin]   (bench/media.sh wraps it)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { sleep, startServer } from './lib.mjs';

const bin = process.argv[2] || path.resolve('build/myelin');
const ROUNDS = Number(process.env.ROUNDS || 5);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const S = await startServer(bin, { max_upload_size: '100M', thumbnail_sizes: [] });
const { root, rssKb } = S;
const srv = S.proc;
const auth = { Authorization: `Bearer ${await S.register('bench')}` };

async function upload(buf, type) {
	const r = await fetch(`${root}/_matrix/media/v3/upload`, { method: 'POST', headers: { ...auth, 'Content-Type': type }, body: buf });
	const j = await r.json();
	if (!r.ok) throw new Error(`upload: ${r.status} ${JSON.stringify(j)}`);
	return j.content_uri.slice('mxc://'.length);
}
async function download(mxc) {
	const r = await fetch(`${root}/_matrix/client/v1/media/download/${mxc}`, { headers: auth });
	const b = Buffer.from(await r.arrayBuffer());
	if (!r.ok) throw new Error(`download: ${r.status}`);
	return b.length;
}

console.log(`media benchmark: ${bin}, ${os.cpus().length} CPUs, median of ${ROUNDS} rounds`);
for (const mb of [1, 50]) {
	const up = [], down = [];
	for (let i = 0; i < ROUNDS; i++) {
		const buf = Buffer.alloc(mb * 1024 * 1024);
		for (let k = 0; k < buf.length; k += 4096) buf.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, k);
		let t = performance.now();
		const mxc = await upload(buf, 'application/octet-stream');
		up.push(mb / ((performance.now() - t) / 1000));
		t = performance.now();
		const n = await download(mxc);
		down.push(mb / ((performance.now() - t) / 1000));
		if (n !== buf.length) throw new Error('short download');
	}
	console.log(`${String(mb).padStart(2)} MB: upload ${median(up).toFixed(1)} MB/s, download ${median(down).toFixed(1)} MB/s`);
}

// A 4000x3000 RGB gradient PNG.
const crcTable = Array.from({ length: 256 }, (_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});
const crc32 = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
function chunk(type, data) {
	const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
	const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
	const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
	return Buffer.concat([len, td, crc]);
}
const W = 4000, H = 3000;
const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(W, 0); ihdr.writeUInt32BE(H, 4); ihdr[8] = 8; ihdr[9] = 2;
const raw = Buffer.alloc((W * 3 + 1) * H);
for (let y = 0; y < H; y++) {
	const row = y * (W * 3 + 1);
	for (let x = 0; x < W; x++) {
		raw[row + 1 + x * 3] = (x * 255 / W) | 0;
		raw[row + 2 + x * 3] = (y * 255 / H) | 0;
		raw[row + 3 + x * 3] = ((x + y) * 127 / (W + H)) | 0;
	}
}
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
	chunk('IDAT', zlib.deflateSync(raw, { level: 6 })), chunk('IEND', Buffer.alloc(0))]);
const img = await upload(png, 'image/png');
const rssIdle = rssKb();
for (const [w, h, method] of [[320, 240, 'scale'], [96, 96, 'crop']]) {
	const times = [];
	let peak = 0;
	for (let i = 0; i < ROUNDS; i++) {
		const timer = setInterval(() => { peak = Math.max(peak, rssKb()); }, 5);
		const t = performance.now();
		const r = await fetch(`${root}/_matrix/client/v1/media/thumbnail/${img}?width=${w}&height=${h}&method=${method}`, { headers: auth });
		await r.arrayBuffer();
		times.push(performance.now() - t);
		clearInterval(timer);
		if (!r.ok) throw new Error(`thumbnail: ${r.status}`);
	}
	console.log(`thumbnail ${W}x${H} PNG (${(png.length / 1048576).toFixed(1)} MB) -> ${w}x${h} ${method}: ` +
		`${median(times).toFixed(0)} ms, server RSS idle ${(rssIdle / 1024).toFixed(0)} MB, peak sampled ${(peak / 1024).toFixed(0)} MB`);
}
const hwm = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${srv.pid}/status`, 'utf8'))[1]);
console.log(`server RSS high-water mark (VmHWM): ${(hwm / 1024).toFixed(0)} MB`);
process.exit(0);
