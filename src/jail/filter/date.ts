/**
 * @module jail/filter/date
 * Finding the date in a log line, as fail2ban's DateDetector does (server/datedetector.py,
 * datetemplate.py): a list of templates — a filter's `datepattern` lines, or fail2ban's
 * default templates — each a regex; the detector remembers which template matched last,
 * and where, tries it first on the next line, and moves templates that keep winning to the
 * front. Datepattern syntax: strptime `%` directives (strptime.ts), `{^LN-BEG}` (date at
 * the start of the line, after at most two non-word characters), `{DATE}` (fail2ban's
 * default templates inside a fixed context), `{UNB}` (no word boundaries), `{NONE}` (no
 * date), `Epoch`/`LEpoch`/`{EPOCH}` (Unix time), `TAI64N`; `**` at either end disables the
 * word boundary there.
 *
 * @example
 * const d = detectDate('Aug 14 11:59:59 host sshd[1]: Failed password');
 * d?.matchedText; // 'Aug 14 11:59:59'
 */
import { FilterError } from './errors.js';
import { pyStrip } from './located.js';
import { compilePyRegex, type PyMatch, type PyRegex } from './pyregex.js';
import { expandDirectives, strptimeGroups, type DateContext, type StrptimeInfo } from './strptime.js';
import { localTimeZone } from './timezone.js';

const RE_GROUPED = /(?<!\(\?)(?<!\\)\((?!\?)/u;
const RE_GROUP = /^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$/u;
const RE_GLOBALFLAGS = /((?:^|(?<!\\))\(\?[a-z]+\))/u;
const RE_EXLINE_NO_BOUNDS = /^\{UNB\}/u;
const RE_EXLINE_BOUND_BEG = /^\{\^LN-BEG\}/u;
const RE_EXSANC_BOUND_BEG = /^\((?:\?:)?\^\|\\b\|\\W\)/u;
const RE_EXEANC_BOUND_BEG = /\(\?=\\b\|\\W\|\$\)$/u;
const RE_NO_WRD_BOUND_BEG = /^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)/u;
const RE_NO_WRD_BOUND_END = /(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$/u;
const RE_DEL_WRD_BOUNDS = /^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$/gu;
const RE_LINE_BOUND_BEG = /^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))/u;
const RE_LINE_BOUND_END = /(?<![\\|])(?:\$\)?)$/u;
const RE_ALPHA_PATTERN = /(?<!%)%[aAbBpc]/u;
const RE_EPOCH_PATTERN = /(?<!\\)\{L?EPOCH\}/iu;
const RE_DATE_PREMATCH = /(?<!\\)\{DATE\}/giu;

const LINE_BEGIN = 8;
const LINE_END = 4;
const WORD_BEGIN = 2;
const WORD_END = 1;

/** A date found in a line. */
export interface DateMatch {
  /** Unix time in seconds (fractional for epoch formats with a fraction). */
  readonly time: number;
  /** The text the date was read from. */
  readonly matchedText: string;
  /** Where that text starts and ends in the line (UTF-16 offsets). */
  readonly start: number;
  readonly end: number;
  /** The template that found it, by fail2ban's name for it. */
  readonly template: string;
}

/** A template: a regex whose group 1 is the date, and how to read it. */
export abstract class DateTemplate {
  name = '';
  weight = 1.0;
  flags = 0;
  /** How often it matched, over every detector that uses it (fail2ban keeps this shared). */
  hits = 0;
  /** The Python regex. */
  regex = '';
  private compiled: PyRegex | undefined;

  /** The datepattern this was built from, when it was (DatePatternRegex). */
  get pattern(): string | undefined {
    return undefined;
  }

