/**
 * @module jail/filter/ini
 * fail2ban's configuration dialect, read as fail2ban reads it: Python's `configparser`
 * (3.11) with fail2ban's extensions (client/configparserinc.py, configreader.py).
 *
 * - configparser: `[section]` headers (DEFAULT is the defaults), `name = value` or
 *   `name: value` (option names lower-cased), values continued on lines indented deeper
 *   than the option line (empty lines inside a value are kept), whole-line comments with
 *   `#` or `;`, inline comments only with `;` after whitespace, a duplicate option or
 *   section in one file is an error. `%(name)s` interpolation at read time, recursive up to
 *   10 levels, `%%` for a percent sign.
 * - fail2ban: `[INCLUDES]` `before =` / `after =` files (relative to the including file,
 *   each followed by its `.local`), files read in that order with later sections merging
 *   over earlier ones; the overridden values kept in `KNOWN/<section>` for
 *   `%(known/name)s`; `%(section/name)s` reads another section; conditional sections
 *   `[Init?family=inet6]`.
 *
 * Every value keeps the file and line each of its lines came from (see located.ts).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { FilterError, type SourceLocation } from './errors.js';
import { LocatedText, isPySpace, pyStrip } from './located.js';

/** Options of one section: lower-cased name → raw value. */
export type Section = Map<string, LocatedText>;

/** One file as configparser reads it. */
export interface ParsedIni {
  readonly file: string;
  readonly defaults: Section;
  readonly sections: ReadonlyMap<string, Section>;
}

const SECTION_HEADER = /^\[(.+)\]/;
const OPTION_LINE = /^(.*?)\s*([=:])\s*(.*)$/su;
const CONDITIONAL = /^(\w+)(\?.+)$/u;
const MAX_INTERPOLATION_DEPTH = 10;

/** configparser's optionxform. */
export function optionKey(name: string): string {
  return name.toLowerCase();
}

function firstNonSpace(line: string): number {
  let i = 0;
  while (i < line.length && isPySpace(line.charCodeAt(i))) i++;
  return i;
}

/** Parses one file's text as Python's RawConfigParser (fail2ban's settings) does. */
export function parseIni(text: string, file: string): ParsedIni {
  const defaults: Section = new Map();
  const sections = new Map<string, Section>();
  // Collected raw lines of each option, joined once the file is read.
  const pending = new Map<Map<string, Array<[string, SourceLocation]>>, Section>();
  const raw = new Map<Section, Map<string, Array<[string, SourceLocation]>>>();
  const rawOf = (s: Section): Map<string, Array<[string, SourceLocation]>> => {
    let r = raw.get(s);
    if (r === undefined) {
      r = new Map();
      raw.set(s, r);
      pending.set(r, s);
    }
    return r;
  };
  const seenSections = new Set<string>();
  const seenOptions = new Set<string>();
  let cursect: Section | null = null;
  let sectname = '';
  let optname: string | null = null;
  let indentLevel = 0;
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const loc = { file, line: i + 1 };
    let commentStart = -1;
    // Inline comments: ";" at the start or after whitespace.
    for (let at = line.indexOf(';'); at >= 0; at = line.indexOf(';', at + 1)) {
      if (at === 0 || isPySpace(line.charCodeAt(at - 1))) {
        commentStart = at;
        break;
      }
    }
    const stripped = pyStrip(line);
    if (stripped.startsWith('#') || stripped.startsWith(';')) commentStart = 0;
    const value = pyStrip(commentStart >= 0 ? line.slice(0, commentStart) : line);
    if (value === '') {
      // An empty line inside a value is part of it (a comment line is not).
      if (commentStart < 0 && cursect !== null && optname !== null) rawOf(cursect).get(optname)?.push(['', loc]);
      continue;
    }
    const indent = firstNonSpace(line);
    if (cursect !== null && optname !== null && indent > indentLevel) {
      rawOf(cursect).get(optname)?.push([value, loc]);
      continue;
    }
    indentLevel = indent;
    const header = SECTION_HEADER.exec(value);
    if (header !== null) {
      sectname = header[1] as string;
      if (sections.has(sectname)) {
        if (seenSections.has(sectname)) throw new FilterError('WARDEN_FILTER_SYNTAX', `section [${sectname}] already exists`, loc);
        cursect = sections.get(sectname) as Section;
      } else if (sectname === 'DEFAULT') {
        cursect = defaults;
      } else {
        cursect = new Map();
        sections.set(sectname, cursect);
      }
      seenSections.add(sectname);
      optname = null;
      continue;
    }
    if (cursect === null) throw new FilterError('WARDEN_FILTER_SYNTAX', `option outside a section: ${JSON.stringify(line)}`, loc);
    const opt = OPTION_LINE.exec(value);
    if (opt === null) throw new FilterError('WARDEN_FILTER_SYNTAX', `not an option (name = value): ${JSON.stringify(line)}`, loc);
    const name = optionKey((opt[1] as string).trimEnd());
    if (name === '') throw new FilterError('WARDEN_FILTER_SYNTAX', `option without a name: ${JSON.stringify(line)}`, loc);
    const key = `${sectname}\u0000${name}`;
    if (seenOptions.has(key)) throw new FilterError('WARDEN_FILTER_SYNTAX', `option '${name}' in section [${sectname}] already exists`, loc);
    seenOptions.add(key);
    optname = name;
    rawOf(cursect).set(name, [[pyStrip(opt[3] as string), loc]]);
  }
  for (const [rawOpts, section] of pending) {
    for (const [name, parts] of rawOpts) section.set(name, LocatedText.lines(parts).rstrip());
  }
  return { file, defaults, sections };
}

