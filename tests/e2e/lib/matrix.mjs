// SPDX-License-Identifier: Apache-2.0
//
// Client-side helpers for the end-to-end tests: matrix-js-sdk clients bound
// to a test server, the User-Interactive Authentication dance, error
// assertions, raw HTTP for what the SDK cannot express, canonical JSON.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { createClient, MatrixError, Method, ClientPrefix } from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';

export { Method, ClientPrefix, MatrixError };

// The SDK logs every request and warns about calls made before a sync loop
// runs; the test output needs none of it.
logger.setLevel(process.env.MYELIN_E2E_SDK_LOG || 'silent');

/** A matrix-js-sdk client for srv; with a session ({accessToken, userId, deviceId}) it is logged in. */
export function clientFor(srv, session = {}) {
	if (!srv.baseUrl) throw new Error('the server is not started yet: run setup in a before() inside describe(), after useServer()');
	return createClient({
		baseUrl: srv.baseUrl,
		accessToken: session.accessToken ?? session.access_token,
		userId: session.userId ?? session.user_id,
		deviceId: session.deviceId ?? session.device_id,
		...(session.clientOpts ?? {}),
	});
}

/**
 * Awaits p (a promise or a function returning one), expects it to reject with
 * a Matrix error of the given HTTP status and errcode (either may be an array
 * of accepted values; errcode undefined accepts any), and returns the error.
 */
export async function rejects(p, status, errcode) {
	let result;
	try {
		result = await (typeof p === 'function' ? p() : p);
	} catch (err) {
		if (err instanceof assert.AssertionError) throw err;
		const got = `${err.httpStatus ?? '?'} ${err.errcode ?? err.data?.errcode ?? ''} ${err.message ?? ''}`;
		const statuses = Array.isArray(status) ? status : [status];
		assert.ok(statuses.includes(err.httpStatus), `expected HTTP ${statuses.join(' or ')}, got ${got}`);
		if (errcode !== undefined) {
			const want = Array.isArray(errcode) ? errcode : [errcode];
			assert.ok(want.includes(err.errcode), `expected errcode ${want.join(' or ')}, got ${got}`);
		}
		return err;
	}
	assert.fail(`expected HTTP ${status} ${errcode ?? ''}, but the request succeeded: ${JSON.stringify(result)}`);
}

/**
 * Runs a User-Interactive-Authentication request (spec: Client-Server API,
 * "User-Interactive Authentication API"): first call(undefined) must answer
 * 401 with flows and a session; then call({...auth, session}) is returned.
 * `auth` may be a function of the first 401 body, to build the stage.
 */
export async function withUia(call, auth) {
	const first = await rejects(() => call(undefined), 401);
	const body = first.data;
	assert.ok(Array.isArray(body.flows) && body.flows.length > 0, `401 without flows: ${JSON.stringify(body)}`);
	const stage = typeof auth === 'function' ? auth(body) : auth;
	return call({ ...stage, session: body.session });
}

/** The auth dict for the m.login.password UIA stage. */
export function passwordAuth(userId, password) {
	return { type: 'm.login.password', identifier: { type: 'm.id.user', user: userId }, password };
}

/**
 * Registers through POST /register with the m.login.dummy stage, using the
 * SDK. Returns the /register response plus `client` (logged in unless
 * inhibit_login) and the password.
 */
export async function register(srv, username, password = `${username}-pw-${Date.now()}`, extra = {}) {
	const c = clientFor(srv);
	const res = await withUia((auth) => c.registerRequest({ username, password, ...extra, auth }), { type: 'm.login.dummy' });
	const out = { ...res, userId: res.user_id, deviceId: res.device_id, accessToken: res.access_token, password };
	if (res.access_token) out.client = clientFor(srv, out);
	return out;
}

/** Logs in with m.login.password and an m.id.user identifier; returns the response plus a client. */
export async function login(srv, user, password, extra = {}) {
	const res = await clientFor(srv).loginRequest({
		type: 'm.login.password',
		identifier: { type: 'm.id.user', user },
		password,
		...extra,
	});
	const out = { ...res, userId: res.user_id, deviceId: res.device_id, accessToken: res.access_token, password };
	out.client = clientFor(srv, out);
	return out;
}

/** POST /logout/all (the SDK has no wrapper for it). */
export function logoutAll(client) {
	return client.http.authedRequest(Method.Post, '/logout/all');
}

/**
 * Raw HTTP for cases the SDK cannot express. path is appended to srv.baseUrl
 * (or opts.base). opts: token, json (object, serialised), body (raw string or
 * Buffer), headers. Returns { status, headers, text, json }.
 */