  /** fail2ban's DateTemplate.setRegex: word or line boundaries, group 1, flags. */
  protected setRegex(regexIn: string, wordBegin: boolean | 'start' = true, wordEnd = true): void {
    let regex = pyStrip(regexIn);
    const gf = RE_GLOBALFLAGS.exec(regex);
    if (gf !== null) regex = regex.replace(RE_GLOBALFLAGS, '');
    const boundBegin = wordBegin !== false && !RE_NO_WRD_BOUND_BEG.test(regex);
    const boundEnd = wordEnd && !RE_NO_WRD_BOUND_END.test(regex);
    if (!RE_GROUPED.test(regex)) regex = regex.replace(RE_GROUP, '$1($2)$3');
    this.flags = 0;
    if (boundBegin) {
      this.flags |= wordBegin !== 'start' ? WORD_BEGIN : LINE_BEGIN;
      if (wordBegin !== 'start') regex = `(?=^|\\b|\\W)${regex}`;
      else {
        regex = `^(?:\\W{0,2})?${regex}`;
        if (!this.name.startsWith('{^LN-BEG}')) this.name = `{^LN-BEG}${this.name}`;
      }
    }
    if (boundEnd) {
      this.flags |= WORD_END;
      regex += '(?=\\b|\\W|$)';
    }
    if (!(this.flags & LINE_BEGIN) && RE_LINE_BOUND_BEG.test(regex)) this.flags |= LINE_BEGIN;
    if (!(this.flags & LINE_END) && RE_LINE_BOUND_END.test(regex)) this.flags |= LINE_END;
    regex = regex.replace(RE_DEL_WRD_BOUNDS, (m) => m.replaceAll('**', ''));
    if (gf !== null) regex = (gf[1] as string) + regex;
    this.regex = regex;
    this.compiled = undefined;
  }

  /** The compiled regex (compiled on first use). */
  protected compiledRegex(): PyRegex {
    return this.re();
  }

  private re(): PyRegex {
    if (this.compiled === undefined) {
      try {
        this.compiled = compilePyRegex(this.regex, { spanOf: 1, locate: true });
      } catch (err) {
        throw new FilterError('WARDEN_FILTER_DATEPATTERN', `date template ${JSON.stringify(this.name)}: ${(err as Error).message}`);
      }
    }
    return this.compiled;
  }

  /** Compiles now, so a bad pattern fails at load rather than on the first line. */
  compile(): void {
    this.re();
  }

  matchDate(line: string, pos?: number, endpos?: number): PyMatch | null {
    const m = this.re().search(line, pos, endpos);
    if (m !== null) this.hits++;
    return m;
  }

  /**
   * The time of a match of this template (null: not a valid date). `info.usedNow` is set
   * when the result depended on the clock.
   */
  abstract getDate(m: PyMatch, ctx: DateContext, info?: StrptimeInfo): number | null;

  /**
   * Whether two matches of this template give the same time although their texts differ
   * (the text may hold what precedes the date, or fractions of a second, which do not
   * count). False when only equal texts are known to.
   */
  sameTime(_a: PyMatch, _b: PyMatch): boolean {
    return false;
  }

  static unboundPattern(pattern: string): string {
    return pattern.replace(RE_EXLINE_NO_BOUNDS, '').replace(RE_EXLINE_BOUND_BEG, '').replace(RE_EXSANC_BOUND_BEG, '').replace(RE_EXEANC_BOUND_BEG, '');
  }
}

/** Unix time, optionally with a fraction, at the line start, in [brackets], or in audit(…). */
export class DateEpoch extends DateTemplate {
  private readonly longFrm: boolean;
  private readonly grpIdx: number;

  constructor(lineBeginOnly = false, pattern?: string, longFrm = false) {
    super();
    this.name = pattern ?? 'Epoch';
    this.longFrm = longFrm;
    let epochRE = '\\d{10,11}\\b(?:\\.\\d{3,6})?';
    if (longFrm) {
      this.name = pattern ?? 'LongEpoch';
      epochRE = '\\d{10,11}(?:\\d{3}(?:\\.\\d{1,6}|\\d{3})?)?';
    }
    if (pattern !== undefined) {
      let regex = pattern.replace(new RegExp(RE_EPOCH_PATTERN.source, 'giu'), () => `(${epochRE})`);
      if (!RE_GROUPED.test(pattern)) regex = `(${regex})`;
      this.grpIdx = 2;
      this.setRegex(regex);
    } else if (!lineBeginOnly) {
      this.grpIdx = 1;
      this.setRegex(`((?:^|(?P<square>(?<=^\\[))|(?P<selinux>(?<=\\baudit\\()))${epochRE})(?:(?(selinux)(?=:\\d+\\)))|(?(square)(?=\\])))`, false);
    } else {
      this.grpIdx = 1;
      this.setRegex(`((?P<square>(?<=^\\[))?${epochRE})(?(square)(?=\\]))`, 'start', true);
    }
  }

  getDate(m: PyMatch): number | null {
    const v = m.group(this.grpIdx);
    if (v === undefined) return null;
    let t = Number(v);
    // Milliseconds or microseconds since the epoch.
    if (this.longFrm && v.length >= 13) t = v.length >= 16 && !v.includes('.') ? t / 1000000 : t / 1000;
    return Number.isFinite(t) ? t : null;
  }
}

