/**
 * @module engine/waf
 * The Waf: a compiled ruleset and its settings, shared by every transaction and never
 * changed after loading (a reload builds a new Waf). Creating one parses and compiles the
 * rules once; `newTransaction()` is all a request costs up front.
 */
import { dirname } from 'node:path';
import { RuleLoadError, type RuleWarning } from '../seclang/errors.js';
import { parseSecLangFiles, parseSecLangText, type ParseResult, type RuleSource } from '../seclang/parser.js';
import { createMemoryStore } from '../store/memory.js';
import type { CollectionStore } from '../store/types.js';
import { compileRuleset, operatorContext } from './compiler.js';
import type { WafConfig } from './config.js';
import { getOperator, type Operator } from './operators/index.js';
import { FactTable, hasPureVerdict, noMatchMemoFor } from './no-match-memo.js';
import { buildScreens, sharedTargetsKey } from './prescreen.js';
import { Marker, type CompiledTarget, type PhaseItem, type Rule } from './rule.js';
import { Transaction, type TransactionOptions } from './transaction.js';

/**
 * Memo rules of a phase with the same targets (Rule.targetsKey) from which on their list
 * is kept for the phase and each is skipped whole on the facts all its values share.
 */
const SHARED_MEMO_RULES = 4;

export interface WafOptions {
  /** Where persistent collections live (memory when absent). */
  readonly store?: CollectionStore;
  /** Where rule files are read from (the file system when absent). */
  readonly source?: RuleSource;
  /** Let @inspectFile run external programs per uploaded file (off by default). */
  readonly allowInspectFile?: boolean;
  /** Screen @rx rules in RE2.Set passes (on by default; off only to measure or compare). */
  readonly screening?: boolean;
}

/** Counts of a loaded ruleset, as `warden check-rules` prints them. */
export interface RulesetSummary {
  readonly rules: number;
  readonly chainLinks: number;
  readonly markers: number;
  /** Rules (chain starters and lone rules) per phase, index 1–5. */
  readonly byPhase: readonly number[];
  readonly files: number;
}

/**
 * A phase as the transaction runs it: its rules in order, markers left out (a marker only
 * names a place), with each rule's skipAfterIndex and groupRunEnd worked out as indexes in
 * that list. skipAfter lands after the first marker with the name, or rule with the id,
 * after the rule (ModSecurity searches forward), else at the end of the phase; worked out
 * once here rather than by comparing names while skipping at run time. A run of two or
 * more consecutive rules (markers between them allowed) that may all be skipped whole on
 * one screen group's answer gets groupRunEnd (see Rule.groupRunEnd): CRS lists its
 * response-body rules (951xxx, 955xxx) and many request rules one after another with the
 * same transformations and targets.
 */
function runOrder(items: readonly PhaseItem[]): Rule[] {
  const rules: Rule[] = [];
  // before[j]: how many rules come before items[j] (before[items.length]: all of them).
  const before = new Int32Array(items.length + 1);
  for (let j = 0; j < items.length; j++) {
    before[j] = rules.length;
    const item = items[j] as PhaseItem;
    if (!(item instanceof Marker)) rules.push(item);
  }
  before[items.length] = rules.length;
  for (let i = 0; i < items.length; i++) {
    const rule = items[i] as PhaseItem;
    if (rule instanceof Marker || rule.skipAfter === null) continue;
    const target = rule.skipAfter;
    let j = i + 1;
    for (; j < items.length; j++) {
      const item = items[j] as PhaseItem;
      if (item instanceof Marker ? item.name === target : String(item.id) === target) break;
    }
    // The loop goes on at skipAfterIndex + 1: past a rule it lands on, at the first rule after a marker.
    rule.skipAfterIndex = j < items.length && !(items[j] instanceof Marker) ? (before[j] as number) : (before[j] as number) - 1;
  }
  for (let i = 0; i < rules.length; i++) {
    const first = rules[i] as Rule;
    if (first.screen === null || !first.screen.skippable) continue;
    const group = first.screen.group;
    let end = i + 1;
    while (end < rules.length) {
      const next = (rules[end] as Rule).screen;
      if (next === null || !next.skippable || next.group !== group) break;
      end++;
    }
    if (end - i < 2) continue;
    // A later rule of the run (where a skipAfter may land) passes the rest of it.
    for (let j = i; j < end; j++) (rules[j] as Rule).groupRunEnd = end;
    i = end - 1;
  }
  return rules;
}

export class Waf {
  readonly config: WafConfig;
  readonly phases: readonly (readonly PhaseItem[])[];
  /** Each phase's rules as transactions run them (markers left out; see runOrder). */
  readonly runPhases: readonly (readonly Rule[])[];
  readonly rules: readonly Rule[];
  readonly warnings: readonly RuleWarning[];
  readonly files: readonly string[];
  readonly store: CollectionStore;
  /** How many RE2.Set screens the rules were grouped into (engine/prescreen). */
  readonly screenGroups: number;
  /** What the rules' memos and screens know about recent values (engine/no-match-memo). */
  readonly facts = new FactTable();
  /** A slot per TX name that rules read or write by name (engine/collection KeyedCollection.slots). */
  readonly txSlots = new Map<string, number>();
  /** The slots of TX:0 … TX:9 (regex captures), -1 for none. */
  readonly captureSlots = new Int32Array(10);
  private readonly options: WafOptions;

