/**
 * @module test/support/squid
 * Debian's squid as a real reverse proxy on loopback (accel mode, no cache, adding
 * X-Forwarded-For), with its own temporary config, logs and pid file, in front of a port
 * that may not be listening yet (Warden restarting behind it). Squid must start as root (it
 * drops to the proxy user); `squidUnavailable` says why it cannot run here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const binary = spawnSync('sh', ['-c', 'command -v squid || ls /usr/sbin/squid'], { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? '';

/** Why squid cannot run here, or null when it can. */
export const squidUnavailable: string | null =
  binary === '' ? 'squid is not installed (apt-get install squid; .ci/run does)' : userInfo().uid !== 0 ? 'squid must be started as root (it drops to user proxy)' : null;

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitForPort(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`squid did not open port ${port}`);
}

export interface RunningSquid {
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * Starts squid on a free port, forwarding everything to `backendPort` on 127.0.0.1 from
 * 127.0.0.1 (the address Warden is told to trust), as the site `site`.
 */
export async function startSquid(backendPort: number, site = 'blog.example.org'): Promise<RunningSquid> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-squid-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'squid.conf'),
    [
      `http_port 127.0.0.1:${port} accel defaultsite=${site} no-vhost`,
      `cache_peer 127.0.0.1 parent ${backendPort} 0 no-query no-digest originserver name=warden`,
      'cache_peer_access warden allow all',
      'http_access allow all',
      'cache deny all',
      'forwarded_for on',
      'tcp_outgoing_address 127.0.0.1',
      // A restart of the backend must not leave squid holding connections to the old one.
      'server_persistent_connections off',
      `pid_filename ${dir}/squid.pid`,
      `cache_log ${dir}/cache.log`,
      `access_log stdio:${dir}/access.log`,
      `coredump_dir ${dir}`,
      'cache_effective_user proxy',
      'visible_hostname warden-story-squid',
      'shutdown_lifetime 0 seconds',
      '',
    ].join('\n'),
  );
  const uid = Number(spawnSync('id', ['-u', 'proxy'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'proxy'], { encoding: 'utf8' }).stdout.trim());
  chownSync(dir, uid, gid);
  const proc: ChildProcess = spawn(binary, ['-N', '-f', join(dir, 'squid.conf')], { stdio: 'ignore' });
  await waitForPort(port, Date.now() + 30_000);
  return {
    port,
    dir,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