export async function api(srv, method, path, opts = {}) {
	if (!srv.baseUrl) throw new Error('the server is not started yet: run setup in a before() inside describe(), after useServer()');
	const headers = { ...(opts.headers ?? {}) };
	if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
	let body = opts.body;
	if (opts.json !== undefined) body = JSON.stringify(opts.json);
	if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
		headers['Content-Type'] = 'application/json';
	}
	const res = await fetch((opts.base ?? srv.baseUrl) + path, { method, headers, body });
	const text = await res.text();
	let json;
	try {
		json = JSON.parse(text);
	} catch {
		json = undefined;
	}
	return { status: res.status, headers: res.headers, text, json };
}

/** Asserts a raw response is a Matrix error with the given status and errcode (or one of several). */
export function assertError(res, status, errcode, what = '') {
	const got = `${res.status} ${res.text.slice(0, 300)}${what ? ` (${what})` : ''}`;
	assert.equal(res.status, status, `expected HTTP ${status}, got ${got}`);
	assert.ok(res.json && typeof res.json === 'object', `error body is not JSON: ${got}`);
	assert.equal(typeof res.json.error, 'string', `error body lacks "error": ${got}`);
	const want = Array.isArray(errcode) ? errcode : [errcode];
	assert.ok(want.includes(res.json.errcode), `expected errcode ${want.join(' or ')}, got ${got}`);
	assert.match(res.headers.get('content-type') ?? '', /^application\/json/, 'error Content-Type');
}

/**
 * A request over a bare TCP socket, for bodies the server may answer before it
 * has read them (oversize uploads). The body is sent in 64 KiB pieces until
 * an answer starts to arrive; write errors after that (EPIPE, ECONNRESET) are
 * ignored and the answer is judged on what arrived. Returns { status, headers,
 * text, json }, or rejects if the server closed the connection without a word.
 */
export function rawRequest(srv, method, path, { headers = {}, body } = {}) {
	const url = new URL(path, srv.baseUrl);
	const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
	const head = [`${method} ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close'];
	for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
	if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) head.push(`Content-Length: ${payload.length}`);

	return new Promise((resolve, reject) => {
		const sock = net.connect(Number(url.port), url.hostname);
		const chunks = [];
		let answered = false;
		const timer = setTimeout(() => sock.destroy(), 10_000);
		sock.on('data', (c) => {
			answered = true;
			chunks.push(c);
		});
		sock.on('error', () => {}); // judged on what arrived, at 'close'
		sock.on('close', () => {
			clearTimeout(timer);
			const raw = Buffer.concat(chunks);
			if (raw.length === 0) {
				reject(new Error('no HTTP response: the server closed the connection without answering'));
				return;
			}
			try {
				resolve(parseHttpResponse(raw));
			} catch (e) {
				reject(e);
			}
		});
		sock.on('connect', async () => {
			sock.write(head.join('\r\n') + '\r\n\r\n');
			for (let off = 0; off < payload.length && !answered && !sock.destroyed; off += 65536) {
				if (!sock.write(payload.subarray(off, off + 65536))) {
					await Promise.race([once(sock, 'drain'), once(sock, 'close')]).catch(() => {});
				}
			}
		});
	});
}

/** Parses one HTTP/1.1 response (Content-Length, chunked, or until close). */
function parseHttpResponse(raw) {
	const end = raw.indexOf('\r\n\r\n');
	if (end < 0) throw new Error(`incomplete HTTP response: ${raw.toString('latin1').slice(0, 200)}`);
	const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
	const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
	if (!m) throw new Error(`not an HTTP response: ${lines[0]}`);
	const headers = new Headers();
	for (const line of lines.slice(1)) {
		const i = line.indexOf(':');
		if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
	}
	let rest = raw.subarray(end + 4);
	if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
		const parts = [];
		for (;;) {
			const nl = rest.indexOf('\r\n');
			const size = parseInt(rest.subarray(0, nl).toString('latin1'), 16);
			if (!(size > 0)) break;
			parts.push(rest.subarray(nl + 2, nl + 2 + size));
			rest = rest.subarray(nl + 2 + size + 2);
		}
		rest = Buffer.concat(parts);
	} else if (headers.has('content-length')) {
		rest = rest.subarray(0, Number(headers.get('content-length')));
	}
	const text = rest.toString('utf8');
	let json;
	try {
		json = JSON.parse(text);
	} catch {
		json = undefined;
	}
	return { status: Number(m[1]), headers, text, json };
}

/** Canonical JSON (spec: Appendices, "Canonical JSON"): sorted keys, no insignificant whitespace, UTF-8. */
export function canonicalJson(value) {
	if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
	if (value !== null && typeof value === 'object') {
		const keys = Object.keys(value).sort();
		return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
	}
	return JSON.stringify(value);
}

/** Unpadded standard base64 (spec: Appendices, "Unpadded Base64") to bytes. */
export function unpaddedBase64Decode(s) {
	assert.match(s, /^[A-Za-z0-9+/]*$/, `not unpadded base64: ${s}`);
	return Buffer.from(s, 'base64');
}

/** A unique localpart for this run, so names never clash across tests. */
let counter = 0;
export function uniqueName(prefix) {
	counter += 1;
	return `${prefix}${counter}_${process.pid}`;
}
