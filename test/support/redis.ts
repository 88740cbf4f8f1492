/**
 * @module test/support/redis
 * A real redis-server for the tests (Debian's package; `.ci/run` installs it): each call
 * starts its own on a free loopback port in a temporary directory, never the system
 * service, optionally with a password and TLS (certificates made with openssl here). It can
 * be killed and started again on the same port, with or without its data.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServerOptions {
  readonly password?: string;
  /** Serve TLS only (with a CA and server certificate made here); clients need `ca`. */
  readonly tls?: boolean;
  /** Append-only file, fsync'd on every write: a SIGKILL loses nothing (as a production Redis is set up). */
  readonly persistent?: boolean;
}

export interface RedisServer {
  readonly port: number;
  /** redis:// or rediss:// URL (without the password). */
  readonly url: string;
  readonly dir: string;
  /** PEM files when started with tls. */
  readonly ca: string | null;
  readonly clientCert: string | null;
  readonly clientKey: string | null;
  /** Kills the server (SIGKILL) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port (with its data when persistent). */
  restart(): Promise<void>;
  /** Stops the process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Lets it go on (SIGCONT). */
  resume(): void;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/** Whether Debian's redis-server is installed. */
export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** A reason to skip, or false; in CI a missing redis-server is a failure, never a skip. */
export function skipWithoutRedis(): string | false {
  if (haveRedis()) return false;
  if (process.env.CI === 'true') throw new Error('redis-server is not installed (.ci/run installs Debian\'s redis-server)');
  return 'redis-server is not installed (apt-get install redis-server)';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA. */
function makeCertificates(dir: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=warden-test-ca']);
  for (const name of ['server', 'client']) {
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? 'localhost' : 'warden-node'}`]);
    const ext = join(dir, `${name}.ext`);
    spawnSync('sh', ['-c', `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${ext}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', ext]);
  }
}

/**
 * Starts a redis-server.
 *
 * @example
 * const redis = await startRedis({ password: 'secret' });
 * const store = openRedisStore({ url: redis.url, password: 'secret' });
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-redis-'));
  const port = await freePort();
  if (options.tls === true) makeCertificates(dir);
  const args = ['--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--logfile', '', '--protected-mode', 'no'];
  if (options.tls === true) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', 'server.pem', '--tls-key-file', 'server.key', '--tls-ca-cert-file', 'ca.pem', '--tls-auth-clients', 'optional');
  } else args.push('--port', String(port));
  if (options.password !== undefined) args.push('--requirepass', options.password);
  args.push('--appendonly', options.persistent === true ? 'yes' : 'no');
  if (options.persistent === true) args.push('--appendfsync', 'always');

  let proc: ChildProcess | null = null;
  const launch = async (): Promise<void> => {
    const p = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    const out: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out.join('')}`)), 10_000);
      const onData = (d: Buffer): void => {
        out.push(d.toString());
        if (/Ready to accept connections/.test(out.join(''))) {
          clearTimeout(timer);
          resolve();
        }
      };
      p.stdout?.on('data', onData);
      p.stderr?.on('data', onData);
      p.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited ${code}:\n${out.join('')}`));
      });
    });
  };
  const kill = async (): Promise<void> => {
    const p = proc as ChildProcess | null;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGCONT');
    p.kill('SIGKILL');
    await gone;
    proc = null;
  };
  await launch();
  const scheme = options.tls === true ? 'rediss' : 'redis';
  return {
    port,
    url: `${scheme}://127.0.0.1:${port}/0`,
    dir,
    ca: options.tls === true ? join(dir, 'ca.pem') : null,
    clientCert: options.tls === true ? join(dir, 'client.pem') : null,
    clientKey: options.tls === true ? join(dir, 'client.key') : null,
    kill,
    restart: launch,
    pause: () => void (proc as ChildProcess | null)?.kill('SIGSTOP'),
    resume: () => void (proc as ChildProcess | null)?.kill('SIGCONT'),
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
