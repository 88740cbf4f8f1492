/**
 * @module config/yaml-reader
 * Reading values out of a YAML document with their line numbers, so every problem names
 * the file, the line and the path (`warden.yaml:12: upstreams[0].url must be …`). Hand
 * written rather than a schema library: zod/valibot/ajv validate plain objects and report
 * a path, and mapping that back to a YAML node still needs this walk; here the node is in
 * hand when the value is judged, and each message is phrased for the setting it is about.
 * Unknown keys are errors with the nearest known key suggested.
 */
import { isAbsolute, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';
import { ConfigError } from './errors.js';

/** The document being read and what has been found wrong so far. */
export interface ReadContext {
  readonly file: string;
  readonly doc: Document;
  readonly lineCounter: LineCounter;
  /** Relative paths in the file resolve against this directory. */
  readonly baseDir: string;
  readonly errors: ConfigError[];
  /** Line of every setting read (path → line), for checks that span sections. */
  readonly lines: Map<string, number>;
}

/** A setting as written: its value node (null when written empty) and its line. */
export interface Field {
  readonly node: Node | null;
  readonly line: number;
  readonly path: string;
}

/** 1-based line where a node starts, or `fallback`. */
export function lineOf(ctx: ReadContext, node: Node | null | undefined, fallback = 1): number {
  const start = node?.range?.[0];
  return start === undefined ? fallback : ctx.lineCounter.linePos(start).line;
}

export function report(ctx: ReadContext, line: number, path: string, reason: string): undefined {
  ctx.errors.push(new ConfigError(ctx.file, line, path, reason));
  return undefined;
}

function resolved(ctx: ReadContext, node: Node | null): Node | null {
  if (node !== null && isAlias(node)) return (node.resolve(ctx.doc) as Node | undefined) ?? null;
  return node;
}

/** True for an absent or `~`/`null`/empty value. */
export function isNull(field: Field | undefined): boolean {
  if (field === undefined || field.node === null) return true;
  return isScalar(field.node) && field.node.value === null;
}

/** Edit distance counting a swap of neighbours as one edit (the commonest typo: `ulr`). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const up = d[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The known name nearest to `name` (case-insensitive, at most a third of it changed, or a prefix of it), or null. */
export function suggest(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestScore = Number.POSITIVE_INFINITY;
  const n = name.toLowerCase();
  for (const k of known) {
    const lower = k.toLowerCase();
    // A cut-short name (`detect` for `detection`) counts as one edit.
    const d = n.length >= 3 && lower.startsWith(n) ? 1 : distance(n, lower);
    if (d < bestScore) {
      bestScore = d;
      best = k;
    }
  }
  return best !== null && bestScore <= Math.max(1, Math.floor(Math.max(name.length, 3) / 3)) ? best : null;
}

/**
 * The settings of a map, checked against `known`. Returns null (after reporting) when the
 * node is not a map; an absent or empty section gives an empty map.
 */
export function readMap(ctx: ReadContext, field: Field, known: readonly string[]): Map<string, Field> | null {
  const out = new Map<string, Field>();
  if (isNull(field)) return out;
  const node = resolved(ctx, field.node);
  if (!isMap(node)) {
    report(ctx, field.line, field.path, `must be a map of settings (${known.join(', ')})`);
    return null;
  }
  const prefix = field.path === '' ? '' : `${field.path}.`;
  for (const pair of node.items as Pair<Node | null, Node | null>[]) {
    const keyNode = pair.key;
    const keyLine = lineOf(ctx, keyNode, field.line);
    const key = isScalar(keyNode) ? keyNode.value : undefined;
    if (typeof key !== 'string') {
      report(ctx, keyLine, field.path, `has a key that is not a name (${String(key)})`);
      continue;
    }
    const path = `${prefix}${key}`;
    if (!known.includes(key)) {
      const near = suggest(key, known);
      report(ctx, keyLine, path, `is not a setting (${near === null ? `settings here: ${known.join(', ')}` : `did you mean ${prefix}${near}?`})`);
      continue;
    }
    const value = resolved(ctx, pair.value);
    const line = value === null || isScalar(value) && value.value === null ? keyLine : lineOf(ctx, value, keyLine);
    ctx.lines.set(path, line);
    out.set(key, { node: value, line, path });
  }
  return out;
}

/**
 * A map whose keys are names the user chooses (jails, actions, filter options): every key
 * must look like a name. Null (after reporting) when the node is not a map.
 */
export function readNamedMap(ctx: ReadContext, field: Field, what: string): Map<string, Field> | null {
  const out = new Map<string, Field>();
  if (isNull(field)) return out;
  const node = resolved(ctx, field.node);
  if (!isMap(node)) {
    report(ctx, field.line, field.path, `must be a map of ${what}`);
    return null;
  }
  const prefix = field.path === '' ? '' : `${field.path}.`;
  for (const pair of node.items as Pair<Node | null, Node | null>[]) {
    const keyLine = lineOf(ctx, pair.key, field.line);
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if ((typeof key !== 'string' && typeof key !== 'number') || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(String(key))) {
      report(ctx, keyLine, field.path, `has a key that is not a name (letters, digits, _ . -): ${String(key)}`);
      continue;
    }
    const path = `${prefix}${String(key)}`;
    const value = resolved(ctx, pair.value);
    const line = value === null || (isScalar(value) && value.value === null) ? keyLine : lineOf(ctx, value, keyLine);
    ctx.lines.set(path, line);
    out.set(String(key), { node: value, line, path });
  }
  return out;
}

/** A number (integer or not) within bounds. */
export function readNumber(ctx: ReadContext, field: Field, min: number, max: number, what: string): number | undefined {
  const v = scalarValue(field);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) return report(ctx, field.line, field.path, `must be ${what}`);
  return v;
}