/** Files read so far, shared between loads (fail2ban's share_config): path → parse or null. */
export type IniCache = Map<string, ParsedIni | null>;

function readParsed(path: string, cache: IniCache | undefined): ParsedIni | null {
  const hit = cache?.get(path);
  if (hit !== undefined) return hit;
  let parsed: ParsedIni | null = null;
  let text: string | undefined;
  try {
    if (statSync(path).isFile()) text = readFileSync(path, 'utf8');
  } catch {
    // Missing include files are skipped, as configparser's read() skips them.
  }
  if (text !== undefined) parsed = parseIni(text, path);
  cache?.set(path, parsed);
  return parsed;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A name.conf's name.local beside it, when it exists and is not already listed. */
function withLocals(files: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    out.push(f);
    const local = `${f.replace(/\.[^./]*$/, '')}.local`;
    if (!files.includes(local) && isFile(local)) out.push(local);
  }
  return out;
}

type Vars = ReadonlyMap<string, LocatedText>;

/**
 * The merged configuration of a filter (or any fail2ban config file with includes):
 * fail2ban's ConfigReaderUnshared.
 */
export class ConfigReader {
  readonly defaults: Section = new Map();
  readonly sections = new Map<string, Section>();
  /** Files read, in order. */
  readonly files: string[] = [];

  constructor(private readonly cache?: IniCache) {}

  /**
   * Reads `files` and their includes (before, the file, after; each with its .local) and
   * merges them in that order.
   */
  read(files: readonly string[]): void {
    for (const f of this.includes(files, [])) {
      const parsed = readParsed(f, this.cache);
      if (parsed === null) continue;
      this.files.push(f);
      for (const [k, v] of parsed.defaults) this.defaults.set(k, v);
      for (const [nameIn, sectionIn] of parsed.sections) {
        let name = nameIn;
        let section: Section = sectionIn;
        const cond = CONDITIONAL.exec(nameIn);
        if (cond !== null) {
          name = cond[1] as string;
          section = new Map([...sectionIn].map(([k, v]) => [k + (cond[2] as string), v]));
        }
        const existing = this.sections.get(name);
        if (existing === undefined) {
          this.sections.set(name, new Map(section));
          continue;
        }
        // Values about to be overridden stay readable as %(known/name)s.
        let known = this.sections.get(`KNOWN/${name}`);
        if (known === undefined) {
          known = new Map();
          this.sections.set(`KNOWN/${name}`, known);
        }
        for (const [k, v] of existing) if (section.has(k)) known.set(k, v);
        for (const [k, v] of section) existing.set(k, v);
      }
    }
  }

  private includes(filesIn: readonly string[], seen: readonly string[]): string[] {
    const out: string[] = [];
    for (const resource of withLocals(filesIn)) {
      const parsed = readParsed(resource, this.cache);
      if (parsed === null) continue;
      const dir = dirname(resource);
      const before: string[] = [];
      const after: string[] = [];
      const inc = parsed.sections.get('INCLUDES');
      if (inc !== undefined) {
        for (const [opt, list] of [['before', before], ['after', after]] as const) {
          if (!inc.has(opt) && !parsed.defaults.has(opt)) continue;
          const value = this.interpolate('INCLUDES', opt, (inc.get(opt) ?? parsed.defaults.get(opt)) as LocatedText, [new Map(), inc, parsed.defaults], 1);
          for (const name of value.text.split('\n')) {
            const r = isAbsolute(name) ? name : join(dir, name);
            if (seen.includes(r)) continue;
            list.push(...this.includes([r], [...seen, resource]));
          }
        }
      }
      out.push(...before, resource, ...after);
    }
    return out;
  }

  hasSection(section: string): boolean {
    return this.sections.has(section);
  }

  /** Option names of a section (with the defaults' names when `withDefault`). */
  options(section: string, withDefault: boolean): string[] {
    const s = this.sections.get(section);
    if (s === undefined) return [];
    return withDefault ? [...new Set([...s.keys(), ...this.defaults.keys()])] : [...s.keys()];
  }

  /**
   * configparser's get(): the value of `option` in `section` (else the defaults; `vars`
   * come first), interpolated unless `raw`. Undefined when the section or option does
   * not exist (Python's NoSectionError, NoOptionError).
   */
  get(section: string, option: string, raw = false, vars: Vars = new Map()): LocatedText | undefined {
    const sect = this.sections.get(section);
    if (sect === undefined && section !== 'DEFAULT') return undefined;
    const layers: Vars[] = [new Map([...vars].map(([k, v]) => [optionKey(k), v])), sect ?? new Map(), this.defaults];
    const key = optionKey(option);
    let value: LocatedText | undefined;
    for (const l of layers) {
      value = l.get(key);
      if (value !== undefined) break;
    }
    if (value === undefined || raw) return value;
    return this.interpolate(section, key, value, layers, 1);
  }

