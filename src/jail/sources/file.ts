/**
 * @module jail/sources/file
 * Follows log files as fail2ban does: from their end (or beginning), through rotation (the
 * path now names a new file: the old one is read to its end first), copytruncate (the file
 * shrank: read again from the start) and files that appear later (globs are expanded again).
 * Lines are handed over whole; a partial last line waits for its end. It polls (inotify
 * misses events on some filesystems and on rotation races); the interval bounds the delay.
 */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

export interface FileSourceOptions {
  /** Read existing content first (fail2ban's `backend` reads from the end by default). */
  readonly fromStart?: boolean;
  /** Milliseconds between checks. */
  readonly pollMs?: number;
  /** How bytes become text: 'utf8' (default) or 'latin1'. */
  readonly encoding?: BufferEncoding;
  /** Longest line kept; longer ones are cut (a hostile log line must not grow memory). */
  readonly maxLineLength?: number;
  /** Told of read errors (permissions, a vanished directory); the source keeps trying. */
  readonly onError?: (file: string, error: Error) => void;
}

interface Followed {
  path: string;
  handle: FileHandle | null;
  ino: number;
  position: number;
  partial: string;
  /** Keeps a UTF-8 sequence split across two reads whole. */
  decoder: StringDecoder;
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
}

/** Paths matching a pattern whose last segment may hold `*` or `?`. */
async function expand(pattern: string): Promise<string[]> {
  const name = basename(pattern);
  if (!/[*?]/.test(name)) return [pattern];
  const dir = dirname(pattern);
  const re = globToRegExp(name);
  try {
    return (await readdir(dir)).filter((f) => re.test(f)).sort().map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/**
 * @example
 * const src = new FileSource(['/var/log/squid/access.log'], (line, file) => filter.match(line));
 * await src.start();
 */
export class FileSource {
  private readonly files = new Map<string, Followed>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private readonly pollMs: number;
  private readonly encoding: BufferEncoding;
  private readonly maxLine: number;
  private readonly buffer = Buffer.allocUnsafe(64 * 1024);

  constructor(
    private readonly patterns: readonly string[],
    private readonly onLine: (line: string, file: string) => void,
    private readonly options: FileSourceOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.encoding = options.encoding ?? 'utf8';
    this.maxLine = options.maxLineLength ?? 64 * 1024;
  }

  /** Opens the files (at their end unless fromStart) and starts following them. */
  async start(): Promise<void> {
    await this.discover(this.options.fromStart === true);
    if (this.options.fromStart === true) await this.poll();
    this.timer = setInterval(() => void this.tick(), this.pollMs);
    this.timer.unref();
  }

  /** Checks every file once (tests call this instead of waiting for the timer). */
  async poll(): Promise<void> {
    await this.discover(true);
    for (const f of this.files.values()) await this.follow(f);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
    for (const f of this.files.values()) await f.handle?.close();
    this.files.clear();
  }

  private async tick(): Promise<void> {
    if (this.polling !== null) return;
    this.polling = this.poll().finally(() => void (this.polling = null));
    await this.polling;
  }

  /** Adds files that match now; a file found after start is read from its beginning. */
  private async discover(fromStart: boolean): Promise<void> {
    for (const pattern of this.patterns) {
      for (const path of await expand(pattern)) {
        if (this.files.has(path)) continue;
        const f: Followed = { path, handle: null, ino: 0, position: 0, partial: '', decoder: new StringDecoder(this.encoding) };
        try {
          const st = await stat(path);
          f.handle = await open(path, 'r');
          f.ino = st.ino;
          f.position = fromStart ? 0 : st.size;
        } catch (err) {
          // Not there yet: it is tried again at the next poll.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.options.onError?.(path, err as Error);
          continue;
        }
        this.files.set(path, f);
      }
    }
  }

  private async follow(f: Followed): Promise<void> {
    let st;
    try {
      st = await stat(f.path);
    } catch {
      st = null; // Rotated away and not recreated yet: finish the old file below.
    }
    if (f.handle !== null && (st === null || st.ino !== f.ino)) {
      // Rotation: what was written to the old file before the move is still ours.
      await this.drain(f);
      await f.handle.close();
      f.handle = null;
      this.flushPartial(f);
      if (st === null) return;
      try {
        f.handle = await open(f.path, 'r');
        f.ino = st.ino;
        f.position = 0;
        f.decoder = new StringDecoder(this.encoding);
      } catch (err) {
        this.options.onError?.(f.path, err as Error);
        return;
      }
    } else if (f.handle === null && st !== null) {
      try {
        f.handle = await open(f.path, 'r');
        f.ino = st.ino;
        f.position = 0;
      } catch (err) {
        this.options.onError?.(f.path, err as Error);
        return;
      }
    }
    if (st !== null && st.size < f.position) {
      // copytruncate: the file was emptied in place.
      f.position = 0;
      f.partial = '';
      f.decoder = new StringDecoder(this.encoding);
    }
    await this.drain(f);
  }

  private async drain(f: Followed): Promise<void> {
    if (f.handle === null) return;
    for (;;) {
      let n: number;
      try {
        ({ bytesRead: n } = await f.handle.read(this.buffer, 0, this.buffer.length, f.position));
      } catch (err) {
        this.options.onError?.(f.path, err as Error);
        return;
      }
      if (n === 0) return;
      f.position += n;
      this.lines(f, f.decoder.write(this.buffer.subarray(0, n)));
    }
  }

  private lines(f: Followed, text: string): void {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      let line = f.partial + text.slice(start, nl);
      f.partial = '';
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.onLine(line.length > this.maxLine ? line.slice(0, this.maxLine) : line, f.path);
      start = nl + 1;
    }
    f.partial += text.slice(start);
    if (f.partial.length > this.maxLine) f.partial = f.partial.slice(0, this.maxLine);
  }

  /** A file that ended without a newline (rotated away): its last line counts too. */
  private flushPartial(f: Followed): void {
    if (f.partial !== '') this.onLine(f.partial, f.path);
    f.partial = '';
  }
}
