/**
 * @module test/conformance/ftw/waf-log
 * The WAF's error log as the over-HTTP runner reads it: go-ftw's markers (waflog/read.go),
 * read by following the file instead of scanning it backwards for every stage, so that
 * several tests can run at once.
 *
 * go-ftw brackets each stage with marker requests (`X-CRS-Test: <id>-s`, then `<id>-e`)
 * that the marker rule logs, and takes the lines between the two marker lines as the
 * stage's. Here the file is read as it grows; each line is kept with the client port of its
 * `[client ADDRESS:PORT]` field, and a marker line (one naming the marker header, compared
 * in lower case as go-ftw does) is remembered by the index of its first line. A stage's
 * lines are those between its two markers that came from the stage's own connection: with
 * one test at a time that is every line between them (the markers' own lines aside), as
 * go-ftw reads it; with tests running at once the other tests' lines are left out.
 *
 * Bytes stay bytes: lines are latin1 strings, lowered in ASCII only.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const CHUNK = 256 * 1024;
const CLIENT_PORT = /\[client [^\]]*?:(\d+)\]/;

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

interface LogLine {
  readonly text: string;
  /** The client port the line names, 0 when it names none. */
  readonly port: number;
}

export class WafLogTail {
  readonly path: string;
  private readonly header: string;
  private readonly fd: number;
  private offset = 0;
  private carry = '';
  private readonly buffer = Buffer.allocUnsafe(CHUNK);
  /** The lines read and still kept; `lines[0]` is line number `base`. */
  private lines: LogLine[] = [];
  private base = 0;
  /** Marker ids (lowered) asked for and not seen yet. */
  private readonly wanted = new Set<string>();
  /** Marker ids (lowered) seen, with the index of their first line. */
  private readonly seen = new Map<string, number>();

  /** Opens the log (it must exist) and follows it from its current end. */
  constructor(path: string, markerHeader = 'X-CRS-Test') {
    this.path = path;
    this.header = asciiLower(markerHeader);
    this.fd = openSync(path, 'r');
    this.offset = fstatSync(this.fd).size;
  }

  /** Reads what was appended since the last read. */
  poll(): void {
    for (;;) {
      const n = readSync(this.fd, this.buffer, 0, CHUNK, this.offset);
      if (n === 0) return;
      this.offset += n;
      const text = this.carry + this.buffer.toString('latin1', 0, n);
      let from = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
        this.add(text.slice(from, nl));
        from = nl + 1;
      }
      this.carry = text.slice(from);
    }
  }

  private add(text: string): void {
    const port = Number(CLIENT_PORT.exec(text)?.[1] ?? 0);
    const index = this.base + this.lines.push({ text, port }) - 1;
    if (this.wanted.size === 0) return;
    const lower = asciiLower(text);
    if (!lower.includes(this.header)) return;
    for (const id of this.wanted) {
      if (lower.includes(id)) {
        this.wanted.delete(id);
        this.seen.set(id, index);
      }
    }
  }

  /** Says that the marker `id` is about to be sent (before sending it, so that its line is recognised). */
  expect(id: string): void {
    const lower = asciiLower(id);
    if (!this.seen.has(lower)) this.wanted.add(lower);
  }

  /** The index of the marker's first line, once it is in the log; null until then. */
  marker(id: string): number | null {
    this.poll();
    return this.seen.get(asciiLower(id)) ?? null;
  }

  /** Forgets a marker (once its stage is judged), so that the table stays small. */
  forget(id: string): void {
    const lower = asciiLower(id);
    this.wanted.delete(lower);
    this.seen.delete(lower);
  }

  /** The lines strictly between two line indexes that name the client port `port`, in log order. */
  linesBetween(start: number, end: number, port: number): string[] {
    const out: string[] = [];
    if (start + 1 < this.base) throw new Error(`log lines from ${start + 1} were dropped (kept from ${this.base})`);
    for (let i = start + 1; i < end; i++) {
      const line = this.lines[i - this.base] as LogLine;
      if (line.port === port) out.push(line.text);
    }
    return out;
  }

  /** The number of lines read so far (the index the next line will get). */
  get length(): number {
    return this.base + this.lines.length;
  }

  /**
   * Drops the lines read so far that no marker still remembered (not yet forgotten) can
   * need: those before the earliest such marker's line.
   */
  dropUnneeded(): void {
    let keep = this.length;
    for (const index of this.seen.values()) keep = Math.min(keep, index);
    const n = keep - this.base;
    if (n <= 0) return;
    this.lines = this.lines.slice(n);
    this.base += n;
  }

  close(): void {
    closeSync(this.fd);
  }
}