/** A datepattern with strptime `%` directives. */
export class DatePatternRegex extends DateTemplate {
  private patternText: string | undefined;
  /** The named groups of the regex but %f's, for sameTime. */
  private timeGroups: number[] | undefined;

  constructor(pattern: string, wordBegin: boolean | 'start' = true, wordEnd = true) {
    super();
    this.setPattern(pattern, wordBegin, wordEnd);
  }

  override get pattern(): string | undefined {
    return this.patternText;
  }

  private setPattern(patternIn: string, wordBeginIn: boolean | 'start', wordEndIn: boolean): void {
    this.patternText = patternIn;
    let pattern = patternIn;
    let wordBegin = wordBeginIn;
    let wordEnd = wordEndIn;
    if (RE_EXLINE_NO_BOUNDS.test(pattern)) {
      pattern = pattern.replace(RE_EXLINE_NO_BOUNDS, '');
      wordBegin = false;
      wordEnd = false;
    }
    if (wordBegin !== false && RE_EXLINE_BOUND_BEG.test(pattern)) {
      pattern = pattern.replace(RE_EXLINE_BOUND_BEG, '');
      wordBegin = 'start';
    }
    const { regex: expanded, name } = expandDirectives(pattern);
    this.name = name;
    let regex = expanded;
    if (RE_ALPHA_PATTERN.test(pattern)) regex = `(?iu)${regex}`;
    this.setRegex(regex, wordBegin, wordEnd);
  }

  getDate(m: PyMatch, ctx: DateContext, info?: StrptimeInfo): number | null {
    return strptimeGroups(m.groupdict(), ctx, info);
  }

  /**
   * Equal named groups give equal times: strptime reads nothing else. The fraction of a
   * second (%f) is left out, as fail2ban's time leaves it out (it keeps whole seconds).
   */
  override sameTime(a: PyMatch, b: PyMatch): boolean {
    let groups = this.timeGroups;
    if (groups === undefined) {
      groups = [];
      for (const [name, n] of this.compiledRegex().namedGroups()) if (name !== 'f') groups.push(n);
      this.timeGroups = groups;
    }
    return a.sameGroups(b, groups);
  }
}

/** daemontools' TAI64N label: @ and 24 hex digits. */
export class DateTai64n extends DateTemplate {
  constructor(wordBegin: boolean | 'start' = false) {
    super();
    this.name = 'TAI64N';
    this.setRegex('@[0-9a-f]{24}', wordBegin);
  }

  getDate(m: PyMatch): number | null {
    const v = m.group(1);
    if (v === undefined) return null;
    return parseInt(v.slice(2, 17), 16);
  }
}

// ---------------------------------------------------------------------------------------
// Template cache and fail2ban's default templates (shared by every detector, as in fail2ban).

const patternCache = new Map<string, DateTemplate>();

function patternTemplate(pattern: string, keyIn?: string): DateTemplate {
  const key = keyIn ?? (pattern.includes('%') ? pattern : pattern.toUpperCase());
  let template = patternCache.get(key);
  if (template === undefined) {
    if (key.includes('EPOCH')) {
      if (RE_EPOCH_PATTERN.test(pattern)) template = new DateEpoch(false, pattern, key.includes('LEPOCH'));
      else if (key === 'EPOCH' || key === '{^LN-BEG}EPOCH' || key === '^EPOCH') template = new DateEpoch(key !== 'EPOCH');
      else if (key === 'LEPOCH' || key === '{^LN-BEG}LEPOCH' || key === '^LEPOCH') template = new DateEpoch(key !== 'LEPOCH', undefined, true);
    }
    if (template === undefined) {
      if (key === 'TAI64N' || key === '{^LN-BEG}TAI64N' || key === '^TAI64N') template = new DateTai64n(key !== 'TAI64N' ? 'start' : false);
      else template = new DatePatternRegex(pattern);
    }
  }
  patternCache.set(key, template);
  return template;
}

function anchoredTemplate(template: DateTemplate, wrap: (s: string) => string = (s) => `{^LN-BEG}${s}`): DateTemplate {
  const name = wrap(template.name);
  let t2 = patternCache.get(name);
  if (t2 === undefined) {
    const pattern = template.pattern;
    const regex = wrap(pattern ?? template.regex);
    if (pattern !== undefined) t2 = patternCache.get(regex);
    if (t2 === undefined) t2 = pattern === undefined ? patternTemplate(name) : patternTemplate(regex);
  }
  return t2;
}