  private constructor(
    parsed: ParseResult,
    options: WafOptions,
  ) {
    const { ruleset, errors } = compileRuleset(parsed.directives, options);
    if (parsed.errors.length > 0 || errors.length > 0) {
      // Report parse and compile problems together, in file order then position.
      const order = new Map(parsed.files.map((f, i) => [f, i]));
      const all = [...parsed.errors, ...errors].sort(
        (a, b) =>
          (order.get(a.location.file) ?? -1) - (order.get(b.location.file) ?? -1) ||
          a.location.line - b.location.line ||
          a.location.column - b.location.column,
      );
      throw new RuleLoadError(all);
    }
    this.config = ruleset.config;
    this.phases = ruleset.phases;
    this.rules = ruleset.rules;
    this.rules.forEach((rule, i) => void (rule.index = i));
    this.warnings = [...parsed.warnings, ...ruleset.warnings];
    this.files = parsed.files;
    this.store = options.store ?? createMemoryStore();
    this.options = options;
    this.screenGroups = options.screening === false ? 0 : buildScreens(this.rules, this.facts);
    for (const r of this.rules) {
      r.targetsKey = sharedTargetsKey(r);
      r.txTarget = txTargetOf(r);
      // The TX names rules read by name get a slot each in every transaction's TX.
      const sel = r.txTarget?.selector;
      if (sel?.kind === 'key') {
        let slot = this.txSlots.get(sel.lower);
        if (slot === undefined) this.txSlots.set(sel.lower, (slot = this.txSlots.size));
        r.txSlot = slot;
        r.quiet =
          !(r.txTarget as NonNullable<Rule['txTarget']>).counting &&
          r.starter === r &&
          r.chainNext === null &&
          r.operator !== null &&
          r.actions.length === 0 &&
          !r.log &&
          !r.auditlog &&
          !r.capture &&
          r.transforms === null &&
          r.severity < 0 &&
          r.pause === 0 &&
          r.sanitise === null &&
          r.effectiveDisruptive === 'pass';
      }
      // So do the TX names rules write by name: writes then fill a slot, and TX's Map keeps
      // only names made by macros (CRS's header_name_920450_*), which `TX:/re/` scans.
      for (const a of r.actions) if (a.txName !== undefined && !this.txSlots.has(a.txName)) this.txSlots.set(a.txName, this.txSlots.size);
      if (options.screening !== false) {
        r.pureVerdict = hasPureVerdict(r);
        // One TX value by name is read straight from the collection: a memo would cost more
        // than the operator (CRS's paranoia-level gates are `TX:… @lt N`).
        r.noMatch = r.txTarget === null ? noMatchMemoFor(r, this.facts) : null;
      }
    }
    const memoRules = new Map<string, Rule[]>();
    for (const r of this.rules) {
      if (r.noMatch === null || r.targetsKey === null) continue;
      const key = `${r.starter.phase}\u0000${r.targetsKey}`;
      memoRules.set(key, [...(memoRules.get(key) ?? []), r]);
    }
    for (const list of memoRules.values()) if (list.length >= SHARED_MEMO_RULES) for (const r of list) r.shareTargets = true;
    for (let d = 0; d < 10; d++) this.captureSlots[d] = this.txSlots.get(String(d)) ?? -1;
    this.runPhases = this.phases.map(runOrder);
  }

  /**
   * Loads rule files (globs allowed) and what they include.
   * Throws RuleLoadError listing every problem with file:line:column.
   *
   * @example
   * const waf = Waf.fromFiles(['crs-setup.conf', 'rules/*.conf']);
   * const tx = waf.newTransaction();
   */
  static fromFiles(paths: readonly string[], options: WafOptions = {}): Waf {
    return new Waf(parseSecLangFiles(paths, options.source), options);
  }

  /** Loads rules given as text (`file` names them in errors; Includes resolve beside it). */
  static fromText(text: string, options: WafOptions & { file?: string } = {}): Waf {
    return new Waf(parseSecLangText(text, options.file ?? '<inline>', options.source), options);
  }

  newTransaction(options?: TransactionOptions): Transaction {
    return new Transaction(this, options);
  }

  summary(): RulesetSummary {
    const byPhase = [0, 0, 0, 0, 0, 0];
    let markers = 0;
    for (let p = 1; p <= 5; p++) {
      for (const item of this.phases[p] ?? []) {
        if ('operatorName' in item) byPhase[p] = (byPhase[p] as number) + 1;
        else if (p === 1) markers++;
      }
    }
    const rules = byPhase.reduce((a, b) => a + b, 0);
    return { rules, chainLinks: this.rules.length - rules, markers, byPhase, files: this.files.length };
  }

  /** Compiles an operator whose parameter came from a macro expansion (cached by the caller). */
  compileOperator(rule: Rule, param: string): Operator {
    const factory = getOperator(rule.operatorName);
    if (factory === undefined) throw new Error(`unknown operator @${rule.operatorName}`);
    return factory(param, { ...operatorContext(dirname(rule.location.file), this.options), pcreMatchLimit: this.config.pcreMatchLimit });
  }
}

/** Rule.txTarget: the one target of a rule that is a TX variable by name, when nothing else needs the general path. */
function txTargetOf(r: Rule): CompiledTarget | null {
  const t = r.targets[0];
  if (r.targets.length !== 1 || t === undefined || t.def.name !== 'TX' || t.selector?.kind !== 'key') return null;
  if (r.exclusions.length > 0 || r.transforms !== null || r.multiMatch || r.screen !== null) return null;
  return t;
}