  /**
   * fail2ban's get_ex(): like get(), but `sec/opt` names read another section, and
   * `known/opt` reads the value `opt` had before the last file overrode it.
   */
  getEx(section: string, option: string, vars: Vars = new Map()): LocatedText | undefined {
    const so = option.includes('/') ? /^([\w-]+)\/([^\s>]+)$/u.exec(option) : null;
    if (so !== null) {
      const sec = so[1] as string;
      const opt = so[2] as string;
      const lower = sec.toLowerCase();
      const tries = lower === 'known' ? [`KNOWN/${section}`, section] : [lower === 'default' ? 'DEFAULT' : sec];
      for (const s of tries) {
        const v = this.get(s, opt);
        if (v !== undefined) return v;
      }
    }
    return this.get(section, option, false, vars);
  }

  /**
   * `%(name)s` interpolation (configparser's BasicInterpolation with fail2ban's section
   * and `known/` names). `layers` is the lookup chain (vars, section, defaults).
   */
  private interpolate(section: string, option: string, value: LocatedText, layers: readonly Vars[], depth: number): LocatedText {
    const where = value.locationAt(0);
    if (depth > MAX_INTERPOLATION_DEPTH) {
      throw new FilterError('WARDEN_FILTER_INTERPOLATION', `recursion limit exceeded interpolating '${option}' in [${section}]`, where);
    }
    if (!value.text.includes('%')) return value;
    // Names of the form section/option found in this value are added to the lookup.
    const extra = new Map<string, LocatedText>([['__name__', LocatedText.plain(section)]]);
    for (const m of value.text.matchAll(/%\(([\w-]+\/([^)]+))\)s/gu)) {
      const sopt = m[1] as string;
      const opt = m[2] as string;
      if (layers.some((l) => l.has(sopt))) continue;
      const sec = sopt.slice(0, sopt.length - opt.length - 1);
      const lower = sec.toLowerCase();
      let v: LocatedText | undefined;
      let useDefault: boolean;
      if (lower === 'default') useDefault = true;
      else if (lower === 'known') {
        v = this.sections.get(`KNOWN/${section}`)?.get(opt);
        useDefault = v === undefined;
      } else {
        const s = this.sections.get(sec);
        if (s === undefined) continue;
        v = s.get(opt);
        useDefault = v === undefined;
      }
      if (useDefault) v = this.defaults.get(opt);
      if (v !== undefined) extra.set(sopt, v);
    }
    const chain: Vars[] = [extra, ...layers];
    const lookup = (name: string): LocatedText | undefined => {
      for (const l of chain) {
        const v = l.get(name);
        if (v !== undefined) return v;
      }
      return undefined;
    };
    const parts: LocatedText[] = [];
    const text = value.text;
    let i = 0;
    while (i < text.length) {
      const p = text.indexOf('%', i);
      if (p < 0) {
        parts.push(value.slice(i));
        break;
      }
      if (p > i) parts.push(value.slice(i, p));
      const c = text[p + 1];
      if (c === '%') {
        parts.push(value.slice(p, p + 1));
        i = p + 2;
      } else if (c === '(') {
        const m = /^%\(([^)]+)\)s/u.exec(text.slice(p));
        if (m === null) {
          throw new FilterError('WARDEN_FILTER_INTERPOLATION', `bad interpolation variable reference ${JSON.stringify(text.slice(p, p + 40))} in '${option}' [${section}]`, value.locationAt(p));
        }
        const name = optionKey(m[1] as string);
        i = p + m[0].length;
        const v = lookup(name);
        if (v === undefined) {
          throw new FilterError(
            'WARDEN_FILTER_INTERPOLATION',
            `'${option}' in [${section}] refers to %(${m[1]})s, which is not defined`,
            value.locationAt(p),
          );
        }
        parts.push(this.interpolate(section, option, v, chain, depth + 1));
      } else {
        throw new FilterError(
          'WARDEN_FILTER_INTERPOLATION',
          `'%' must be followed by '%' or '(' in '${option}' [${section}] (write %% for a percent sign): ${JSON.stringify(text.slice(p, p + 40))}`,
          value.locationAt(p),
        );
      }
    }
    return LocatedText.concat(parts);
  }
}

/**
 * The files fail2ban reads for a config `name` in `dir`: name.conf, name.d/*.conf,
 * name.local, name.d/*.local (those that exist).
 */
export function configFiles(dir: string, name: string): string[] {
  const base = resolve(dir, name);
  const inDir = (ext: string): string[] => {
    try {
      return readdirSync(`${base}.d`)
        .filter((f) => f.endsWith(ext))
        .sort()
        .map((f) => join(`${base}.d`, f));
    } catch {
      return [];
    }
  };
  return [`${base}.conf`, ...inDir('.conf'), `${base}.local`, ...inDir('.local')].filter(isFile);
}