const DEFAULT_PATTERNS = [
  '%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\\s*%z)?',
  '(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?',
  '(?:%a )?%b %d %ExY %k:%M:%S(?:\\.%f)?',
  '%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S',
  '%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\\.%f)?(?: %z)?',
  '%m/%d/%ExY:%H:%M:%S',
  '%m-%d-%ExY %k:%M:%S(?:\\.%f)?',
  'EPOCH',
  '{^LN-BEG}%H:%M:%S',
  '^<%m/%d/%Exy@%H:%M:%S>',
  '%Exy%Exm%Exd  ?%H:%M:%S',
  '%b %d, %ExY %I:%M:%S %p',
  '^%b-%d-%Exy %k:%M:%S',
  '%ExY%Exm%Exd(?:-|T|  ?)%ExH:?%ExM:?%ExS(?:[.,]%f)?(?:\\s*%z)?',
  '(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?',
  '(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?',
  'TAI64N',
];

let defaultTemplateList: DateTemplate[] | undefined;
let allDefaults: DateTemplate[] | undefined;

/** fail2ban's DEFAULT_TEMPLATES, compiled once. */
function defaultTemplates(): DateTemplate[] {
  defaultTemplateList ??= DEFAULT_PATTERNS.map((p) => patternTemplate(p));
  return defaultTemplateList;
}

/** The default templates with their line-anchored variants first (weight 100). */
function allDefaultTemplates(): DateTemplate[] {
  if (allDefaults === undefined) {
    const anchored: DateTemplate[] = [];
    const rest: DateTemplate[] = [];
    for (const t of defaultTemplates()) {
      const name = t.name;
      if (!name.startsWith('{^LN-BEG}') && !name.startsWith('^')) {
        const t2 = anchoredTemplate(t);
        if (t2.name !== name) {
          t2.weight = 100.0;
          anchored.push(t2);
        }
      }
      rest.push(t);
    }
    allDefaults = [...anchored, ...rest];
  }
  return allDefaults;
}

/** A template as one detector uses it: its own hits, last use and distance. */
interface DetectorTemplate {
  readonly template: DateTemplate;
  hits: number;
  lastUsed: number;
  distance: number;
}

function weightOf(t: DetectorTemplate): number {
  return (t.hits * t.template.weight) / Math.max(1, t.distance);
}

/** Options for a {@link DateDetector}: the clock and zones (see {@link DateContext}). */
export type DateDetectorOptions = Partial<DateContext>;

/**
 * fail2ban's DateDetector: the templates of a filter's datepattern (or the defaults) and
 * the state that makes the next line fast (last template, its position).
 *
 * @example
 * const dd = new DateDetector('{^LN-BEG}%Y/%m/%d %H:%M:%S', { timeZone: timeZoneNamed('UTC') });
 * dd.detect('2026/11/25 18:00:00 [error] …')?.time; // 1795629600
 */
export class DateDetector {
  private readonly templates: DetectorTemplate[] = [];
  private readonly knownNames = new Set<string>();
  private readonly unusedTime = 300;
  private lastPos: [number, string, string] = [1, '', ''];
  private lastEndPos: [number, string, string] = [0x7fffffff, '', ''];
  private lastTemplIdx = 0x7fffffff;
  private firstUnused = 0;
  readonly context: DateContext;
  /**
   * The last date read: consecutive lines of a log often share their second, and reading
   * a date costs more than finding it. Kept only when the time did not depend on the
   * clock (a date with a year and a day).
   */
  private lastRead: { template: DateTemplate | undefined; text: string; match: PyMatch | null; time: number | null } = { template: undefined, text: '', match: null, time: null };
  private readonly info: StrptimeInfo = { usedNow: false };

  /**
   * `patterns`: a filter's datepattern (one template per line), or undefined for fail2ban's
   * default templates.
   * @throws FilterError for an invalid pattern
   */
  constructor(patterns?: string, options: DateDetectorOptions = {}) {
    this.context = {
      now: options.now ?? (() => Date.now() / 1000),
      timeZone: options.timeZone ?? localTimeZone,
      defaultOffset: options.defaultOffset,
    };
    if (patterns !== undefined) {
      for (const p of patterns
        .split(/\n+/u)
        .map((s) => pyStrip(s))
        .filter(Boolean)) {
        this.appendTemplate(p);
      }
    }
  }

  /** The templates in their current order, with hits (for fail2ban-regex-like reports). */
  templateStats(): Array<{ name: string; hits: number }> {
    return this.templates.map((t) => ({ name: t.template.name, hits: t.hits }));
  }

