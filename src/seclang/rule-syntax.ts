/**
 * @module seclang/rule-syntax
 * The inner syntax of a rule: its target list (`ARGS|!ARGS:foo|&TX:/^x/`), its operator
 * (`!@rx …`) and its action list (`id:1,phase:2,t:lowercase,msg:'…'`), parsed as ModSecurity
 * v2 parses them (one generic `name[:value]` list with `,` or `|` separators and `'…'`
 * quoting where a backslash escapes only `'` and `\`). Names are not resolved here: that is
 * the engine's job, which knows what exists.
 */
import { RuleParseError, type SourceLocation } from './errors.js';

/** Maps an index in the parsed text back to the file. */
export type Locator = (index: number) => SourceLocation;

/** One `name[:value]` item of a target or action list, with positions. */
export interface ListItem {
  readonly name: string;
  /** The value after `:` (unquoted), or null when there was no colon. */
  readonly value: string | null;
  readonly location: SourceLocation;
  /** Where the value starts (the name's location when there is none). */
  readonly valueLocation: SourceLocation;
}

const isSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';

/**
 * ModSecurity v2's generic list syntax (msre_parse_generic): items separated by `,` or `|`
 * (with optional whitespace), each a name up to `:`, `,`, `|` or whitespace, optionally
 * followed by `:` and a value that is either `'quoted'` or runs to `,`, `|` or whitespace.
 */
export function parseList(text: string, locate: Locator): { items: ListItem[]; error: RuleParseError | null } {
  const items: ListItem[] = [];
  let p = 0;
  const n = text.length;
  while (p < n) {
    while (p < n && isSpace(text[p])) p++;
    if (p >= n) break;
    const nameStart = p;
    while (p < n && text[p] !== '|' && text[p] !== ':' && text[p] !== ',' && !isSpace(text[p])) p++;
    const name = text.slice(nameStart, p);
    if (name === '') {
      return { items, error: new RuleParseError(locate(p), `unexpected "${text[p]}": expected a name`) };
    }
    if (text[p] !== ':') {
      items.push({ name, value: null, location: locate(nameStart), valueLocation: locate(nameStart) });
      while (p < n && isSpace(text[p])) p++;
      if (p >= n) break;
      if (text[p] === ',' || text[p] === '|') {
        p++;
        continue;
      }
      return {
        items,
        error: new RuleParseError(locate(p), `unexpected "${text[p]}" after "${name}": expected "," or "|"`),
      };
    }
    p++; // the colon
    const valueStart = p;
    if (p >= n || text[p] === ',' || text[p] === '|') {
      items.push({ name, value: '', location: locate(nameStart), valueLocation: locate(valueStart) });
      if (p < n) p++;
      continue;
    }
    let value = '';
    if (text[p] === "'") {
      const open = p;
      p++;
      let closed = false;
      while (p < n) {
        const c = text[p];
        if (c === '\\') {
          const next = text[p + 1];
          if (next !== "'" && next !== '\\') {
            return {
              items,
              error: new RuleParseError(
                locate(p),
                `invalid escape "\\${next ?? ''}" in quoted value of "${name}": only \\' and \\\\ are allowed`,
              ),
            };
          }
          value += next;
          p += 2;
        } else if (c === "'") {
          closed = true;
          p++;
          break;
        } else {
          value += c;
          p++;
        }
      }
      if (!closed) {
        return { items, error: new RuleParseError(locate(open), `missing closing quote for the value of "${name}"`) };
      }
      items.push({ name, value, location: locate(nameStart), valueLocation: locate(open + 1) });
    } else {
      while (p < n && text[p] !== ',' && text[p] !== '|' && !isSpace(text[p])) p++;
      value = text.slice(valueStart, p);
      items.push({ name, value, location: locate(nameStart), valueLocation: locate(valueStart) });
    }
    while (p < n && (isSpace(text[p]) || text[p] === ',' || text[p] === '|')) p++;
  }
  return { items, error: null };
}

/** A rule target as written. */
export interface TargetSyntax {
  /** `!VAR`: an exclusion. */
  readonly negated: boolean;
  /** `&VAR`: the count of values instead of the values. */
  readonly counting: boolean;
  /** The variable name as written (without `!`/`&`). */
  readonly name: string;
  /** `VAR:selector` (a key, or `/regex/`), or null. */
  readonly selector: string | null;
  readonly location: SourceLocation;
  readonly selectorLocation: SourceLocation;
}

/** Parses a target list (`ARGS|!ARGS:foo|&TX:/^x/`). */
export function parseTargets(text: string, locate: Locator): { targets: TargetSyntax[]; errors: RuleParseError[] } {
  const { items, error } = parseList(text, locate);
  const errors: RuleParseError[] = error ? [error] : [];
  const targets: TargetSyntax[] = [];
  if (items.length === 0 && error === null) {
    errors.push(new RuleParseError(locate(0), 'no variables: a rule needs at least one target'));
  }
  for (const item of items) {
    let name = item.name;
    let negated = false;
    let counting = false;
    if (name.startsWith('!')) {
      negated = true;
      name = name.slice(1);
    } else if (name.startsWith('&')) {
      counting = true;
      name = name.slice(1);
    }
    if (name === '' || name.startsWith('!') || name.startsWith('&')) {
      errors.push(new RuleParseError(item.location, `invalid variable "${item.name}"`));
      continue;
    }
    targets.push({
      negated,
      counting,
      name,
      selector: item.value,
      location: item.location,
      selectorLocation: item.valueLocation,
    });
  }
  return { targets, errors };
}

/** A rule operator as written. */
export interface OperatorSyntax {
  readonly negated: boolean;
  /** The name without `@` (`rx` when the rule gave a bare pattern). */
  readonly name: string;
  readonly param: string;
  readonly location: SourceLocation;
  readonly paramLocation: SourceLocation;
}

/**
 * Parses an operator (`!@rx foo`, `@eq 0`, or a bare regex): as v2 does, `!` negates
 * (whitespace may follow it), `@name` selects an operator, the parameter is the rest after
 * whitespace, and text without `@` is a regular expression.
 */
export function parseOperator(text: string, locate: Locator): OperatorSyntax {
  let p = 0;
  let negated = false;
  if (text[p] === '!') {
    negated = true;
    p++;
    while (p < text.length && isSpace(text[p])) p++;
  }
  if (text[p] !== '@') {
    return { negated, name: 'rx', param: text.slice(p), location: locate(p), paramLocation: locate(p) };
  }
  const nameStart = p;
  p++;
  while (p < text.length && !isSpace(text[p])) p++;
  const name = text.slice(nameStart + 1, p);
  while (p < text.length && isSpace(text[p])) p++;
  return { negated, name, param: text.slice(p), location: locate(nameStart), paramLocation: locate(p) };
}

/** Parses an action list; the items are resolved by the engine. */
export function parseActions(text: string, locate: Locator): { actions: ListItem[]; errors: RuleParseError[] } {
  const { items, error } = parseList(text, locate);
  return { actions: items, errors: error ? [error] : [] };
}