/** The items of a list (a single scalar counts as a list of one). Null after reporting. */
export function readList(ctx: ReadContext, field: Field, what: string): Field[] | null {
  if (isNull(field)) return [];
  const node = field.node as Node;
  if (isScalar(node)) return [{ node, line: field.line, path: `${field.path}[0]` }];
  if (!isSeq(node)) {
    report(ctx, field.line, field.path, `must be a list of ${what}`);
    return null;
  }
  return node.items.map((item, i) => {
    const value = resolved(ctx, item as Node | null);
    const path = `${field.path}[${i}]`;
    const line = lineOf(ctx, value, field.line);
    ctx.lines.set(path, line);
    return { node: value, line, path };
  });
}

function scalarValue(field: Field): unknown {
  return field.node !== null && isScalar(field.node) ? field.node.value : undefined;
}

/** A non-empty string (numbers are refused: a value like a token should be quoted). */
export function readString(ctx: ReadContext, field: Field, what = 'a string'): string | undefined {
  const v = scalarValue(field);
  if (typeof v !== 'string' || v === '') return report(ctx, field.line, field.path, `must be ${what}`);
  return v;
}

export function readBoolean(ctx: ReadContext, field: Field): boolean | undefined {
  const v = scalarValue(field);
  if (typeof v !== 'boolean') return report(ctx, field.line, field.path, 'must be true or false');
  return v;
}

export function readInteger(ctx: ReadContext, field: Field, min: number, max: number, what?: string): number | undefined {
  const v = scalarValue(field);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    return report(ctx, field.line, field.path, `must be ${what ?? `a whole number from ${min} to ${max}`}`);
  }
  return v;
}

export function readOneOf<T extends string>(ctx: ReadContext, field: Field, values: readonly T[]): T | undefined {
  const v = scalarValue(field);
  const hit = typeof v === 'string' ? values.find((x) => x === v.toLowerCase()) : undefined;
  if (hit === undefined) {
    const near = typeof v === 'string' ? suggest(v, values) : null;
    return report(ctx, field.line, field.path, `must be one of ${values.join(', ')}${near !== null ? ` (did you mean ${near}?)` : ''}`);
  }
  return hit;
}

/** A path, made absolute against the config file's directory. */
export function readPath(ctx: ReadContext, field: Field, what = 'a file path'): string | undefined {
  const v = readString(ctx, field, what);
  return v === undefined ? undefined : absolutePath(ctx.baseDir, v);
}

/** `p` against `baseDir` unless already absolute; `-` (standard stream) is kept. */
export function absolutePath(baseDir: string, p: string): string {
  return p === '-' || isAbsolute(p) ? p : resolve(baseDir, p);
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds from `30s`, `500ms`, `5m`, `1h` or a plain number of milliseconds; null if not one. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(v);
  if (m === null) return null;
  return Math.round(Number(m[1]) * (DURATION_UNITS[m[2] as string] as number));
}

export function readDuration(ctx: ReadContext, field: Field): number | undefined {
  const ms = parseDuration(scalarValue(field));
  if (ms === null) return report(ctx, field.line, field.path, 'must be a duration: milliseconds, or a number with ms, s, m, h, d or w (30s, 500ms, 1d)');
  return ms;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1, b: 1,
  k: 1024, kib: 1024, kb: 1000,
  m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2,
  g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3,
};

/** Bytes from `100MiB`, `100M` (binary), `100MB` (decimal) or a plain number; null if not one. */
export function parseSize(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v);
  const unit = m === null ? undefined : SIZE_UNITS[(m[2] as string).toLowerCase()];
  if (m === null || unit === undefined) return null;
  return Math.round(Number(m[1]) * unit);
}

export function readSize(ctx: ReadContext, field: Field): number | undefined {
  const n = parseSize(scalarValue(field));
  if (n === null) return report(ctx, field.line, field.path, 'must be a size in bytes, or a number with K, M, G (binary) or KB, MB, GB (100MiB)');
  return n;
}