  private append(template: DateTemplate, ignoreDup = false, compileNow = true): void {
    if (this.knownNames.has(template.name)) {
      if (ignoreDup) return;
      throw new FilterError('WARDEN_FILTER_DATEPATTERN', `there is already a date template named ${template.name}`);
    }
    if (compileNow) template.compile();
    this.knownNames.add(template.name);
    this.templates.push({ template, hits: 0, lastUsed: 0, distance: 0x7fffffff });
  }

  /** Adds a template from a datepattern line (fail2ban's appendTemplate). */
  appendTemplate(pattern: string): void {
    const key = pattern.includes('%') ? pattern : pattern.toUpperCase();
    let template = patternCache.get(key);
    if (template === undefined) {
      if (key === '{^LN-BEG}' || key === '{DEFAULT}') {
        this.addDefaultTemplates(key === '{^LN-BEG}' ? (t) => (t.flags & LINE_BEGIN) !== 0 : undefined);
        return;
      }
      if (key.includes('{DATE}')) {
        this.addDefaultTemplates(undefined, pattern, false);
        return;
      }
      template = key === '{NONE}' ? patternTemplate('{UNB}^', key) : patternTemplate(pattern, key);
    }
    patternCache.set(key, template);
    this.append(template);
  }

  private addDefaultTemplates(filter?: (t: DateTemplate) => boolean, preMatch?: string, all = true): void {
    const ignoreDup = this.templates.length > 0;
    for (const t of all ? allDefaultTemplates() : defaultTemplates()) {
      if (filter !== undefined && !filter(t)) continue;
      let template = t;
      if (preMatch !== undefined) {
        template = anchoredTemplate(t, (s) => preMatch.replace(RE_DATE_PREMATCH, () => DateTemplate.unboundPattern(s)));
      }
      // fail2ban's own templates are compiled when first tried (a test compiles them all):
      // a log's lines mostly stop at the first few, and compiling them all took 14 ms of
      // `warden filter test`'s start. One made from a datepattern is compiled now.
      this.append(template, ignoreDup, preMatch !== undefined);
    }
  }

  /**
   * fail2ban's matchTime: the template and match for the date in `line`, trying the last
   * winner first (within the same boundaries) and reordering templates by hits.
   */
  matchTime(line: string): { match: PyMatch; template: DateTemplate } | null {
    if (this.templates.length === 0) this.addDefaultTemplates();
    let match: PyMatch | null = null;
    let found: [PyMatch | null, number, number, number] = [null, 0x7fffffff, 0x7fffffff, -1];
    let ignoreBySearch = 0x7fffffff;
    let i = this.lastTemplIdx;
    let dt: DetectorTemplate | undefined;
    let template: DateTemplate | undefined;
    let distance = 0;
    let endpos = 0;
    if (i < this.templates.length) {
      dt = this.templates[i] as DetectorTemplate;
      template = dt.template;
      if (template.flags & (LINE_BEGIN | LINE_END)) {
        match = template.matchDate(line);
        ignoreBySearch = i;
      } else {
        distance = this.lastPos[0];
        endpos = this.lastEndPos[0];
        const lp = this.lastPos;
        const le = this.lastEndPos;
        if (
          (line.slice(distance - 1, distance) === lp[1] || (line.slice(distance, distance + 1) === lp[2] && !isAlnum(lp[2]))) &&
          (line.slice(endpos, endpos + 1) === le[2] || (line.slice(endpos - 1, endpos) === le[1] && !isAlnum(le[1])))
        ) {
          match = template.matchDate(line, distance, endpos);
        } else {
          match = template.matchDate(line);
          ignoreBySearch = i;
        }
      }
      if (match !== null) {
        distance = match.start();
        endpos = match.end();
        if (!(this.templates.length === 1 || template.flags & (LINE_BEGIN | LINE_END) || (distance === this.lastPos[0] && endpos === this.lastEndPos[0]))) {
          found = [match, distance, endpos, i];
          match = null;
        }
      }
    }
    if (match === null) {
      i = 0;
      for (const cand of this.templates) {
        if (i === ignoreBySearch) {
          i++;
          continue;
        }
        dt = cand;
        template = cand.template;
        match = template.matchDate(line);
        if (match !== null) {
          distance = match.start();
          endpos = match.end();
          if (i + 1 >= this.templates.length) break;
          if (template.flags & (LINE_BEGIN | LINE_END)) break;
          if (distance === 0 && cand.hits && !(this.templates[i + 1] as DetectorTemplate).template.hits) break;
          if (distance > cand.distance || distance > this.lastPos[0]) {
            if (distance < found[1]) found = [match, distance, endpos, i];
            match = null;
            i++;
            continue;
          }
          break;
        }
        i++;
      }
      if (match === null && found[0] !== null) {
        [match, distance, endpos, i] = found;
        dt = this.templates[i] as DetectorTemplate;
        template = dt.template;
      }
    }
    if (match === null || dt === undefined || template === undefined) return null;
    dt.hits++;
    dt.lastUsed = turnClock();
    dt.distance = distance;
    if (this.firstUnused === i) this.firstUnused++;
    // Updated in place: this runs for every line.
    const lp = this.lastPos;
    lp[0] = distance;
    lp[1] = line.slice(distance - 1, distance);
    lp[2] = line[distance] ?? '';
    // line[endpos - 1] with endpos 0 is the last character in Python.
    const le = this.lastEndPos;
    le[0] = endpos;
    le[1] = line.at(endpos - 1) ?? '';
    le[2] = line.slice(endpos, endpos + 1);
    if (i && i !== this.lastTemplIdx) i = this.reorder(i);
    this.lastTemplIdx = i;
    return { match, template };
  }

