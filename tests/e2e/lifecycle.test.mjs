// SPDX-License-Identifier: Apache-2.0
//
// The server process: a restart keeps accounts, tokens, profiles and the
// signing key; a bad config is refused at start-up with a message naming the
// key. (Every test file also checks that SIGTERM gives a clean exit 0.)

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, makeConfig, myelinBin, toYaml, useServer } from './lib/server.mjs';
import { api, clientFor, login, register } from './lib/matrix.mjs';

const srv = useServer();

describe('server lifecycle', () => {
	// DESIGN: a request is answered only after its write is durable; the signing key
	// at signing_key_path is reused (Server-Server API, "Retrieving server keys").
	it('accounts, tokens, profiles and the signing key survive a restart', async () => {
		const alice = await register(srv, 'alice', 'alice-password');
		await alice.client.setDisplayName('Persistent Alice');
		const before = (await api(srv, 'GET', '/_matrix/key/v2/server')).json;

		await srv.restart();

		const c = clientFor(srv, alice);
		assert.equal((await c.whoami()).device_id, alice.device_id, 'the access token still works');
		assert.equal((await c.getProfileInfo(alice.user_id, 'displayname')).displayname, 'Persistent Alice');
		await login(srv, 'alice', 'alice-password');
		const after = (await api(srv, 'GET', '/_matrix/key/v2/server')).json;
		assert.deepEqual(after.verify_keys, before.verify_keys, 'the same signing key after a restart');
	});

	// DESIGN "Errors"/config: a config that does not parse is refused with a message
	// naming the offending key, and a non-zero exit.
	it('a bad config is refused at start-up', async () => {
		const dir = await mkdtemp(path.join(os.tmpdir(), 'myelin-e2e-badcfg-'));
		try {
			const cfg = makeConfig({ dir, port: await freePort(), adminPort: await freePort() });
			cfg.listeners[0].port = 'not-a-port';
			const cfgPath = path.join(dir, 'homeserver.yaml');
			await writeFile(cfgPath, toYaml(cfg) + '\n');
			const proc = spawn(myelinBin, ['serve', '-c', cfgPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
			let out = '';
			proc.stdout.on('data', (d) => (out += d));
			proc.stderr.on('data', (d) => (out += d));
			const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
			const [code, signal] = await new Promise((resolve) => proc.on('exit', (c, s) => resolve([c, s])));
			clearTimeout(timer);
			assert.equal(signal, null, `the server did not exit by itself on a bad config: ${out}`);
			assert.notEqual(code, 0, 'a bad config is a non-zero exit');
			assert.match(out, /port/, `the message names the key: ${out}`);
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	});
});
