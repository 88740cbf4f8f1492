/**
 * @module jail/filter/reader
 * A fail2ban filter file → its definition (prefregex, failregex lines, ignoreregex lines,
 * datepattern, maxlines, journalmatch, usedns), resolved the way fail2ban's FilterReader
 * does: options of `[Definition]` read with the jail's options as variables, `[Init]`
 * options (and the jail's) overriding them, then `<tag>` substitution repeated until
 * nothing changes (`<mode>`, `<lt_<logtype>/__prefix_line>`, `<known/name>` …).
 */
import { FilterError, type SourceLocation } from './errors.js';
import { ConfigReader, configFiles, type IniCache } from './ini.js';
import { LocatedText } from './located.js';

/** A resolved filter definition; regexes are still fail2ban regex text (with tags). */
export interface FilterDefinition {
  /** The filter's name (file name without .conf). */
  readonly name: string;
  /** Files read, in order. */
  readonly files: readonly string[];
  readonly prefregex: LocatedText | undefined;
  readonly failregex: readonly LocatedText[];
  readonly ignoreregex: readonly LocatedText[];
  /** The datepattern lines (a value may hold several templates, one per line). */
  readonly datepattern: LocatedText | undefined;
  readonly maxlines: number | undefined;
  /** `usedns` from the filter (yes, warn, no, raw), when it sets one. */
  readonly usedns: string | undefined;
  /** journalmatch lines, each split as a shell would (kept as data). */
  readonly journalmatch: readonly (readonly string[])[];
  /** Every option after substitution (Definition options read, plus Init and jail ones). */
  readonly options: ReadonlyMap<string, string>;
}

const CONFIG_OPTIONS = ['usedns', 'prefregex', 'ignoreregex', 'failregex', 'maxlines', 'datepattern', 'journalmatch'] as const;
const TAG = /<([^ <>]+)>/gu;
const CONDITIONAL = /^(\w+)(\?.+)$/u;
const MAX_TAG_REPLACE_COUNT = 25;
/** The longest value tag replacement may build; fail2ban's stock filters stay under 10 KB. */
const MAX_TAG_VALUE_LENGTH = 1 << 18;

/**
 * Reads filter `name` from `dir` (name.conf, name.d/*.conf, name.local, name.d/*.local
 * and their includes) with the jail's options `jailOptions` (e.g. `{ mode: 'aggressive' }`).
 * @throws FilterError
 */
export function readFilterDefinition(dir: string, name: string, jailOptions: Readonly<Record<string, string>> = {}, cache?: IniCache): FilterDefinition {
  const files = configFiles(dir, name);
  if (files.length === 0) throw new FilterError('WARDEN_FILTER_NOT_FOUND', `no filter '${name}' in ${dir} (looked for ${name}.conf and ${name}.local)`);
  const cfg = new ConfigReader(cache);
  cfg.read(files);
  if (cfg.files.length === 0) throw new FilterError('WARDEN_FILTER_NOT_FOUND', `filter '${name}' could not be read from ${dir}`);

  // The jail's options are variables for %(name)s and take precedence (fail2ban's pOpts).
  const initOpts = new Map<string, LocatedText | null>(Object.entries(jailOptions).map(([k, v]) => [k, LocatedText.plain(v)]));
  const pOpts = new Map<string, LocatedText>([...initOpts].map(([k, v]) => [k, v as LocatedText]));
  const opts = new Map<string, LocatedText | null>();
  for (const opt of CONFIG_OPTIONS) {
    if (pOpts.has(opt)) continue;
    const v = cfg.hasSection('Definition') ? cfg.get('Definition', opt, false, pOpts) : undefined;
    if (v !== undefined) opts.set(opt, v);
  }
  if (cfg.hasSection('Init')) {
    for (const opt of cfg.options('Init', false)) {
      let v: LocatedText | undefined;
      if (!opt.startsWith('known/')) {
        v = cfg.get('Init', opt);
        initOpts.set(`known/${opt}`, v ?? null);
      }
      if (!initOpts.has(opt)) {
        const cond = CONDITIONAL.exec(opt);
        if (cond !== null) v = pOpts.get(cond[1] as string) ?? v;
        v ??= cfg.get('Init', opt);
        initOpts.set(opt, v ?? null);
      }
    }
  }
  const combined = new Map<string, LocatedText | null>([...opts, ...initOpts]);
  const ignore = new Set<string>();
  for (const k of combined.keys()) {
    const cond = CONDITIONAL.exec(k);
    if (cond !== null) ignore.add(cond[1] as string);
  }
  const cache2 = new Map<string, LocatedText | undefined>();
  const combOption = (tag: string): LocatedText | undefined => {
    if (!cache2.has(tag)) cache2.set(tag, cfg.getEx('Definition', tag, pOpts));
    return cache2.get(tag);
  };
  const resolved = substituteTags(combined, ignore, combOption);

  const text = (k: string): LocatedText | undefined => resolved.get(k) ?? undefined;
  const lines = (k: string): LocatedText[] =>
    (text(k)?.splitLines() ?? []).filter((l) => l.text !== '');
  let maxlines: number | undefined;
  const ml = text('maxlines');
  if (ml !== undefined) {
    if (!/^\s*[+-]?\d+\s*$/u.test(ml.text)) throw new FilterError('WARDEN_FILTER_OPTION', `maxlines must be a number, not ${JSON.stringify(ml.text)}`, ml.locationAt(0));
    maxlines = Number(ml.text.trim());
  }
  const usedns = text('usedns');
  const options = new Map<string, string>();
  for (const [k, v] of resolved) if (v !== null) options.set(k, v.text);
  return {
    name,
    files: cfg.files,
    prefregex: text('prefregex')?.text === '' ? undefined : text('prefregex'),
    failregex: lines('failregex'),
    ignoreregex: lines('ignoreregex'),
    datepattern: text('datepattern'),
    maxlines,
    usedns: usedns?.text,
    journalmatch: lines('journalmatch').map((l) => shlexSplit(l.text, l.locationAt(0))),
    options,
  };
}

