/**
 * @module engine/rule
 * A compiled rule: everything resolved at load (variables and selectors, operator,
 * transformation chain, actions, metadata), so evaluation only reads fields. Every Rule has
 * the same fields in the same order (one object shape for V8).
 */
import type { SourceLocation } from '../seclang/errors.js';
import type { MacroTemplate } from './macro.js';
import type { Operator } from './operators/types.js';
import type { TransformChain } from './transform-chain.js';
import type { NoMatchMemo } from './no-match-memo.js';
import type { Selector, VariableDef } from './variables.js';
import type { Transaction } from './transaction.js';
import type { RuleLongScreen, RuleScreen } from './prescreen.js';
import { KeyedCollection } from './collection.js';

/** One target of a rule, compiled. */
export interface CompiledTarget {
  readonly def: VariableDef;
  readonly selector: Selector | null;
  readonly counting: boolean;
  /** As written (`ARGS:foo`, `&TX:x`), for explanations and target updates. */
  readonly text: string;
}

/** A non-disruptive action that runs when the rule matches. */
export interface RuleAction {
  readonly name: string;
  /** The parameter as written, for explanations. */
  readonly param: string | null;
  execute(tx: Transaction, rule: Rule): void;
  /** For `setvar:tx.NAME…` with a name without macros: NAME in lower case (the Waf gives it a TX slot). */
  readonly txName?: string;
}

export type DisruptiveKind = 'pass' | 'deny' | 'drop' | 'allow' | 'redirect' | 'block' | 'proxy';

/** What `allow` lets through: the rest of the transaction, of this phase, or of the request. */
export type AllowScope = 'transaction' | 'phase' | 'request';

export const SEVERITY_NAMES = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'] as const;

export class Rule {
  /** The id (0 when the rule has none: a chain link, or a SecAction without id). */
  id: number;
  phase: number;
  targets: CompiledTarget[];
  /** `!VAR` targets: values they select are removed from the others. */
  exclusions: CompiledTarget[];
  operator: Operator | null;
  /** The operator's parameter when it has macros: compiled per distinct expansion. */
  dynamicOperator: { readonly template: MacroTemplate; readonly cache: Map<string, Operator | Error> } | null;
  operatorName: string;
  operatorParam: string;
  negated: boolean;
  transforms: TransformChain | null;
  multiMatch: boolean;
  capture: boolean;
  actions: RuleAction[];
  disruptive: DisruptiveKind;
  /** What `block` resolves to (the phase's default action), or `disruptive` itself. */
  effectiveDisruptive: DisruptiveKind;
  allowScope: AllowScope;
  status: number;
  redirect: MacroTemplate | null;
  pause: number;
  chainNext: Rule | null;
  /** The first rule of the chain this rule belongs to (itself for a starter). */
  starter: Rule;
  /** True when this rule has `chain` (a next link follows). */
  chained: boolean;
  skip: number;
  skipAfter: string | null;
  /**
   * Where skipAfter lands in the rule's phase, as an index in Waf.runPhases (worked out at
   * load): the rule evaluation goes on after — the first marker with the name, or the rule
   * with that id, after this rule; the phase's end when none.
   */
  skipAfterIndex: number;
  /**
   * For each of two or more consecutive rules in a phase that all may be skipped whole on
   * the answer of one screen group (markers between them allowed): the index past the last
   * of them in Waf.runPhases, so that a group answer of "none may match" passes the rest of them at once
   * (from the first, or from one a skipAfter lands on); -1 otherwise.
   */
  groupRunEnd: number;
  msg: MacroTemplate | null;
  logdata: MacroTemplate | null;
  tags: MacroTemplate[];
  severity: number;
  ver: string | null;
  rev: string | null;
  accuracy: number;
  maturity: number;
  log: boolean;
  auditlog: boolean;
  /** Names of arguments / headers to mask in the audit log, and whether matched values are. */
  sanitise: { args: string[]; requestHeaders: string[]; responseHeaders: string[]; matched: boolean; matchedBytes: string | null } | null;
  /** XML namespace prefixes for XPath selectors (`xmlns:prefix=uri`). */
  xmlns: Map<string, string> | null;
  /** True when an action needs the store (initcol …): the phase loop awaits after this rule. */
  usesStore: boolean;
  /** The rule's place in a screen group (engine/prescreen), or null. */
  screen: RuleScreen | null;
  /** The rule's places in the screens for long values, by variable name (engine/prescreen LongScreen), or null. */
  longScreens: Map<string, RuleLongScreen> | null;
  /** A multiMatch rule's places, for the value after each step (index 0 the raw value), or null. */
  longSteps: Array<Map<string, RuleLongScreen> | undefined> | null;
  /** Raw values known not to match, across transactions (engine/no-match-memo), or null. */
  noMatch: NoMatchMemo | null;
  /**
   * The rule's one target when it is a TX variable by name (`TX:x`, `&TX:x`) and nothing
   * else asks for the general path (no exclusions, transformations, multiMatch, screen or
   * memo): the value is looked up instead of collected. CRS tests dozens of these per
   * request (paranoia levels, thresholds, defaults). Set by the Waf; null otherwise.
   */
  txTarget: CompiledTarget | null;
  /** txTarget's slot in the TX collection (engine/collection KeyedCollection.slots), or -1. */
  txSlot: number;
  /** True when whether the rule matches a value depends on the value alone (engine/no-match-memo hasPureVerdict); false with screening off. */
  pureVerdict: boolean;
  /**
   * Rules with the same key look at the same values within a phase (the same targets and
   * exclusions, all of request or response data that rules cannot change): a long list of
   * them is collected once per phase for all of them (engine/prescreen sharedTargetsKey).
   * Null when they cannot be shared.
   */
  targetsKey: string | null;
  /**
   * True when enough other memo rules of the phase share the rule's targetsKey
   * (SHARED_MEMO_RULES) that its list is kept for them whatever its length, and each of
   * them is skipped whole when every value of it is known not to match it.
   */
  shareTargets: boolean;
  /**
   * True for a lone rule on one TX variable (its value, not `&TX:x`) whose match changes
   * nothing but the flow and MATCHED_VAR: a static operator, no actions, no logging, no
   * capture, transformation, severity or pause, `pass` (CRS's paranoia-level gates,
   * `TX:DETECTION_PARANOIA_LEVEL "@lt 2"` with skipAfter, 91 of them on a GET): the phase
   * loop tests its value itself, without the calls and bookkeeping of a rule's evaluation.
   */
  quiet: boolean;
  /**
   * The rule's place in its Waf's list of rules (Waf.rules), set when the Waf is made; -1
   * before. Run-time exclusions keep their answers for a rule by it (engine/rule-filter).
   */
  index: number;
  private metadata: KeyedCollection | null;
  location: SourceLocation;
  /** The directive as written. */
  text: string;

