/**
 * @module test/support/warden-process
 * `warden start` as a real process (the primary and its workers), started from the sources
 * with tsx as a user would start the built command, and stopped by signal. Resolves once
 * the primary says it listens (and, when asked, once the admin listener is up and once the
 * control socket answers: `warden jail` and the tests' control requests need it; the
 * primary opens it before it says it listens, so this is a check more than a wait).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));

export interface RunningWarden {
  readonly proc: ChildProcess;
  /** The first listener's port. */
  readonly port: number;
  /** The admin listener's URL, when one was started. */
  readonly adminUrl: string | null;
  /** Everything the process wrote so far. */
  readonly output: string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * @example
 * const w = await startWarden(['start', '--config', 'warden.yaml', '--workers', '2'], { admin: true });
 */
export async function startWarden(
  args: readonly string[],
  options: { admin?: boolean; controlSocket?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunningWarden> {
  const proc = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd, env: options.env ?? process.env });
  const output: string[] = [];
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => output.push(d));
  const { port, adminUrl } = await new Promise<{ port: number; adminUrl: string | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`warden did not start:\n${output.join('')}`)), options.timeoutMs ?? 180_000);
    let port = 0;
    let ready = false;
    let text = '';
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      output.push(d);
      text += d;
      port ||= Number(/listening on https?:\/\/[^ ]*:(\d+) /.exec(text)?.[1] ?? 0);
      ready ||= / rules.*; pid \d+/.test(text);
      const admin = /admin on (\S+)/.exec(text)?.[1] ?? null;
      if (ready && (options.admin !== true || admin !== null)) {
        clearTimeout(timer);
        resolve({ port, adminUrl: admin });
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`warden exited ${code ?? signal}:\n${output.join('')}`));
    });
  });
  if (options.controlSocket !== undefined) await answers(options.controlSocket, Date.now() + (options.timeoutMs ?? 180_000), proc, output);
  return {
    proc,
    port,
    adminUrl,
    output,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill(signal);
      await exited;
    },
  };
}

/** Resolves once a connection to the Unix socket `path` succeeds. */
async function answers(path: string, deadline: number, proc: ChildProcess, output: readonly string[]): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(path);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`warden exited before its control socket answered:\n${output.join('')}`);
    if (Date.now() > deadline) throw new Error(`warden's control socket ${path} did not answer:\n${output.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