/**
 * fail2ban's substituteRecursiveTags: replaces `<tag>` in every value by the value of
 * option `tag` (an entry of `tags`, else `lookup(tag)`), again and again until nothing
 * changes; tags with no value (`<HOST>`, `<F-USER>`) stay for the regex compiler.
 */
export function substituteTags(
  input: ReadonlyMap<string, LocatedText | null>,
  ignore: ReadonlySet<string>,
  lookup: (tag: string) => LocatedText | undefined,
): Map<string, LocatedText | null> {
  const tags = new Map(input);
  const done = new Set<string>();
  const repCounts = new Map<string, Map<string, number>>();
  for (;;) {
    let again = false;
    for (const tag of [...tags.keys()]) {
      if (ignore.has(tag) || done.has(tag)) continue;
      const org = tags.get(tag);
      if (org === null || org === undefined) {
        done.add(tag);
        continue;
      }
      let value = org;
      const counts = repCounts.get(tag) ?? new Map<string, number>();
      TAG.lastIndex = 0;
      let m = TAG.exec(value.text);
      while (m !== null) {
        const rtag = m[1] as string;
        const next = m.index + m[0].length;
        if (ignore.has(rtag)) {
          TAG.lastIndex = next;
          m = TAG.exec(value.text);
          continue;
        }
        if (rtag === tag || (counts.get(rtag) ?? 1) > MAX_TAG_REPLACE_COUNT) {
          throw new FilterError(
            'WARDEN_FILTER_INTERPOLATION',
            `'${tag}' refers to itself through <${rtag}> and cannot be resolved`,
            value.locationAt(m.index),
          );
        }
        let repl = tags.get(rtag) ?? undefined;
        repl ??= lookup(rtag);
        if (repl === undefined) {
          TAG.lastIndex = next;
          m = TAG.exec(value.text);
          continue;
        }
        const at = m.index;
        value = value.replaceAll(`<${rtag}>`, repl);
        // Tags that refer to each other through others can double the text on every
        // replacement, long before any count reaches the limit.
        if (value.text.length > MAX_TAG_VALUE_LENGTH) {
          throw new FilterError(
            'WARDEN_FILTER_INTERPOLATION',
            `'${tag}' grows past ${MAX_TAG_VALUE_LENGTH} characters while <${rtag}> is replaced (tags that refer to each other?)`,
            org.locationAt(0),
          );
        }
        counts.set(rtag, (counts.get(rtag) ?? 0) + 1);
        TAG.lastIndex = at;
        m = TAG.exec(value.text);
      }
      if (value.text !== org.text) {
        TAG.lastIndex = 0;
        if (TAG.test(value.text)) {
          repCounts.set(tag, counts);
          again = true;
        }
        tags.set(tag, value);
      }
      if (!value.text.includes('<')) done.add(tag);
    }
    if (!again) break;
  }
  TAG.lastIndex = 0;
  return tags;
}

/** Python's shlex.split (POSIX mode, no comments), for journalmatch lines. */
export function shlexSplit(s: string, loc?: SourceLocation): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (/\s/u.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new FilterError('WARDEN_FILTER_OPTION', `no closing quotation in ${JSON.stringify(s)}`, loc);
      cur += s.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && (s[j + 1] === '"' || s[j + 1] === '\\' || s[j + 1] === '$' || s[j + 1] === '`')) j++;
        cur += s[j];
      }
      if (j >= s.length) throw new FilterError('WARDEN_FILTER_OPTION', `no closing quotation in ${JSON.stringify(s)}`, loc);
      i = j;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 < s.length) cur += s[++i];
      inWord = true;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/**
 * A filter reference with options, `name[opt=value, opt2="value"]`, as fail2ban's
 * extractOptions reads it.
 */
export function splitFilterSpec(spec: string): { name: string; options: Record<string, string> } {
  const m = /^([^[]+)(?:\[(.*)\])?\s*$/su.exec(spec);
  if (m === null) throw new FilterError('WARDEN_FILTER_OPTION', `unexpected filter syntax: ${JSON.stringify(spec)}`);
  const options: Record<string, string> = {};
  const body = m[2];
  if (body !== undefined && body.trim() !== '') {
    const re = /\s*([\w\-_.]+(?:\?[\w\-_.]+=[\w\-_.]+)?)=(?:"([^"]*)"|'([^']*)'|([^,\]]*))(?:,|\]\s*\[|$)|,?\s*$/suy;
    let at = 0;
    while (at < body.length) {
      re.lastIndex = at;
      const o = re.exec(body);
      if (o === null || o[0] === '') throw new FilterError('WARDEN_FILTER_OPTION', `unexpected filter option syntax at ${at}: ${JSON.stringify(body.slice(at, at + 25))}`);
      if (o[1] !== undefined) options[o[1].trim()] = (o[2] ?? o[3] ?? o[4] ?? '').trim();
      at = re.lastIndex;
    }
  }
  return { name: (m[1] as string).trim(), options };
}
