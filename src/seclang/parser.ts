/**
 * @module seclang/parser
 * SecLang text → a list of directives with their inner syntax parsed (targets, operator,
 * actions), and `Include`/`IncludeOptional` followed (globs, paths relative to the
 * including file, as ModSecurity v3 and Coraza resolve them). Every problem of every file is
 * collected with its file, line and column; nothing here knows what the engine provides.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { RuleLoadError, RuleParseError, type RuleWarning, type SourceLocation } from './errors.js';
import { checkValue, directiveNames, directiveSpec, suggest } from './directives.js';
import { lexSecLang, type RawDirective } from './lexer.js';
import {
  parseActions,
  parseOperator,
  parseTargets,
  type ListItem,
  type OperatorSyntax,
  type TargetSyntax,
} from './rule-syntax.js';

/** `SecRule` (targets and operator) or `SecAction` (neither). */
export interface RuleDirective {
  readonly kind: 'rule';
  readonly directive: 'SecRule' | 'SecAction';
  readonly targets: readonly TargetSyntax[];
  readonly operator: OperatorSyntax | null;
  readonly actions: readonly ListItem[];
  readonly location: SourceLocation;
  /** The directive as written (arguments re-quoted), for logs. */
  readonly text: string;
}

export interface MarkerDirective {
  readonly kind: 'marker';
  readonly name: string;
  readonly location: SourceLocation;
}

export interface DefaultActionDirective {
  readonly kind: 'defaultAction';
  readonly actions: readonly ListItem[];
  readonly location: SourceLocation;
}

/** SecRuleRemoveById / ByTag / ByMsg. */
export interface RemoveDirective {
  readonly kind: 'remove';
  readonly by: 'id' | 'tag' | 'msg';
  readonly values: readonly string[];
  readonly location: SourceLocation;
  readonly valueLocations: readonly SourceLocation[];
}

/** SecRuleUpdateTargetById / ByTag / ByMsg. */
export interface UpdateTargetDirective {
  readonly kind: 'updateTarget';
  readonly by: 'id' | 'tag' | 'msg';
  readonly selector: string;
  readonly targets: readonly TargetSyntax[];
  /** The third argument: the target that the new ones replace, when given. */
  readonly replaced: string | null;
  readonly location: SourceLocation;
  readonly selectorLocation: SourceLocation;
}

/** SecRuleUpdateActionById. */
export interface UpdateActionDirective {
  readonly kind: 'updateAction';
  readonly id: string;
  readonly actions: readonly ListItem[];
  readonly location: SourceLocation;
  readonly idLocation: SourceLocation;
}

/** Any other directive: an engine or logging setting, checked for arity and value. */
export interface SettingDirective {
  readonly kind: 'setting';
  /** The canonical spelling (SecRuleEngine, …). */
  readonly name: string;
  readonly args: readonly string[];
  readonly location: SourceLocation;
  /** Set when Warden reads this directive but does not act on it. */
  readonly ignored?: string;
}

export type Directive =
  | RuleDirective
  | MarkerDirective
  | DefaultActionDirective
  | RemoveDirective
  | UpdateTargetDirective
  | UpdateActionDirective
  | SettingDirective;

export interface ParseResult {
  readonly directives: Directive[];
  readonly errors: RuleParseError[];
  readonly warnings: RuleWarning[];
  /** Every file read, in order (Include targets included). */
  readonly files: string[];
}

/** Where rule text comes from: the real file system by default, replaceable in tests. */
export interface RuleSource {
  readFile(path: string): string;
  /** Files matching a path that may contain `*`, `?` and `[…]` in any segment, sorted. */
  glob(pattern: string): string[];
  isDirectory(path: string): boolean;
  listDirectory(path: string): string[];
}

const MAX_INCLUDE_DEPTH = 32;