  constructor(location: SourceLocation, text: string) {
    this.id = 0;
    this.phase = 2;
    this.targets = [];
    this.exclusions = [];
    this.operator = null;
    this.dynamicOperator = null;
    this.operatorName = '';
    this.operatorParam = '';
    this.negated = false;
    this.transforms = null;
    this.multiMatch = false;
    this.capture = false;
    this.actions = [];
    this.disruptive = 'pass';
    this.effectiveDisruptive = 'pass';
    this.allowScope = 'transaction';
    this.status = 0;
    this.redirect = null;
    this.pause = 0;
    this.chainNext = null;
    this.starter = this;
    this.chained = false;
    this.skip = 0;
    this.skipAfter = null;
    this.skipAfterIndex = -1;
    this.groupRunEnd = -1;
    this.msg = null;
    this.logdata = null;
    this.tags = [];
    this.severity = -1;
    this.ver = null;
    this.rev = null;
    this.accuracy = 0;
    this.maturity = 0;
    this.log = true;
    this.auditlog = true;
    this.sanitise = null;
    this.xmlns = null;
    this.usesStore = false;
    this.screen = null;
    this.longScreens = null;
    this.longSteps = null;
    this.noMatch = null;
    this.pureVerdict = false;
    this.txTarget = null;
    this.txSlot = -1;
    this.targetsKey = null;
    this.shareTargets = false;
    this.quiet = false;
    this.index = -1;
    this.metadata = null;
    this.location = location;
    this.text = text;
  }

  /** RULE.id, RULE.msg … for `%{rule.*}` macros: built once, rules never change after load. */
  metadataCollection(): KeyedCollection {
    if (this.metadata === null) {
      const c = new KeyedCollection('RULE');
      c.set('id', String(this.id));
      if (this.rev !== null) c.set('rev', this.rev);
      if (this.ver !== null) c.set('ver', this.ver);
      if (this.severity >= 0) c.set('severity', String(this.severity));
      if (this.msg !== null) c.set('msg', this.msg.source);
      if (this.logdata !== null) c.set('logdata', this.logdata.source);
      if (this.accuracy > 0) c.set('accuracy', String(this.accuracy));
      if (this.maturity > 0) c.set('maturity', String(this.maturity));
      c.set('phase', String(this.phase));
      this.metadata = c;
    }
    return this.metadata;
  }

  /** The tags as written (macros unexpanded), for removal by tag and listings. */
  tagSources(): string[] {
    return this.tags.map((t) => t.source);
  }
}

/** A SecMarker: a named place in every phase that skipAfter can jump past. */
export class Marker {
  constructor(
    readonly name: string,
    readonly location: SourceLocation,
  ) {}
}

/** An item of a phase's rule list: a rule (chain starter) or a marker. */
export type PhaseItem = Rule | Marker;
