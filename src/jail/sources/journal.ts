/**
 * @module jail/sources/journal
 * The systemd journal as a jail source, the way fail2ban's systemd backend reads it:
 * `journalctl --follow --output=json` with the filter's `journalmatch` (fields joined by
 * spaces, `+` for "or"), each entry's MESSAGE handed over with its real time. If journalctl
 * exits, it is started again (with backoff) from where it stopped (cursor), and said.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface JournalSourceOptions {
  /** journalmatch: `_SYSTEMD_UNIT=sshd.service + _COMM=sshd`. */
  readonly match?: string;
  /** The program (journalctl by default). */
  readonly command?: string;
  /** More arguments (`--file=…`, `--directory=…`, `--unit=…`). */
  readonly args?: readonly string[];
  readonly onError?: (error: Error) => void;
}

interface Entry {
  MESSAGE?: string | number[];
  __REALTIME_TIMESTAMP?: string;
  __CURSOR?: string;
}

/** A MESSAGE field: text, or (for bytes that are not UTF-8) an array of byte values. */
function messageText(m: string | number[] | undefined): string | null {
  if (typeof m === 'string') return m;
  if (Array.isArray(m)) return Buffer.from(m).toString('utf8');
  return null;
}

/**
 * @example
 * const src = new JournalSource((line, time) => jail.report(filter.match(line), time), { match: '_SYSTEMD_UNIT=ssh.service' });
 * src.start();
 */
export class JournalSource {
  private child: ChildProcess | null = null;
  private cursor: string | null = null;
  private stopped = false;
  private restarts = 0;

  constructor(
    private readonly onLine: (line: string, time: number) => void,
    private readonly options: JournalSourceOptions = {},
  ) {}

  start(): void {
    this.stopped = false;
    const args = ['--follow', '--output=json', ...(this.options.args ?? [])];
    args.push(this.cursor === null ? '--lines=0' : `--after-cursor=${this.cursor}`);
    if (this.options.match !== undefined && this.options.match.trim() !== '') args.push(...this.options.match.trim().split(/\s+/));
    const child = spawn(this.options.command ?? 'journalctl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => this.entry(line));
    child.on('error', (err) => this.options.onError?.(new Error(`journalctl: ${err.message}`)));
    child.on('exit', (code, signal) => {
      if (this.stopped) return;
      this.options.onError?.(new Error(`journalctl exited (${signal ?? code})${stderr ? `: ${stderr.trim()}` : ''}; restarting`));
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts++, 6));
      setTimeout(() => !this.stopped && this.start(), delay).unref();
    });
  }

  private entry(json: string): void {
    let e: Entry;
    try {
      e = JSON.parse(json) as Entry;
    } catch {
      return;
    }
    this.restarts = 0;
    if (e.__CURSOR !== undefined) this.cursor = e.__CURSOR;
    const text = messageText(e.MESSAGE);
    if (text === null) return;
    const us = Number(e.__REALTIME_TIMESTAMP);
    this.onLine(text, Number.isFinite(us) ? Math.floor(us / 1000) : Date.now());
  }

  stop(): void {
    this.stopped = true;
    this.child?.kill();
    this.child = null;
  }
}
