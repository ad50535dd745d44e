// SPDX-License-Identifier: Apache-2.0
//
// Helpers for the room, sync and history tests: start the SDK's own sync
// loop and wait for what it reports (timeline events, memberships), raw
// /sync and /messages calls, and small utilities (timeouts, batches).

import assert from 'node:assert/strict';
import { ClientEvent, RoomEvent, RoomMemberEvent } from 'matrix-js-sdk';
import { logger as sdkLogger } from 'matrix-js-sdk/lib/logger.js';
import { api, clientFor, register } from './matrix.mjs';

export { ClientEvent, RoomEvent, RoomMemberEvent };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects after ms with a message naming what was awaited. */
export function withTimeout(p, ms, what) {
	let timer;
	const t = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
	});
	return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const noop = () => {};
/**
 * A logger for clients that run a sync loop: the SDK's own child loggers log
 * at debug level whatever the root level is. Silent unless MYELIN_E2E_SDK_LOG
 * asks for the SDK's log.
 */
export const quietLogger = process.env.MYELIN_E2E_SDK_LOG && process.env.MYELIN_E2E_SDK_LOG !== 'silent'
	? undefined
	: { trace: noop, debug: noop, info: noop, warn: noop, error: noop, getChild: () => quietLogger };

// Some parts of the SDK (MatrixRTCSession...) log through children of the
// root logger, which start at debug level: make every child silent too.
function silenceChildren(l) {
	if (l.myelinSilenced) return l;
	const getChild = l.getChild.bind(l);
	l.getChild = (prefix) => {
		const c = silenceChildren(getChild(prefix));
		c.setLevel('silent', false);
		return c;
	};
	l.myelinSilenced = true;
	return l;
}
if (quietLogger) silenceChildren(sdkLogger);

// The SDK arms a timer for every request's local timeout (timeoutSignal in
// http-api/utils.js: 110 s for a long-poll /sync) and never clears it; a
// browser does not care, but under Node those timers keep the test process
// alive long after the last test. No test waits that long for anything, so
// such long timers are unref'd: they still fire if the process is alive.
const setTimeoutOrig = globalThis.setTimeout;
globalThis.setTimeout = function setTimeoutUnrefLong(fn, ms, ...args) {
	const t = setTimeoutOrig(fn, ms, ...args);
	if (ms >= 60_000) t.unref?.();
	return t;
};

/**
 * Starts the SDK's sync loop (`startClient({ initialSyncLimit: 20 })`) and
 * waits for ClientEvent.Sync "PREPARED". (The SDK first fetches push rules
 * and a filter and retries them forever on failure, so a server that cannot
 * answer those shows up here as a timeout.)
 */
export async function startSyncing(client, opts = {}) {
	const prepared = new Promise((resolve, reject) => {
		const onSync = (state, _prev, data) => {
			if (state === 'PREPARED' || state === 'SYNCING') {
				client.off(ClientEvent.Sync, onSync);
				resolve();
			} else if (state === 'ERROR') {
				client.off(ClientEvent.Sync, onSync);
				reject(data?.error ?? new Error('sync error'));
			}
		};
		client.on(ClientEvent.Sync, onSync);
	});
	await client.startClient({ initialSyncLimit: 20, ...opts });
	await withTimeout(prepared, 15_000, `the first sync of ${client.getUserId()}`);
	return client;
}

/**
 * Registers `name`, makes its client (with quietLogger) and starts its sync
 * loop. Returns the register() result with that client.
 */
export async function syncingUser(srv, name, opts) {
	const u = await register(srv, name, `${name}-password`);
	u.client = clientFor(srv, { ...u, clientOpts: quietLogger ? { logger: quietLogger } : {} });
	await startSyncing(u.client, opts);
	return u;
}

/** Stops the sync loops of clients (ignoring ones never started). */
export function stopAll(...clients) {
	for (const c of clients) c?.stopClient();
}

/**
 * Waits until the SDK's Room object for roomId has, in its live timeline,
 * an event matching pred (checked at once, then on every RoomEvent.Timeline).
 * Resolves with the MatrixEvent.
 */
