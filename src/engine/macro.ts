/**
 * @module engine/macro
 * `%{…}` macro expansion in action and operator parameters (`%{tx.anomaly_score}`,
 * `%{MATCHED_VAR}`, `%{request_headers.host}`, `%{rule.id}`), compiled once at load into
 * literal parts and variable references. As in ModSecurity v2, the name is split at the
 * first `.` into variable and key, a macro expands to the first value of its variable, and
 * one that resolves to nothing expands to nothing; a `%` not followed by `{…}` is literal.
 */
import { compileSelector, getVariable, type Selector, type VariableDef } from './variables.js';
import type { Transaction } from './transaction.js';
import { detached } from './no-match-memo.js';

interface MacroRef {
  readonly def: VariableDef;
  readonly selector: Selector | null;
  /** As written, for explanations. */
  readonly text: string;
}

/** A parameter with macros: literal strings alternating with references. */
export interface MacroTemplate {
  /** The text as written. */
  readonly source: string;
  /** Literal parts; `parts.length === refs.length + 1`. */
  readonly parts: readonly string[];
  readonly refs: readonly MacroRef[];
  /** For a template with one reference: its recent expansions by the reference's value (see expandMacro). */
  expansions?: Map<string, string>;
}

/** Values longer than this are expanded afresh each time, not remembered. */
const EXPANSION_VALUE_MAX = 64;
/** Expansions a template remembers before it starts over. */
const EXPANSIONS_KEPT = 64;

export class MacroError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'MacroError';
  }
}

/** True when `text` contains at least one `%{…}` macro. */
export function hasMacro(text: string): boolean {
  const i = text.indexOf('%{');
  return i >= 0 && text.indexOf('}', i + 2) > i + 2;
}

/**
 * Compiles `text`; throws MacroError (with the offset in `text`) for a macro naming an
 * unknown variable.
 */
export function compileMacro(text: string): MacroTemplate {
  const parts: string[] = [];
  const refs: MacroRef[] = [];
  let literal = '';
  let p = 0;
  while (p < text.length) {
    const at = text.indexOf('%{', p);
    const close = at < 0 ? -1 : text.indexOf('}', at + 2);
    if (at < 0 || close < 0 || close === at + 2) {
      literal += text.slice(p);
      break;
    }
    literal += text.slice(p, at);
    const inner = text.slice(at + 2, close);
    const dot = inner.indexOf('.');
    let name = dot < 0 ? inner : inner.slice(0, dot);
    let key: string | null = dot < 0 ? null : inner.slice(dot + 1);
    if (name.length > 5 && name.toUpperCase().startsWith('HTTP_')) {
      key = name.slice(5);
      name = 'REQUEST_HEADERS';
    }
    const def = getVariable(name);
    if (def === undefined) throw new MacroError(`unknown variable "${name}" in macro %{${inner}}`, at);
    if (key !== null && !def.collection) throw new MacroError(`variable ${def.name} takes no key, in macro %{${inner}}`, at);
    parts.push(literal);
    literal = '';
    refs.push({ def, selector: key === null ? null : compileSelector(def, key), text: `%{${inner}}` });
    p = close + 1;
  }
  parts.push(literal);
  return { source: text, parts, refs };
}

/**
 * Expands a template in the context of a transaction.
 *
 * A template with one reference between literals (CRS's `tx.header_name_920450_%{tx.0}`
 * and `/%{tx.0}/`, once per request header) gives the same string object for the same
 * value: the value is usually the same string as before too (a header name's lower case,
 * kept with the header from request to request on a keep-alive connection: engine
 * HeaderCarry), and the string made from it then comes with its hash, flat, so the TX
 * variable it names, the selectors that scan TX names and @within's answers find it
 * without hashing or flattening a new string each time.
 */
export function expandMacro(tpl: MacroTemplate, tx: Transaction): string {
  if (tpl.refs.length === 0) return tpl.parts[0] as string;
  if (tpl.refs.length === 1) {
    const ref = tpl.refs[0] as MacroRef;
    const value = tx.firstValue(ref.def, ref.selector) ?? '';
    const before = tpl.parts[0] as string;
    const after = tpl.parts[1] as string;
    if (before === '' && after === '') return value;
    if (value.length > EXPANSION_VALUE_MAX) return before + value + after;
    let kept = tpl.expansions;
    if (kept === undefined) tpl.expansions = kept = new Map();
    let out = kept.get(value);
    if (out === undefined) {
      // A copy of its own: a value that is a slice of a request body would keep the body alive.
      const own = detached(value);
      out = before + own + after;
      if (kept.size >= EXPANSIONS_KEPT) kept.clear();
      kept.set(own, out);
    }
    return out;
  }
  let out = tpl.parts[0] as string;
  for (let i = 0; i < tpl.refs.length; i++) {
    const ref = tpl.refs[i] as MacroRef;
    out += tx.firstValue(ref.def, ref.selector) ?? '';
    out += tpl.parts[i + 1] as string;
  }
  return out;
}
