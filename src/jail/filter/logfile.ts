/**
 * @module jail/filter/logfile
 * Log file bytes → lines of text, as fail2ban reads them: split at "\n" bytes, each line
 * decoded on its own, trailing "\r"/"\n" removed. fail2ban decodes with the jail's
 * `logencoding` (default: the locale's encoding, UTF-8 on any current system) and replaces
 * bytes that do not decode (U+FFFD) rather than dropping the line. Warden does the same:
 * UTF-8 by default, with replacement; `latin1` for logs in ISO-8859-1, where every byte is
 * one character and nothing can fail to decode. Filters match text (Python str), not
 * bytes: that is what fail2ban's regexes were written against.
 *
 * @example
 * for await (const line of logLines('/var/log/auth.log')) sshd.match(line);
 */
import { createReadStream, readFileSync } from 'node:fs';

/** Encodings a log may be read with. */
export type LogEncoding = 'utf-8' | 'latin1';

function decoder(encoding: LogEncoding): (bytes: Uint8Array) => string {
  if (encoding === 'latin1') return (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  const td = new TextDecoder('utf-8', { fatal: false });
  return (b) => td.decode(b);
}

/** One line's text: decoded, trailing CR/LF removed. */
function finish(text: string): string {
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === 10 || text.charCodeAt(end - 1) === 13)) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** The lines of a whole file (small files, tests, the CLI). */
export function readLogLines(path: string, encoding: LogEncoding = 'utf-8'): string[] {
  return splitLogBytes(readFileSync(path), encoding);
}

/** Splits log bytes into decoded lines (a final line without "\n" is kept). */
export function splitLogBytes(bytes: Uint8Array, encoding: LogEncoding = 'utf-8'): string[] {
  const decode = decoder(encoding);
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = bytes.indexOf(10, start);
    if (nl < 0) break;
    out.push(finish(decode(bytes.subarray(start, nl))));
    start = nl + 1;
  }
  if (start < bytes.length) out.push(finish(decode(bytes.subarray(start))));
  return out;
}

/** Options for {@link logLines}. */
export interface LogLinesOptions {
  readonly encoding?: LogEncoding;
  /**
   * What to do with a last line that has no "\n": 'read' it (default), or 'wait' — leave
   * it out, as fail2ban does with a line still being written (fail2ban-regex too), and
   * call `onPartial` with it.
   */
  readonly partialLastLine?: 'read' | 'wait';
  readonly onPartial?: (line: string) => void;
}

/** The lines of a file, streamed (large logs). */
export async function* logLines(path: string, options: LogLinesOptions = {}): AsyncGenerator<string> {
  const encoding = options.encoding ?? 'utf-8';
  const decode = decoder(encoding);
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path)) {
    const buf: Buffer = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) break;
      yield finish(decode(buf.subarray(start, nl)));
      start = nl + 1;
    }
    rest = buf.subarray(start);
  }
  if (rest.length > 0) {
    const last = finish(decode(rest));
    if (options.partialLastLine === 'wait') options.onPartial?.(last);
    else yield last;
  }
}
