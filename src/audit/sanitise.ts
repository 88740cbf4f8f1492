/**
 * @module audit/sanitise
 * The sanitise actions of the rules that matched (sanitiseArg, sanitiseRequestHeader,
 * sanitiseResponseHeader, sanitiseMatched, sanitiseMatchedBytes), turned into masks for the
 * audit log as ModSecurity v2 applies them: a sanitised argument's value is replaced by as
 * many `*` as it has bytes, in the request line's query string and in the request body; a
 * sanitised header's value likewise. The engine records the actions on rules; which rules
 * matched, and on which variables, is read from the transaction.
 */
import type { Entry } from '../engine/collection.js';
import type { Rule } from '../engine/rule.js';
import type { Transaction } from '../engine/transaction.js';

/** What to mask in one transaction's audit record. */
export interface Sanitisation {
  /** Argument names to mask, lower-cased (v2 compares them case-insensitively). */
  readonly args: ReadonlySet<string>;
  /** Each sanitised argument as the request named it (part H `Sanitised-Args`). */
  readonly argNames: readonly string[];
  readonly requestHeaders: ReadonlySet<string>;
  readonly responseHeaders: ReadonlySet<string>;
  /** Header names as the actions gave them (part H). */
  readonly requestHeaderNames: readonly string[];
  readonly responseHeaderNames: readonly string[];
}

const PREFIXES: ReadonlyArray<readonly [string, 'args' | 'requestHeaders' | 'responseHeaders']> = [
  ['ARGS:', 'args'],
  ['ARGS_NAMES:', 'args'],
  ['REQUEST_HEADERS:', 'requestHeaders'],
  ['REQUEST_HEADERS_NAMES:', 'requestHeaders'],
  ['RESPONSE_HEADERS:', 'responseHeaders'],
  ['RESPONSE_HEADERS_NAMES:', 'responseHeaders'],
];

/**
 * The masks of a transaction, or null when no matched rule sanitises anything. `sent` is the
 * response head as sent (it spells the response header names).
 */
export function sanitisationOf(tx: Transaction, sent: ReadonlyArray<readonly [string, string]> = []): Sanitisation | null {
  const names = { args: new Map<string, string>(), requestHeaders: new Map<string, string>(), responseHeaders: new Map<string, string>() };
  const add = (kind: keyof typeof names, name: string): void => {
    if (name !== '' && !names[kind].has(name.toLowerCase())) names[kind].set(name.toLowerCase(), name);
  };
  const seen = new Set<Rule>();
  for (const starter of tx.matchedRules) {
    if (seen.has(starter)) continue;
    seen.add(starter);
    for (let rule: Rule | null = starter; rule !== null; rule = rule.chainNext) {
      const s = rule.sanitise;
      if (s === null) continue;
      for (const a of s.args) add('args', a);
      for (const h of s.requestHeaders) add('requestHeaders', h);
      for (const h of s.responseHeaders) add('responseHeaders', h);
      if (!s.matched && s.matchedBytes === null) continue;
      // sanitiseMatched(Bytes) names the variable that matched; the engine keeps it on the
      // match record (rules with `log` or `auditlog`). sanitiseMatchedBytes masks the whole
      // value here (v2 masks only the matched bytes): more is hidden, never less.
      for (const m of tx.matches) {
        if (m.file !== starter.location.file || m.line !== starter.location.line || m.ruleId !== starter.id) continue;
        for (const [prefix, kind] of PREFIXES) {
          if (m.variable.length > prefix.length && m.variable.startsWith(prefix)) add(kind, m.variable.slice(prefix.length));
        }
      }
    }
  }
  if (names.args.size === 0 && names.requestHeaders.size === 0 && names.responseHeaders.size === 0) return null;
  const args = new Set(names.args.keys());
  const argNames: string[] = [];
  for (const list of [tx.argsGet, tx.argsPost]) for (const e of list) if (args.has(e.key.toLowerCase())) argNames.push(e.key);
  return {
    args,
    argNames,
    requestHeaders: new Set(names.requestHeaders.keys()),
    responseHeaders: new Set(names.responseHeaders.keys()),
    // The actions keep names lower-cased; the request's own spelling reads better.
    requestHeaderNames: [...names.requestHeaders.entries()].map(([lower, given]) => tx.requestHeaders.find((h) => h.key.toLowerCase() === lower)?.key ?? given),
    responseHeaderNames: [...names.responseHeaders.entries()].map(([lower, given]) => sent.find(([k]) => k.toLowerCase() === lower)?.[0] ?? given),
  };
}

/** `application/x-www-form-urlencoded` name decoding (`+` is a space, `%XX` a byte). */
function decodeName(raw: string): string {
  const plus = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw;
  return plus.includes('%') ? plus.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))) : plus;
}

/**
 * Masks the values of the named arguments in urlencoded text (a query string or body): each
 * value's bytes as sent become `*`, the names and separators stay.
 */
export function maskUrlencoded(text: string, separator: string, args: ReadonlySet<string>): string {
  if (args.size === 0 || text === '') return text;
  const pieces = text.split(separator);
  let changed = false;
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as string;
    const eq = piece.indexOf('=');
    if (eq < 0) continue;
    if (!args.has(decodeName(piece.slice(0, eq)).toLowerCase())) continue;
    pieces[i] = piece.slice(0, eq + 1) + '*'.repeat(piece.length - eq - 1);
    changed = true;
  }
  return changed ? pieces.join(separator) : text;
}

/** The request line with sanitised query-string arguments masked (v2 sanitize_request_line). */
export function maskRequestLine(line: string, separator: string, args: ReadonlySet<string>): string {
  const q = line.indexOf('?');
  if (q < 0 || args.size === 0) return line;
  // The query runs to the space before the protocol (a request line without one ends at the end).
  const space = line.lastIndexOf(' ');
  const end = space > q ? space : line.length;
  return line.slice(0, q + 1) + maskUrlencoded(line.slice(q + 1, end), separator, args) + line.slice(end);
}

/**
 * Masks sanitised arguments in a request body. Urlencoded bodies are masked by position as
 * v2 does; other bodies (multipart, JSON, XML) by replacing every occurrence of each
 * sanitised value, which can hide a little more than the value itself but never less of it.
 */
export function maskBody(body: string, processor: string | null, separator: string, args: ReadonlySet<string>, argsPost: readonly Entry[]): string {
  if (args.size === 0 || body === '') return body;
  if (processor === 'URLENCODED') return maskUrlencoded(body, separator, args);
  let out = body;
  const values = argsPost.filter((e) => args.has(e.key.toLowerCase()) && e.value !== '').map((e) => e.value);
  // Longest first, so a value containing another is masked whole.
  values.sort((a, b) => b.length - a.length);
  for (const v of values) if (out.includes(v)) out = out.split(v).join('*'.repeat(v.length));
  return out;
}

/** A header list with the named headers' values masked. */
export function maskHeaders(
  headers: ReadonlyArray<readonly [string, string]>,
  names: ReadonlySet<string>,
): Array<readonly [string, string]> {
  if (names.size === 0) return headers.slice();
  return headers.map(([k, v]) => (names.has(k.toLowerCase()) ? [k, '*'.repeat(v.length)] : [k, v]));
}
