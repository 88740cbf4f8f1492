/**
 * `warden jail …` against a running ban engine over its control socket, as a user runs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BanManager } from '../../src/jail/ban-manager.js';
import { controlRequest, controlSocketPath, startControlServer } from '../../src/jail/control.js';
import { jailSettings } from '../../src/jail/types.js';
import { createMemoryStore } from '../../src/store/index.js';

const entry = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));

function warden(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('warden jail: status, ban, list, unban over the control socket', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-ctl-'));
  const manager = new BanManager({ store: createMemoryStore() });
  manager.addJail(jailSettings('waf', { ignoreSelf: false }));
  const server = await startControlServer(controlSocketPath(dataDir), manager);
  try {
    assert.equal(statSync(controlSocketPath(dataDir)).mode & 0o777, 0o600);
    const dd = ['--data-dir', dataDir];
    let r = await warden(['jail', 'ban', '203.0.113.9', ...dd]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /banned 203\.0\.113\.9 in manual until never/);
    r = await warden(['jail', 'ban', 'waf', '2001:db8:1:2::9', '--time', '60', ...dd]);
    assert.match(r.stdout, /banned 2001:db8:1:2::\/64 in waf until 20/);
    r = await warden(['jail', 'status', ...dd]);
    assert.match(r.stdout, /^manual\s+0\s+0\s+1$/m);
    assert.match(r.stdout, /^waf\s+0\s+0\s+1$/m);
    r = await warden(['jail', 'list', ...dd]);
    assert.match(r.stdout, /manual\s+203\.0\.113\.9\s/);
    r = await warden(['jail', 'unban', '2001:db8:1:2::77', ...dd]);
    assert.match(r.stdout, /unbanned 1/);
    r = await warden(['jail', 'unban', '198.51.100.1', ...dd]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /198\.51\.100\.1 is not banned/);
    r = await warden(['jail', 'unban', '--all', ...dd]);
    assert.match(r.stdout, /unbanned 1/);
    r = await warden(['jail', 'ban', 'nope', '1.2.3.4', ...dd]);
    assert.match(r.stderr, /no jail named nope/);
  } finally {
    server.close();
  }
});

test('warden jail says clearly when no Warden runs; a stale socket is replaced; a second Warden is refused', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-ctl-'));
  const r = await warden(['jail', 'status', '--data-dir', dataDir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Warden is not running \(no control socket at /);
  const manager = new BanManager({ store: createMemoryStore() });
  const first = await startControlServer(controlSocketPath(dataDir), manager);
  await assert.rejects(startControlServer(controlSocketPath(dataDir), manager), /another Warden is running/);
  first.close();
  const again = await startControlServer(controlSocketPath(dataDir), manager);
  assert.equal((await controlRequest(controlSocketPath(dataDir), { cmd: 'list' })).ok, true);
  again.close();
});
