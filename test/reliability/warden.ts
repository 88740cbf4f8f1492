/**
 * @module test/reliability/warden
 * `warden start` as the reliability campaigns run it: a real primary with cluster workers,
 * started through the real entry point with a warden.yaml written here, against an upstream
 * on loopback. What the campaigns read from it: its stdout and stderr lines, the pids of
 * the primary and its workers, their resident memory and open file descriptors from /proc,
 * the control socket (reload, bans), and its exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlRequest, controlSocketPath, type ControlRequest, type ControlResponse } from '../../src/jail/control.js';
import { sendControl } from '../../src/cli/start.js';

const entry = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));

export interface WardenProcess {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly dir: string;
  readonly dataDir: string;
  readonly config: string;
  readonly stdout: string[];
  readonly stderr: string[];
  /** The primary's pid. */
  readonly pid: number;
  /** Worker pids now (children of the primary). */
  workers(): number[];
  /** A jail command on the control socket (ban, unban, list, status). */
  control(req: ControlRequest): Promise<ControlResponse>;
  /** `warden reload` through the control socket. */
  reload(): Promise<{ ok: boolean; text: string }>;
  /** Sends a signal and waits for the exit (SIGTERM by default); the exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<string>;
  readonly exited: boolean;
}

/**
 * Starts `warden start --config <dir>/warden.yaml` (the yaml is written first) and waits
 * for its summary line. Rejects with its output when it exits or stays silent too long.
 */
export async function startWarden(dir: string, yaml: string, options: { workers?: number; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<WardenProcess> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'warden.yaml');
  writeFileSync(config, yaml);
  const args = ['--import', import.meta.resolve('tsx'), entry, 'start', '--config', config];
  if (options.workers !== undefined) args.push('--workers', String(options.workers));
  const proc = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  const stdout: string[] = [];
  const stderr: string[] = [];
  let exited = false;
  proc.once('exit', () => (exited = true));
  const lines = (into: string[]) => {
    let partial = '';
    return (d: string) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop() ?? '';
      into.push(...parts.filter((l) => l !== ''));
    };
  };
  proc.stderr?.setEncoding('utf8').on('data', lines(stderr));
  const onOut = lines(stdout);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`warden did not start in time:\n${stdout.join('\n')}\n${stderr.join('\n')}`)), options.timeoutMs ?? 180_000);
    let listening = 0;
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      const before = stdout.length;
      onOut(d);
      for (const line of stdout.slice(before)) {
        const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        if (m !== null && listening === 0) listening = Number(m[1]);
        if (/ rules.*; pid \d+$/.test(line)) {
          clearTimeout(timer);
          resolve(listening);
        }
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`warden exited (${code ?? signal}) while starting:\n${stdout.join('\n')}\n${stderr.join('\n')}`));
    });
  });
  const dataDir = readDataDir(yaml, dir);
  for (let i = 0; i < 100 && !existsSync(join(dataDir, 'warden.pid')); i++) await sleep(50);
  const pid = proc.pid as number;
  return {
    proc,
    port,
    dir,
    dataDir,
    config,
    stdout,
    stderr,
    pid,
    workers: () => childPids(pid),
    control: (req) => controlRequest(controlSocketPath(dataDir), req, 30_000),
    reload: async () => {
      const r = await sendControl(dataDir, 'reload');
      return r.ok ? { ok: true, text: String(r.result) } : { ok: false, text: r.error };
    },
    stop: (signal = 'SIGTERM') =>
      new Promise<string>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(String(proc.exitCode ?? proc.signalCode));
        proc.once('exit', (code, sig) => resolve(String(code ?? sig)));
        proc.kill(signal);
      }),
    get exited() {
      return exited;
    },
  };
}

function readDataDir(yaml: string, dir: string): string {
  const m = /^dataDir:\s*(\S+)\s*$/m.exec(yaml);
  const d = m?.[1] ?? 'data';
  return d.startsWith('/') ? d : join(dir, d);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Children of a process (Linux /proc). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

/** Resident memory of a process, bytes (0 when it is gone). */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Open file descriptors of a process (-1 when it is gone). */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** Whether a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What the upstream received, for "never reaches the upstream ambiguously". */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly bodyLength: number;
  readonly complete: boolean;
}

/** A real upstream on loopback (strict parser), recording what reached it. */
export interface RecordingUpstream {
  readonly server: Server;
  port: number;
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Requests from the proxy the upstream's own parser refused (ambiguous forwarding). */
  readonly parseErrors: string[];
  /** Requests that carried both Content-Length and Transfer-Encoding, or two Content-Lengths. */
  readonly ambiguous: string[];
  /** Answers `handler` when given, else 200 "ok". */
  handler: ((req: IncomingMessage, res: ServerResponse) => void) | null;
  /** Stops listening and drops its connections (the port stays reserved for `listen`). */
  close(): Promise<void>;
  /** Listens again on the same port. */
  listen(): Promise<void>;
}

export async function startRecordingUpstream(port = 0): Promise<RecordingUpstream> {
  const sockets = new Set<Socket>();
  const up: RecordingUpstream = {
    server: null as unknown as Server,
    port,
    get url() {
      return `http://127.0.0.1:${this.port}`;
    },
    seen: [],
    parseErrors: [],
    ambiguous: [],
    handler: null,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if (!up.server.listening) return resolve();
        up.server.close(() => resolve());
      }),
    listen: () => new Promise<void>((resolve, reject) => {
      up.server.once('error', reject);
      up.server.listen(up.port, '127.0.0.1', () => {
        up.server.removeListener('error', reject);
        up.port = (up.server.address() as AddressInfo).port;
        resolve();
      });
    }),
  };
  // A head limit above Warden's own (16 KiB by default, plus the forwarding headers Warden
  // adds): what this parser refuses is then the framing, not the size.
  const server = createServer({ insecureHTTPParser: false, requireHostHeader: false, keepAliveTimeout: 60_000, maxHeaderSize: 64 * 1024 }, (req, res) => {
    const names = req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    const cl = names.filter((n) => n === 'content-length').length;
    if ((cl > 0 && names.includes('transfer-encoding')) || cl > 1) up.ambiguous.push(`${req.method} ${req.url}: ${names.join(',')}`);
    let length = 0;
    req.on('data', (d: Buffer) => (length += d.length));
    req.on('end', () => {
      up.seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, bodyLength: length, complete: true });
      if (up.handler !== null) return up.handler(req, res);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
      res.end('ok');
    });
    req.on('error', () => up.seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, bodyLength: length, complete: false }));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => {
    // A connection reset by the proxy (a request it aborted) is not a parse error.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'HPE_INVALID_EOF_STATE') return void socket.destroy();
    up.parseErrors.push(`${err.code ?? err.message}: ${JSON.stringify(err.rawPacket?.toString('latin1').slice(0, 200) ?? '')}`);
    socket.destroy();
  });
  (up as { server: Server }).server = server;
  await up.listen();
  return up;
}