export function waitForTimelineEvent(client, roomId, pred, ms = 5000, what = 'a timeline event') {
	const find = () => client.getRoom(roomId)?.getLiveTimeline().getEvents().find(pred);
	const found = find();
	if (found) return Promise.resolve(found);
	let onTimeline;
	const p = new Promise((resolve) => {
		onTimeline = (ev, room) => {
			if (room?.roomId === roomId && pred(ev)) resolve(ev);
		};
		client.on(RoomEvent.Timeline, onTimeline);
	});
	return withTimeout(p, ms, `${what} in ${roomId} for ${client.getUserId()}`).finally(() =>
		client.off(RoomEvent.Timeline, onTimeline),
	);
}

/** Waits for an event of the given id to arrive in the client's live timeline of roomId. */
export function waitForEventId(client, roomId, eventId, ms = 5000) {
	return waitForTimelineEvent(client, roomId, (e) => e.getId() === eventId, ms, `event ${eventId}`);
}

/**
 * Waits until the SDK reports userId's membership in roomId as `membership`
 * (RoomMemberEvent.Membership), or already shows it.
 */
export function waitForMembership(client, roomId, userId, membership, ms = 5000) {
	const now = () => client.getRoom(roomId)?.getMember(userId)?.membership;
	if (now() === membership) return Promise.resolve();
	let on;
	const p = new Promise((resolve) => {
		on = (ev, member) => {
			if (member.roomId === roomId && member.userId === userId && member.membership === membership) resolve();
		};
		client.on(RoomMemberEvent.Membership, on);
	});
	return withTimeout(p, ms, `${userId} to be ${membership} in ${roomId} (seen by ${client.getUserId()})`).finally(() =>
		client.off(RoomMemberEvent.Membership, on),
	);
}

/** Waits until the client's own membership of roomId is `membership` (Room.getMyMembership()). */
export async function waitForMyMembership(client, roomId, membership, ms = 5000) {
	const deadline = Date.now() + ms;
	while (client.getRoom(roomId)?.getMyMembership() !== membership) {
		if (Date.now() > deadline) {
			throw new Error(`timed out: ${client.getUserId()} membership in ${roomId} is ${client.getRoom(roomId)?.getMyMembership()}, want ${membership}`);
		}
		await sleep(20);
	}
}

/** Polls fn() until it returns a truthy value (returned), or fails after ms. */
export async function eventually(fn, ms = 5000, what = 'a condition') {
	const deadline = Date.now() + ms;
	let last;
	for (;;) {
		try {
			const v = await fn();
			if (v) return v;
			last = v;
		} catch (e) {
			last = e;
		}
		if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last?.message ?? JSON.stringify(last)})`);
		await sleep(25);
	}
}

let txnCounter = 0;
/** A transaction id unique in this process. */
export function txnId(prefix = 'txn') {
	txnCounter += 1;
	return `${prefix}-${process.pid}-${Date.now()}-${txnCounter}`;
}

/** PUT /send with a fresh txn id through the SDK; returns the event id. */
export async function sendText(client, roomId, body) {
	const res = await client.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body }, txnId());
	return res.event_id;
}

/**
 * Sends bodies[] as m.room.message texts, `concurrency` at a time (each
 * group awaited before the next, so events of different groups are in
 * order). Returns the event ids in the order of bodies.
 */
export async function sendMany(client, roomId, bodies, concurrency = 50) {
	const ids = [];
	for (let i = 0; i < bodies.length; i += concurrency) {
		const group = bodies.slice(i, i + concurrency);
		ids.push(...(await Promise.all(group.map((b) => sendText(client, roomId, b)))));
	}
	return ids;
}

const enc = encodeURIComponent;

/** GET /sync raw, with query params (objects are JSON-encoded). Asserts 200 and returns the body. */
export async function rawSync(srv, user, params = {}) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) {
		if (v === undefined) continue;
		q.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
	}
	const res = await api(srv, 'GET', `/_matrix/client/v3/sync?${q}`, { token: user.accessToken ?? user.access_token });
	assert.equal(res.status, 200, `sync: ${res.status} ${res.text.slice(0, 500)}`);
	return res.json;
}

/** GET /rooms/{roomId}/messages raw; returns the response ({status, json, ...}). */
export function rawMessages(srv, user, roomId, params = {}) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) {
		if (v === undefined) continue;
		q.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
	}
	return api(srv, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?${q}`, { token: user.accessToken ?? user.access_token });
}

/** The bodies of the m.room.message events of a list of client events. */
export function bodies(events) {
	return events.filter((e) => (e.type ?? e.getType?.()) === 'm.room.message').map((e) => (e.content ?? e.getContent()).body);
}
