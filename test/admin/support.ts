/**
 * @module test/admin/support
 * `warden start` as a real process for the admin tests: started from a warden.yaml, with
 * the proxy's and the admin listener's addresses read from its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

const entry = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));

export interface RunningWarden {
  readonly proc: ChildProcess;
  /** The proxy's port. */
  readonly port: number;
  /** `http://127.0.0.1:PORT/` */
  readonly admin: string;
  readonly output: string[];
  stop(): Promise<void>;
}

/** A port free now (for the admin listener, whose address must be known before it starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startWarden(config: string, extra: string[] = []): Promise<RunningWarden> {
  const proc = spawn(process.execPath, ['--import', 'tsx', entry, 'start', '--config', config, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => output.push(d));
  const { port, admin } = await new Promise<{ port: number; admin: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`warden did not start:\n${output.join('')}`)), 90_000);
    let text = '';
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      output.push(d);
      text += d;
      const listening = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
      const adminLine = /admin on (https?:\/\/\S+\/)/.exec(text);
      if (listening !== null && adminLine !== null && / rules?.*; pid \d+/.test(text)) {
        clearTimeout(timer);
        resolve({ port: Number(listening[1]), admin: adminLine[1] as string });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`warden exited ${code}:\n${output.join('')}`));
    });
  });
  return {
    proc,
    port,
    admin,
    output,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json<T = unknown>(): T;
}

/** One request to the admin listener (or anywhere), the body read as text. */
export async function call(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const r = await request(url, { method: (options.method ?? 'GET') as 'GET', headers: options.headers, body: options.body });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, json: <T>() => JSON.parse(text) as T };
}

export const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns something other than undefined, or gives up after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(100);
  }
}
