/**
 * @module jail/control
 * Talking to a running Warden about its jails, like fail2ban-client: a Unix socket in the
 * data directory (only its owner may connect: mode 0600), one JSON request per line and one
 * JSON answer per line. `warden jail …` is the client.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { BanManager } from './ban-manager.js';
import type { BanRecord } from './types.js';

export type ControlRequest =
  | { readonly cmd: 'status'; readonly jail?: string }
  | { readonly cmd: 'list' }
  /** The store's health (a Redis store's connection and what waits to be written). */
  | { readonly cmd: 'store' }
  | { readonly cmd: 'ban'; readonly jail?: string; readonly address: string; readonly seconds?: number; readonly reason?: string }
  | { readonly cmd: 'unban'; readonly jail?: string; readonly address?: string; readonly all?: boolean };

export type ControlResponse =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: string };

/** The socket's path in a data directory. */
export function controlSocketPath(dataDir: string): string {
  return join(dataDir, 'warden.sock');
}

function banView(b: BanRecord): Record<string, unknown> {
  return { jail: b.jail, address: b.key, since: new Date(b.since).toISOString(), until: b.until === 0 ? null : new Date(b.until).toISOString(), count: b.count, reason: b.reason };
}

/** Answers one request against the ban manager. */
export async function handleControl(manager: BanManager, req: ControlRequest): Promise<ControlResponse> {
  try {
    switch (req.cmd) {
      case 'status': {
        const all = manager.status().map((s) => ({ jail: s.name, failures: s.failures, watched: s.watched, banned: s.banned }));
        if (req.jail === undefined) return { ok: true, result: all };
        const one = all.find((s) => s.jail === req.jail);
        return one === undefined ? { ok: false, error: `no jail named ${req.jail}` } : { ok: true, result: one };
      }
      case 'list':
        return { ok: true, result: manager.activeBans().map(banView) };
      case 'store':
        return { ok: true, result: manager.storeHealth() };
      case 'ban': {
        const options: { jail?: string; duration?: number; reason?: string } = {};
        if (req.jail !== undefined) options.jail = req.jail;
        if (req.seconds !== undefined) options.duration = req.seconds < 0 ? -1 : req.seconds * 1000;
        options.reason = req.reason ?? 'banned by hand (warden jail ban)';
        return { ok: true, result: banView(await manager.ban(req.address, options)) };
      }
      case 'unban': {
        if (req.all === true) return { ok: true, result: { unbanned: await manager.unbanAll(req.jail) } };
        if (req.address === undefined) return { ok: false, error: 'unban needs an address or --all' };
        const jails = req.jail !== undefined ? [req.jail] : manager.jailNames();
        let n = 0;
        for (const j of jails) if (await manager.unban(j, req.address)) n++;
        return n > 0 ? { ok: true, result: { unbanned: n } } : { ok: false, error: `${req.address} is not banned${req.jail ? ` in ${req.jail}` : ''}` };
      }
      default:
        return { ok: false, error: `unknown command ${(req as { cmd: string }).cmd}` };
    }
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/**
 * Listens on the control socket (replacing a stale one left by a crash).
 *
 * @example
 * const server = await startControlServer(controlSocketPath('/var/lib/warden'), manager);
 */
export async function startControlServer(path: string, manager: BanManager): Promise<Server> {
  if (existsSync(path)) {
    // A live Warden answers; a stale socket file from a crash does not.
    if (await socketAnswers(path)) throw new Error(`another Warden is running with this data directory (${path})`);
    unlinkSync(path);
  }
  return serveControl(path, (req) => handleControl(manager, req as ControlRequest));
}

/** Whether something accepts connections on a Unix socket path. */
export function socketAnswers(path: string): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Any request on the socket: `cmd` names it (the jails' commands, and reload, reopen, stop of warden start). */
export interface AnyControlRequest {
  readonly cmd: string;
  readonly [key: string]: unknown;
}

/**
 * The control socket's protocol, whoever answers: one JSON request per line in, one JSON
 * answer per line out, at most 64 KiB waiting; the socket file is made 0600 (owner only).
 */
export async function serveControl(path: string, answer: (req: AnyControlRequest) => Promise<ControlResponse>): Promise<Server> {
  const server = createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > 64 * 1024) return void socket.destroy();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let req: AnyControlRequest;
        try {
          req = JSON.parse(line) as AnyControlRequest;
        } catch {
          socket.write(`${JSON.stringify({ ok: false, error: 'not JSON' })}\n`);
          continue;
        }
        void answer(req).then((res) => socket.write(`${JSON.stringify(res)}\n`));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}

/** Sends one request to a running Warden. */
export function controlRequest(path: string, req: ControlRequest | AnyControlRequest, timeoutMs = 10_000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from Warden on ${path}`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buffered.slice(0, nl)) as ControlResponse);
      } catch (err) {
        reject(err as Error);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? `Warden is not running (no control socket at ${path})` : err.message));
    });
  });
}
