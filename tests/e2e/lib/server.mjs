// SPDX-License-Identifier: Apache-2.0
//
// Starts and stops a real Myelin process for the end-to-end tests.
//
// Each test file gets its own server in a fresh temporary directory
// (config, SQLite database, signing key, media store, log). The server's
// stdout and stderr go to <dir>/server.log; when a test fails, the part of
// the log written during that test is printed, and the directory is kept.
//
// Environment:
//   MYELIN_BIN            server binary (default: <repo>/build/myelin)
//   MYELIN_E2E_KEEP=1     keep the temporary directories even on success
//   MYELIN_E2E_LOG_LEVEL  log_level written to the config (default: debug)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, beforeEach } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const myelinBin = process.env.MYELIN_BIN || path.join(repoRoot, 'build', 'myelin');

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const LOG_TAIL_LINES = 200;

/** A free TCP port on 127.0.0.1 (bind port 0, read it back, close). */
export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

function isPlainObject(v) {
	return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge: objects merge, everything else (arrays too) replaces; null deletes. */
export function merge(base, over) {
	const out = { ...base };
	for (const [k, v] of Object.entries(over ?? {})) {
		if (v === null) delete out[k];
		else if (isPlainObject(v) && isPlainObject(out[k])) out[k] = merge(out[k], v);
		else out[k] = v;
	}
	return out;
}

function yamlScalar(v) {
	if (typeof v === 'string') return JSON.stringify(v); // a JSON string is a YAML double-quoted scalar
	if (typeof v === 'number' || typeof v === 'boolean') return String(v);
	if (v === null) return 'null';
	throw new TypeError(`cannot write ${typeof v} to YAML`);
}

/** Block-style YAML for the small, plain config objects the tests write. */
export function toYaml(obj, indent = 0) {
	const pad = ' '.repeat(indent);
	const lines = [];
	for (const [k, v] of Object.entries(obj)) {
		if (v === undefined) continue;
		if (isPlainObject(v)) {
			if (Object.keys(v).length === 0) lines.push(`${pad}${k}: {}`);
			else lines.push(`${pad}${k}:`, toYaml(v, indent + 2));
		} else if (Array.isArray(v)) {
			if (v.length === 0) {
				lines.push(`${pad}${k}: []`);
				continue;
			}
			lines.push(`${pad}${k}:`);
			for (const item of v) {
				if (isPlainObject(item)) {
					const inner = toYaml(item, indent + 4).split('\n');
					lines.push(`${pad}  - ${inner[0].trimStart()}`, ...inner.slice(1));
				} else {
					lines.push(`${pad}  - ${yamlScalar(item)}`);
				}
			}
		} else {
			lines.push(`${pad}${k}: ${yamlScalar(v)}`);
		}
	}
	return lines.join('\n');
}

const generous = { per_second: 1000, burst_count: 1000 };

/** The homeserver.yaml the tests run with; `overrides` is deep-merged in. */
export function makeConfig({ dir, port, adminPort, serverName = 'localhost', overrides = {} }) {
	return merge(
		{
			server_name: serverName,
			public_baseurl: `http://127.0.0.1:${port}/`,
			listeners: [
				{
					port,
					bind_addresses: ['127.0.0.1'],
					type: 'http',
					resources: [{ names: ['client', 'federation', 'keys', 'media', 'health'] }],
				},
				{
					port: adminPort,
					bind_addresses: ['127.0.0.1'],
					type: 'http',
					resources: [{ names: ['admin'] }],
				},
			],
			database: { name: 'sqlite3', args: { database: path.join(dir, 'homeserver.db') } },
			signing_key_path: path.join(dir, `${serverName}.signing.key`),
			media_store_path: path.join(dir, 'media_store'),
			enable_registration: true,
			enable_registration_without_verification: true,
			registration_requires_token: false,
			registration_shared_secret: randomBytes(24).toString('hex'),
			password_config: { enabled: true },
			rc_registration: generous,
			rc_login: { address: generous, account: generous, failed_attempts: generous },
			report_stats: false,
			log_level: process.env.MYELIN_E2E_LOG_LEVEL || 'debug',
		},
		overrides,
	);
}

function readFrom(file, offset) {
	try {
		const fd = fs.openSync(file, 'r');
		try {
			const size = fs.fstatSync(fd).size;
			if (size <= offset) return '';
			const buf = Buffer.alloc(size - offset);
			fs.readSync(fd, buf, 0, buf.length, offset);
			return buf.toString('utf8');
		} finally {
			fs.closeSync(fd);
		}
	} catch {
		return '';
	}
}

function fileSize(file) {
	try {
		return fs.statSync(file).size;
	} catch {
		return 0;
	}
}

function tail(text, n = LOG_TAIL_LINES) {
	const lines = text.split('\n');
	if (lines.length <= n) return text;
	return `[... ${lines.length - n} earlier lines ...]\n` + lines.slice(-n).join('\n');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A running (or stopped) Myelin process with its directory, config and URLs. */
export class Server {
	constructor(opts = {}) {
		this.opts = opts;
		this.proc = null;
		this.exit = null; // { code, signal } once exited
	}

	/** Create the directory, write the config, start the server, wait until it answers. */
	async start() {
		if (!this.dir) {
			this.dir = await mkdtemp(path.join(os.tmpdir(), 'myelin-e2e-'));
			this.port = await freePort();
			this.adminPort = await freePort();
			this.config = makeConfig({
				dir: this.dir,
				port: this.port,
				adminPort: this.adminPort,
				serverName: this.opts.serverName,
				overrides: this.opts.config,
			});
			// More listeners (a TLS federation one) beside the default pair.
			if (this.opts.extraListeners) this.config.listeners.push(...this.opts.extraListeners);
			this.serverName = this.config.server_name;
			this.secret = this.config.registration_shared_secret;
			this.baseUrl = `http://127.0.0.1:${this.port}`;
			this.adminUrl = `http://127.0.0.1:${this.adminPort}`;
			this.configPath = path.join(this.dir, 'homeserver.yaml');
			this.logPath = path.join(this.dir, 'server.log');
			await writeFile(this.configPath, toYaml(this.config) + '\n');
		}
		if (!fs.existsSync(myelinBin)) {
			throw new Error(`server binary ${myelinBin} not found: build it (meson setup build && ninja -C build) or set MYELIN_BIN`);
		}
		const logFd = fs.openSync(this.logPath, 'a');
		fs.writeSync(logFd, `=== ${new Date().toISOString()} start: ${myelinBin} serve -c ${this.configPath}\n`);
		this.exit = null;
		const proc = spawn(myelinBin, ['serve', '-c', this.configPath], {
			cwd: this.dir,
			stdio: ['ignore', logFd, logFd],
		});
		fs.closeSync(logFd);
		this.proc = proc;
		this.exited = new Promise((resolve) => {
			proc.on('exit', (code, signal) => {
				this.exit = { code, signal };
				resolve(this.exit);
			});
			proc.on('error', (err) => {
				this.exit = { code: null, signal: null, error: err };
				resolve(this.exit);
			});
		});
		killOnExit.add(proc);
		await this.waitReady();
		return this;
	}

	/** Poll GET /_matrix/client/versions until it answers 200, the process dies, or time runs out. */
	async waitReady(timeoutMs = READY_TIMEOUT_MS) {
		const deadline = Date.now() + timeoutMs;
		let last = 'no answer';
		while (Date.now() < deadline) {
			if (this.exit) {
				const why = this.exit.error ? this.exit.error.message : `exit code ${this.exit.code}, signal ${this.exit.signal}`;
				throw new Error(`server exited before it was ready (${why})\n${this.logTail()}`);
			}
			try {
				const res = await fetch(`${this.baseUrl}/_matrix/client/versions`, { signal: AbortSignal.timeout(1000) });
				await res.arrayBuffer();
				if (res.status === 200) return;
				last = `HTTP ${res.status}`;
			} catch (e) {
				last = e.cause?.code || e.message;
			}
			await sleep(50);
		}
		throw new Error(`server not ready after ${timeoutMs} ms (last: ${last})\n${this.logTail()}`);
	}

	/**
	 * SIGTERM, wait for exit; returns { code, signal }. A server that does not
	 * exit within the timeout is killed and an error is thrown.
	 */
	async stop(timeoutMs = STOP_TIMEOUT_MS) {
		if (!this.proc) return this.exit;
		const proc = this.proc;
		this.proc = null;
		if (!this.exit) proc.kill('SIGTERM');
		let timer;
		const timeout = new Promise((resolve) => {
			timer = setTimeout(() => resolve(null), timeoutMs);
		});
		const res = await Promise.race([this.exited, timeout]);
		clearTimeout(timer);
		killOnExit.delete(proc);
		if (!res) {
			proc.kill('SIGKILL');
			await this.exited;
			throw new Error(`server did not exit within ${timeoutMs} ms of SIGTERM\n${this.logTail()}`);
		}
		return res;
	}

	/** Stop gracefully (asserting exit code 0) and start again on the same directory and ports. */
	async restart() {
		const res = await this.stop();
		assertCleanExit(res, this);
		await this.start();
	}

	logSize() {
		return fileSize(this.logPath);
	}

	log(fromOffset = 0) {
		return readFrom(this.logPath, fromOffset);
	}

	logTail(fromOffset = 0) {
		if (!this.logPath) return '';
		return `--- server log ${this.logPath} ---\n${tail(this.log(fromOffset))}\n--- end of server log ---`;
	}

	async cleanup() {
		if (this.dir && !process.env.MYELIN_E2E_KEEP) await rm(this.dir, { recursive: true, force: true });
	}
}

export function assertCleanExit(res, srv) {
	if (!res || res.code !== 0 || res.signal) {
		const what = res ? `exit code ${res.code}, signal ${res.signal}` : 'not started';
		throw new Error(`server did not shut down cleanly on SIGTERM (${what})\n${srv.logTail()}`);
	}
}

// Never leave a server behind when the test process ends early.
const killOnExit = new Set();
process.on('exit', () => {
	for (const p of killOnExit) p.kill('SIGKILL');
});

/**
 * Registers node:test hooks at the point of call (top level of a test file or
 * inside a describe) that start one server before the tests and stop it after
 * them, checking that SIGTERM gives a clean exit (code 0). Returns the Server,
 * whose fields (baseUrl, adminUrl, serverName, secret, dir...) are set once
 * the `before` hook has run.
 *
 * When a test fails, the server log written during it is printed to stderr
 * and the temporary directory is kept for inspection.
 *
 * Put the file's own setup in a `before` inside a describe(), not at the top
 * level: node:test runs top-level `before` hooks concurrently, so a top-level
 * one would not wait for the server.
 */
export function useServer(opts = {}) {
	const srv = new Server(opts);
	let failed = false;
	let mark = 0;

	before(async () => {
		try {
			await srv.start();
		} catch (e) {
			failed = true;
			if (srv.proc) await srv.stop().catch(() => {});
			throw e;
		}
	});

	beforeEach(() => {
		mark = srv.logSize();
	});

	afterEach((t) => {
		if (t.passed) return;
		failed = true;
		process.stderr.write(`\n# test "${t.name}" failed; server log during the test:\n${srv.logTail(mark)}\n`);
	});

	after(async () => {
		try {
			// A server that failed to start was already reported by `before`.
			if (srv.proc) assertCleanExit(await srv.stop(), srv);
		} catch (e) {
			failed = true;
			throw e;
		} finally {
			if (failed) process.stderr.write(`# kept ${srv.dir} for inspection\n`);
			else await srv.cleanup();
		}
	});

	return srv;
}
