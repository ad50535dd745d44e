// SPDX-License-Identifier: Apache-2.0
//
// Shared by the benchmarks: start a fresh Myelin on free loopback ports with
// generous rate limits, a small JSON client, and statistics helpers.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const pct = (arr, p) => {
	const s = [...arr].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))];
};
export const fmt = (x) => x.toFixed(2);
export const enc = encodeURIComponent;

export const freePort = () => new Promise((res) => {
	const s = net.createServer();
	s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
});

/*
 * Start `bin` with a fresh data directory; `extra` is merged into the config.
 * Returns { pid, port, root, base (client v3 URL), call, register, login,
 * rssKb, writeBytes }. The server is stopped when the process exits.
 */
export async function startServer(bin, extra = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-bench-'));
	const port = await freePort(), aport = await freePort();
	// extraListeners: appended to the client and admin listeners (e.g. TLS federation).
	const { extraListeners = [], ...rest } = extra;
	extra = rest;
	const big = { per_second: 1e6, burst_count: 1e6 };
	fs.writeFileSync(path.join(dir, 'homeserver.yaml'), JSON.stringify({
		server_name: 'localhost',
		public_baseurl: `http://127.0.0.1:${port}/`,
		listeners: [
			{ port, bind_addresses: ['127.0.0.1'], type: 'http', resources: [{ names: ['client', 'federation'] }] },
			{ port: aport, bind_addresses: ['127.0.0.1'], type: 'http', resources: [{ names: ['admin'] }] },
			...extraListeners,
		],
		database: { name: 'sqlite3', args: { database: path.join(dir, 'homeserver.db') } },
		signing_key_path: path.join(dir, 'localhost.signing.key'),
		media_store_path: path.join(dir, 'media'),
		enable_registration: true,
		log_level: 'warn',
		http_threads: Number(process.env.HTTP_THREADS || 0),
		rc_registration: big, rc_message: big,
		rc_login: { address: big, account: big, failed_attempts: big },
		...extra,
	}));
	const srv = spawn(bin, ['serve', '-c', path.join(dir, 'homeserver.yaml')], { stdio: ['ignore', 'ignore', 'inherit'] });
	process.on('exit', () => { srv.kill('SIGTERM'); fs.rmSync(dir, { recursive: true, force: true }); });
	const root = `http://127.0.0.1:${port}`;
	const base = `${root}/_matrix/client/v3`;
	for (;;) { try { await fetch(`${root}/_matrix/client/versions`); break; } catch { await sleep(10); } }

	async function call(method, url, token, body) {
		const r = await fetch(base + url, {
			method, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Content-Type': 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const j = await r.json();
		if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(j)}`);
		return j;
	}
	async function register(name) {
		const first = await fetch(`${base}/register`, { method: 'POST', body: '{}' }).then((r) => r.json());
		const r = await call('POST', '/register', null, { username: name, password: 'benchpassword', auth: { type: 'm.login.dummy', session: first.session } });
		return r.access_token;
	}
	async function login(user, deviceId) {
		const r = await call('POST', '/login', null, { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password: 'benchpassword', device_id: deviceId });
		return r.access_token;
	}
	const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${srv.pid}/status`, 'utf8'))[1]);
	const writeBytes = () => Number(/write_bytes: (\d+)/.exec(fs.readFileSync(`/proc/${srv.pid}/io`, 'utf8'))[1]);
	const hwmKb = () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${srv.pid}/status`, 'utf8'))[1]);
	return { pid: srv.pid, proc: srv, dir, port, root, base, call, register, login, rssKb, hwmKb, writeBytes };
}