  private reorder(num: number): number {
    const templates = this.templates;
    const dt = templates[num] as DetectorTemplate;
    const untime = dt.lastUsed - this.unusedTime;
    const weight = weightOf(dt);
    let pos = this.firstUnused < num ? this.firstUnused : Math.floor(num / 2);
    const moveable = (): boolean => {
      const p = templates[pos] as DetectorTemplate;
      return weight > weightOf(p) || untime > p.lastUsed;
    };
    if (!moveable()) {
      if (pos === num - 1) return num;
      pos = num - 1;
      if (!moveable()) return num;
    }
    templates.splice(num, 1);
    templates.splice(pos, 0, dt);
    while (this.firstUnused < templates.length && (templates[this.firstUnused] as DetectorTemplate).hits) this.firstUnused++;
    return pos;
  }

  /** fail2ban's getTime for a match of `template`: its time, or null when it is no date. */
  getTime(template: DateTemplate, match: PyMatch): number | null {
    const text = match.group(0) as string;
    const last = this.lastRead;
    if (last.template === template && last.text === text) return last.time;
    // The same second after another prefix (an access log's address), or with another
    // fraction (Apache's microseconds): the same time, without reading it again.
    if (last.template === template && template.sameTime(match, last.match as PyMatch)) {
      last.text = text;
      last.match = match;
      return last.time;
    }
    this.info.usedNow = false;
    const time = template.getDate(match, this.context, this.info);
    if (!this.info.usedNow) this.lastRead = { template, text, match, time };
    return time;
  }

  /** The date in `line`: fail2ban's matchTime then getTime. */
  detect(line: string): DateMatch | null {
    const r = this.matchTime(line);
    if (r === null) return null;
    const time = this.getTime(r.template, r.match);
    if (time === null) return null;
    const start = r.match.start(1);
    const end = r.match.end(1);
    return { time, matchedText: line.slice(start, end), start, end, template: r.template.name };
  }
}

let turnTime = -1;
const forgetTurnTime = (): void => {
  turnTime = -1;
};

/**
 * Seconds since the epoch, read once per turn of the event loop: the time the lines read in
 * one go are taken to be used at (a template's lastUsed, which only orders templates unused
 * for minutes). Reading the clock for every line cost 3 % of a filter's time.
 */
function turnClock(): number {
  if (turnTime < 0) {
    turnTime = Date.now() / 1000;
    queueMicrotask(forgetTurnTime);
  }
  return turnTime;
}

/** str.isalnum() of one character. */
function isAlnum(c: string): boolean {
  return c !== '' && /^[\p{L}\p{N}]+$/u.test(c);
}

let sharedDetector: DateDetector | undefined;

/**
 * The date in a log line, found with fail2ban's default templates (a shared detector, so
 * consecutive lines of one log get faster) — or with `patterns` (a datepattern).
 *
 * @example
 * detectDate('[14/Aug/2005:12:00:00 +0200] GET /')?.time; // 1124013600
 */
export function detectDate(line: string, patterns?: string, options?: DateDetectorOptions): DateMatch | null {
  if (patterns !== undefined || options !== undefined) return new DateDetector(patterns, options).detect(line);
  sharedDetector ??= new DateDetector();
  return sharedDetector.detect(line);
}