function quoteArg(a: string): string {
  return /[\s"]/.test(a) || a === '' ? `"${a.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : a;
}

/** Parses one directive's inner syntax, pushing problems to `errors`. */
function parseDirective(raw: RawDirective, errors: RuleParseError[], warnings: RuleWarning[]): Directive | 'include' | null {
  const spec = directiveSpec(raw.name);
  if (spec === undefined) {
    const near = suggest(raw.name, directiveNames());
    errors.push(new RuleParseError(raw.location, `unknown directive "${raw.name}"${near ? ` (did you mean ${near}?)` : ''}`));
    return null;
  }
  const n = raw.args.length;
  if (n < spec.minArgs || n > spec.maxArgs) {
    const expected =
      spec.minArgs === spec.maxArgs
        ? `${spec.minArgs}`
        : spec.maxArgs === Number.POSITIVE_INFINITY
          ? `at least ${spec.minArgs}`
          : `${spec.minArgs} to ${spec.maxArgs}`;
    const hint = spec.name === 'SecRule' && n > 3 ? ' (is a quote or a line continuation missing?)' : '';
    errors.push(new RuleParseError(raw.location, `${spec.name} takes ${expected} argument${expected === '1' ? '' : 's'}, got ${n}${hint}`));
    return null;
  }
  const at = (i: number) => (k: number) => raw.locate(i, k);
  const text = [raw.name, ...raw.args.map(quoteArg)].join(' ');
  switch (spec.name) {
    case 'Include':
    case 'IncludeOptional':
      return 'include';
    case 'SecRule': {
      const t = parseTargets(raw.args[0] as string, at(0));
      errors.push(...t.errors);
      const operator = parseOperator(raw.args[1] as string, at(1));
      const a = raw.args[2] === undefined ? { actions: [], errors: [] } : parseActions(raw.args[2], at(2));
      errors.push(...a.errors);
      return { kind: 'rule', directive: 'SecRule', targets: t.targets, operator, actions: a.actions, location: raw.location, text };
    }
    case 'SecAction': {
      const a = parseActions(raw.args[0] as string, at(0));
      errors.push(...a.errors);
      return { kind: 'rule', directive: 'SecAction', targets: [], operator: null, actions: a.actions, location: raw.location, text };
    }
    case 'SecDefaultAction': {
      const a = parseActions(raw.args[0] as string, at(0));
      errors.push(...a.errors);
      return { kind: 'defaultAction', actions: a.actions, location: raw.location };
    }
    case 'SecMarker':
      return { kind: 'marker', name: raw.args[0] as string, location: raw.location };
    case 'SecRuleRemoveById':
    case 'SecRuleRemoveByTag':
    case 'SecRuleRemoveByMsg':
      return {
        kind: 'remove',
        by: spec.name === 'SecRuleRemoveById' ? 'id' : spec.name === 'SecRuleRemoveByTag' ? 'tag' : 'msg',
        values: raw.args,
        location: raw.location,
        valueLocations: raw.args.map((_, i) => raw.locate(i, 0)),
      };
    case 'SecRuleUpdateTargetById':
    case 'SecRuleUpdateTargetByTag':
    case 'SecRuleUpdateTargetByMsg': {
      const t = parseTargets(raw.args[1] as string, at(1));
      errors.push(...t.errors);
      return {
        kind: 'updateTarget',
        by: spec.name.endsWith('ById') ? 'id' : spec.name.endsWith('ByTag') ? 'tag' : 'msg',
        selector: raw.args[0] as string,
        targets: t.targets,
        replaced: raw.args[2] ?? null,
        location: raw.location,
        selectorLocation: raw.locate(0, 0),
      };
    }
    case 'SecRuleUpdateActionById': {
      const a = parseActions(raw.args[1] as string, at(1));
      errors.push(...a.errors);
      return { kind: 'updateAction', id: raw.args[0] as string, actions: a.actions, location: raw.location, idLocation: raw.locate(0, 0) };
    }
    default: {
      if (spec.value !== undefined && raw.args[0] !== undefined) {
        const problem = checkValue(spec.value, raw.args[0]);
        if (problem !== null) {
          errors.push(new RuleParseError(raw.locate(0, 0), `${spec.name}: ${problem}`));
          return null;
        }
      }
      if (spec.ignored !== undefined) {
        warnings.push({ location: raw.location, message: `${spec.name} is accepted but has no effect in Warden: ${spec.ignored}` });
      }
      const setting: SettingDirective = { kind: 'setting', name: spec.name, args: raw.args, location: raw.location };
      return spec.ignored === undefined ? setting : { ...setting, ignored: spec.ignored };
    }
  }
}

/** Matches one path segment against an fnmatch-style pattern (`*`, `?`, `[…]`, `[!…]`). */
function segmentMatcher(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

const hasWildcard = (s: string): boolean => /[*?[]/.test(s);

/** The real file system, read as bytes. */
export const fileSystemSource: RuleSource = {
  readFile: (path) => readFileSync(path, 'latin1'),
  isDirectory: (path) => {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
  listDirectory: (path) => readdirSync(path).sort(),
  glob(pattern) {
    const absolute = resolve(pattern);
    const parts = absolute.split(sep);
    let bases = [parts[0] === '' ? sep : (parts[0] as string)];
    for (const part of parts.slice(1)) {
      if (part === '') continue;
      const next: string[] = [];
      for (const base of bases) {
        if (!hasWildcard(part)) {
          next.push(join(base, part));
          continue;
        }
        let entries: string[];
        try {
          entries = readdirSync(base).sort();
        } catch {
          continue;
        }
        const m = segmentMatcher(part);
        for (const e of entries) if (m.test(e) && !e.startsWith('.')) next.push(join(base, e));
      }
      bases = next;
    }
    return bases.filter((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    });
  },
};

class Parser {
  readonly directives: Directive[] = [];
  readonly errors: RuleParseError[] = [];
  readonly warnings: RuleWarning[] = [];
  readonly files: string[] = [];
  private readonly stack: string[] = [];

  constructor(private readonly source: RuleSource) {}

  parseText(file: string, text: string): void {
    this.files.push(file);
    this.stack.push(file);
    const lexed = lexSecLang(file, text);
    this.errors.push(...lexed.errors);
    this.warnings.push(...lexed.warnings);
    for (const raw of lexed.directives) {
      const d = parseDirective(raw, this.errors, this.warnings);
      if (d === 'include') this.include(raw, dirname(file));
      else if (d !== null) this.directives.push(d);
    }
    this.stack.pop();
  }

  parseFile(path: string, from?: SourceLocation): void {
    if (this.stack.includes(path)) {
      this.errors.push(new RuleParseError(from ?? { file: path, line: 1, column: 1 }, `include cycle: ${[...this.stack, path].join(' → ')}`));
      return;
    }
    if (this.stack.length >= MAX_INCLUDE_DEPTH) {
      this.errors.push(new RuleParseError(from ?? { file: path, line: 1, column: 1 }, `includes nested deeper than ${MAX_INCLUDE_DEPTH}`));
      return;
    }
    let text: string;
    try {
      text = this.source.readFile(path);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      this.errors.push(new RuleParseError(from ?? { file: path, line: 1, column: 1 }, `cannot read ${path}: ${reason}`));
      return;
    }
    this.parseText(path, text);
  }

  private include(raw: RawDirective, baseDir: string): void {
    const optional = raw.name.toLowerCase() === 'includeoptional';
    const written = raw.args[0] as string;
    const path = isAbsolute(written) ? written : resolve(baseDir, written);
    const where = raw.locate(0, 0);
    let files: string[];
    if (hasWildcard(path)) {
      files = this.source.glob(path);
      if (files.length === 0 && !optional) {
        this.errors.push(new RuleParseError(where, `Include: no file matches ${path} (use IncludeOptional if that is expected)`));
      }
    } else if (this.source.isDirectory(path)) {
      files = this.source.listDirectory(path).map((f) => join(path, f));
    } else {
      files = [path];
      if (optional) {
        try {
          this.source.readFile(path);
        } catch {
          files = [];
        }
      }
    }
    for (const f of files) this.parseFile(f, where);
  }
}

/**
 * Parses rule files (and what they include). Returns every directive and every problem;
 * use {@link loadSecLang} to get an exception instead.
 *
 * @example
 * const r = parseSecLangFiles(['/etc/warden/rules.conf']);
 * if (r.errors.length) console.error(r.errors.map(String).join('\n'));
 */
export function parseSecLangFiles(paths: readonly string[], source: RuleSource = fileSystemSource): ParseResult {
  const parser = new Parser(source);
  for (const p of paths) {
    const abs = resolve(p);
    if (hasWildcard(abs)) {
      const files = source.glob(abs);
      if (files.length === 0) parser.errors.push(new RuleParseError({ file: p, line: 1, column: 1 }, `no file matches ${p}`));
      for (const f of files) parser.parseFile(f);
    } else parser.parseFile(abs);
  }
  return parser;
}

/** Parses rule text given directly (Include paths resolve against `baseDir`). */
export function parseSecLangText(text: string, file = '<inline>', source: RuleSource = fileSystemSource): ParseResult {
  const parser = new Parser(source);
  parser.parseText(file, text);
  return parser;
}

/** Throws a RuleLoadError with every problem when there is any. */
export function assertParsed(result: ParseResult): ParseResult {
  if (result.errors.length > 0) throw new RuleLoadError(result.errors);
  return result;
}
