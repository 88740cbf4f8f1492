/**
 * @module engine/compiler
 * Directives → a compiled ruleset: settings applied, rules built (targets, operator,
 * transformations and actions resolved; SecDefaultAction of the rule's phase merged in
 * first, so the rule's own actions override it), chains linked, markers placed in every
 * phase, and SecRuleRemove* / SecRuleUpdate* applied to the rules defined before them, as
 * ModSecurity does. Every problem is collected with its position; nothing stops at the first.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { RuleParseError, type RuleWarning, type SourceLocation } from '../seclang/errors.js';
import type {
  DefaultActionDirective,
  Directive,
  RemoveDirective,
  RuleDirective,
  UpdateActionDirective,
  UpdateTargetDirective,
} from '../seclang/parser.js';
import type { ListItem, TargetSyntax } from '../seclang/rule-syntax.js';
import { suggest } from '../seclang/directives.js';
import { actionNames, ActionError, getAction, parseIdRanges, type ActionDef } from './actions/index.js';
import { applySetting, defaultConfig, type WafConfig } from './config.js';
import { compileMacro, hasMacro, MacroError } from './macro.js';
import { getOperator, operatorNames, OperatorParamError, type OperatorContext } from './operators/index.js';
import { Marker, Rule, type CompiledTarget, type DisruptiveKind, type PhaseItem } from './rule.js';
import { compileRegex } from './regex/index.js';
import { resolveTarget, SelectorError, variableNames } from './variables.js';

/** The compiled rules of a Waf, by phase (index 1–5), plus what loading learnt. */
export interface Ruleset {
  readonly config: WafConfig;
  /** phases[1] … phases[5]; index 0 is unused. */
  readonly phases: readonly PhaseItem[][];
  /** Every rule (chain starters and links) in load order. */
  readonly rules: readonly Rule[];
  readonly warnings: readonly RuleWarning[];
}

const METADATA_IN_LINK = new Set(['id', 'rev', 'msg', 'tag', 'severity', 'ver', 'accuracy', 'maturity', 'logdata']);

interface DefaultAction {
  readonly items: readonly ListItem[];
  readonly disruptive: DisruptiveKind;
}

export interface CompileOptions {
  /** Let @inspectFile run external programs (off by default). */
  readonly allowInspectFile?: boolean;
}

class Compiler {
  constructor(private readonly options: CompileOptions) {}

  readonly config: WafConfig = defaultConfig();
  readonly phases: PhaseItem[][] = [[], [], [], [], [], []];
  readonly rules: Rule[] = [];
  readonly errors: RuleParseError[] = [];
  readonly warnings: RuleWarning[] = [];
  private readonly defaults = new Map<number, DefaultAction>();
  private readonly ids = new Map<number, Rule>();
  /** The last rule of an open chain (its `chain` action asks for a next rule). */
  private openChain: Rule | null = null;

  compile(directives: readonly Directive[]): void {
    for (const d of directives) {
      switch (d.kind) {
        case 'setting': {
          const problem = applySetting(this.config, d);
          if (problem !== null) this.error(d.location, problem);
          break;
        }
        case 'defaultAction':
          this.defaultAction(d);
          break;
        case 'rule':
          this.rule(d);
          break;
        case 'marker':
          this.closeChain(d.location);
          for (let p = 1; p <= 5; p++) (this.phases[p] as PhaseItem[]).push(new Marker(d.name, d.location));
          break;
        case 'remove':
          this.closeChain(d.location);
          this.remove(d);
          break;
        case 'updateTarget':
          this.closeChain(d.location);
          this.updateTarget(d);
          break;
        case 'updateAction':
          this.closeChain(d.location);
          this.updateAction(d);
          break;
      }
    }
    if (this.openChain !== null) {
      this.error(this.openChain.location, 'the last rule has "chain" but no rule follows it');
    }
  }

  private error(location: SourceLocation, reason: string): void {
    this.errors.push(new RuleParseError(location, reason));
  }

  private closeChain(at: SourceLocation): void {
    if (this.openChain !== null) {
      this.error(this.openChain.location, `rule has "chain" but the next directive (line ${at.line}) is not a rule`);
      this.openChain = null;
    }
  }

  private defaultAction(d: DefaultActionDirective): void {
    const probe = new Rule(d.location, 'SecDefaultAction');
    let hasDisruptive = false;
    for (const item of d.actions) {
      const def = getAction(item.name);
      if (def === undefined) continue; // reported by applyActions below
      if (def.kind === 'metadata' || def.name === 'chain' || def.name === 'skip' || def.name === 'skipAfter') {
        this.error(item.location, `SecDefaultAction cannot contain "${def.name}": metadata and flow actions belong to rules`);
      }
      if (def.kind === 'disruptive') hasDisruptive = true;
    }
    this.applyActions(probe, d.actions, false, false);
    const phase = probe.phase;
    if (!hasDisruptive) this.error(d.location, 'SecDefaultAction must contain a disruptive action (e.g. pass, deny or block)');
    if (probe.disruptive === 'block') this.error(d.location, 'SecDefaultAction cannot use "block": block means "the default action"');
    this.defaults.set(phase, { items: d.actions.filter((i) => i.name.toLowerCase() !== 'phase'), disruptive: probe.disruptive });
  }

  /** Applies action items to a rule in order (later items override earlier ones). */
  private applyActions(rule: Rule, items: readonly ListItem[], chainLink: boolean, fromDefault: boolean): void {
    for (const item of items) {
      const def = getAction(item.name);
      if (def === undefined) {
        const near = suggest(item.name, actionNames());
        this.error(item.location, `unknown action "${item.name}"${near ? ` (did you mean ${near}?)` : ''}`);
        continue;
      }
      if (!this.checkParam(def, item)) continue;
      if (chainLink && !fromDefault) {
        const why = this.linkRestriction(def);
        if (why !== null) {
          this.error(item.location, why);
          continue;
        }
      }
      try {
        def.compile(item.value, {
          rule,
          chainLink,
          fromDefault,
          location: item.valueLocation,
          warn: (message) => this.warnings.push({ location: item.location, message }),
        });
      } catch (err) {
        if (err instanceof ActionError) this.error(item.valueLocation, err.message);
        else throw err;
      }
    }
  }

  private checkParam(def: ActionDef, item: ListItem): boolean {
    if (def.param === 'required' && (item.value === null || item.value === '')) {
      this.error(item.location, `action "${def.name}" needs a value ("${def.name}:…")`);
      return false;
    }
    if (def.param === 'none' && item.value !== null) {
      this.error(item.location, `action "${def.name}" takes no value, got "${def.name}:${item.value}"`);
      return false;
    }
    return true;
  }

  /** Why an action may not appear in the second or later rule of a chain (v2's rules), or null. */
  private linkRestriction(def: ActionDef): string | null {
    if (def.kind === 'disruptive') return `"${def.name}" is disruptive: only the first rule of a chain may have a disruptive action`;
    if (def.name === 'phase') return 'only the first rule of a chain may set the phase';
    if (def.name === 'skip' || def.name === 'skipAfter') return `"${def.name}" may only be used by the first rule of a chain`;
    if (METADATA_IN_LINK.has(def.name)) return `"${def.name}" is metadata: only the first rule of a chain may have it`;
    return null;
  }

  private rule(d: RuleDirective): void {
    const starter = this.openChain?.starter ?? null;
    const link = starter !== null;
    const rule = new Rule(d.location, d.text);
    if (link) rule.starter = starter as Rule;
    // The phase decides which SecDefaultAction applies, so find it first.
    const phase = link ? (starter as Rule).phase : this.phaseOf(d);
    const defaults = this.defaults.get(phase);
    if (defaults !== undefined) {
      const inherited = link ? defaults.items.filter((i) => getAction(i.name)?.kind !== 'disruptive') : defaults.items;
      this.applyActions(rule, inherited, link, true);
    }
    this.applyActions(rule, link ? d.actions : d.actions.filter((i) => i.name.toLowerCase() !== 'phase'), link, false);
    rule.phase = phase;

    // Targets and operator.
    for (const t of d.targets) this.target(rule, t);
    if (d.operator !== null) this.operator(rule, d);

    // Disruptive action: `block` is whatever the phase's default is.
    rule.effectiveDisruptive = rule.disruptive === 'block' ? (defaults?.disruptive ?? 'pass') : rule.disruptive;
    if (phase === 5 && !['pass', 'allow'].includes(rule.effectiveDisruptive) && !link) {
      this.error(d.location, `a rule in phase 5 (logging) cannot be disruptive ("${rule.disruptive}"): the response is already sent`);
    }

    if (link) {
      const prev = this.openChain as Rule;
      prev.chainNext = rule;
      rule.starter = starter as Rule;
    } else {
      if (rule.id === 0) {
        this.error(d.location, `${d.directive} needs an "id" action (every rule that starts a chain or stands alone has one)`);
      } else {
        const dup = this.ids.get(rule.id);
        if (dup !== undefined) {
          this.error(d.location, `duplicate rule id ${rule.id}: already used at ${dup.location.file}:${dup.location.line}`);
        } else this.ids.set(rule.id, rule);
      }
      (this.phases[phase] as PhaseItem[]).push(rule);
    }
    this.rules.push(rule);
    this.openChain = rule.chained ? rule : null;
  }

  /** The phase a rule asks for (2 when it names none). */
  private phaseOf(d: RuleDirective): number {
    const probe = new Rule(d.location, d.text);
    this.applyActions(probe, d.actions.filter((i) => i.name.toLowerCase() === 'phase'), false, false);
    return probe.phase;
  }

  private target(rule: Rule, t: TargetSyntax): void {
    try {
      const ref = resolveTarget(t.name, t.selector, t.counting, rule.xmlns);
      if (t.negated && t.counting) throw new Error('a target cannot be both excluded (!) and counted (&)');
      const compiled: CompiledTarget = ref;
      if (t.negated) rule.exclusions.push(compiled);
      else rule.targets.push(compiled);
    } catch (err) {
      const message = (err as Error).message;
      if (message.startsWith('unknown variable')) {
        const near = suggest(t.name, variableNames());
        this.error(t.location, `${message}${near ? ` (did you mean ${near}?)` : ''}`);
      } else this.error(err instanceof SelectorError || /does not take a selector/.test(message) ? t.selectorLocation : t.location, message);
    }
  }

  private operator(rule: Rule, d: RuleDirective): void {
    const op = d.operator as NonNullable<RuleDirective['operator']>;
    const factory = getOperator(op.name);
    rule.operatorName = op.name;
    rule.operatorParam = op.param;
    rule.negated = op.negated;
    if (factory === undefined) {
      const near = suggest(op.name, operatorNames());
      this.error(op.location, `unknown operator "@${op.name}"${near ? ` (did you mean @${near}?)` : ''}`);
      return;
    }
    const ctx: OperatorContext = {
      ...operatorContext(dirname(d.location.file), this.options),
      pcreMatchLimit: this.config.pcreMatchLimit,
      warn: (message) => this.warnings.push({ location: op.location, message: `rule ${rule.starter.id}: ${message}` }),
    };
    if (hasMacro(op.param)) {
      try {
        rule.dynamicOperator = { template: compileMacro(op.param), cache: new Map() };
      } catch (err) {
        if (err instanceof MacroError) this.error(op.paramLocation, err.message);
        else throw err;
      }
      return;
    }
    try {
      rule.operator = factory(op.param, ctx);
    } catch (err) {
      if (err instanceof OperatorParamError || err instanceof Error) {
        this.error(op.paramLocation, `@${op.name}: ${(err as Error).message}`);
      } else throw err;
    }
  }

  /** Rules (chain starters) selected by id ranges, a tag regex or a msg regex. */
  private select(by: 'id' | 'tag' | 'msg', value: string, at: SourceLocation): Rule[] {
    if (by === 'id') {
      let ranges: Array<[number, number]>;
      try {
        ranges = parseIdRanges(value);
      } catch (err) {
        this.error(at, (err as Error).message);
        return [];
      }
      return this.rules.filter((r) => r.starter === r && ranges.some(([lo, hi]) => r.id >= lo && r.id <= hi));
    }
    let re;
    try {
      re = compileRegex(value);
    } catch (err) {
      this.error(at, `invalid regular expression: ${(err as Error).message}`);
      return [];
    }
    return this.rules.filter((r) => {
      if (r.starter !== r) return false;
      if (by === 'tag') return r.tags.some((t) => re.test(t.source));
      return r.msg !== null && re.test(r.msg.source);
    });
  }

  private remove(d: RemoveDirective): void {
    const removed = new Set<Rule>();
    d.values.forEach((v, i) => {
      for (const r of this.select(d.by, v, d.valueLocations[i] ?? d.location)) removed.add(r);
    });
    if (removed.size === 0) return;
    for (let p = 1; p <= 5; p++) this.phases[p] = (this.phases[p] as PhaseItem[]).filter((item) => !(item instanceof Rule && removed.has(item)));
    for (const r of removed) this.ids.delete(r.id);
  }

  private updateTarget(d: UpdateTargetDirective): void {
    const rules = this.select(d.by, d.selector, d.selectorLocation);
    if (rules.length === 0) {
      this.warnings.push({ location: d.location, message: `no rule matches ${d.by} "${d.selector}": nothing to update` });
      return;
    }
    const adds: CompiledTarget[] = [];
    const excludes: CompiledTarget[] = [];
    for (const t of d.targets) {
      try {
        const ref = resolveTarget(t.name, t.selector, t.counting);
        (t.negated ? excludes : adds).push(ref);
      } catch (err) {
        this.error(t.location, (err as Error).message);
      }
    }
    for (const r of rules) {
      if (d.replaced !== null) {
        const i = r.targets.findIndex((t) => t.text.toLowerCase() === d.replaced?.toLowerCase());
        if (i < 0) {
          this.warnings.push({ location: d.location, message: `rule ${r.id} has no target ${d.replaced} to replace` });
          continue;
        }
        r.targets.splice(i, 1, ...adds);
      } else r.targets.push(...adds);
      r.exclusions.push(...excludes);
    }
  }

  private updateAction(d: UpdateActionDirective): void {
    const rule = /^\d+$/.test(d.id) ? this.ids.get(Number(d.id)) : undefined;
    if (rule === undefined) {
      this.error(d.idLocation, `SecRuleUpdateActionById: no rule with id "${d.id}" is defined before this line`);
      return;
    }
    for (const item of d.actions) {
      const name = item.name.toLowerCase();
      if (name === 'id' || name === 'phase' || name === 'chain') {
        this.error(item.location, `SecRuleUpdateActionById cannot change "${item.name}"`);
      }
    }
    const before = rule.disruptive;
    this.applyActions(rule, d.actions.filter((i) => !['id', 'phase', 'chain'].includes(i.name.toLowerCase())), false, false);
    if (rule.disruptive !== before) {
      rule.effectiveDisruptive = rule.disruptive === 'block' ? (this.defaults.get(rule.phase)?.disruptive ?? 'pass') : rule.disruptive;
    }
  }
}

/** The operator context for rules of a file in `baseDir`: files read as bytes, relative to it. */
export function operatorContext(baseDir: string, options: CompileOptions = {}): OperatorContext {
  return {
    baseDir,
    allowInspectFile: options.allowInspectFile === true,
    readFile: (path) => readFileSync(isAbsolute(path) ? path : resolve(baseDir, path), 'latin1'),
  };
}

/** Compiles directives; returns the ruleset and every error found. */
export function compileRuleset(directives: readonly Directive[], options: CompileOptions = {}): { ruleset: Ruleset; errors: RuleParseError[] } {
  const c = new Compiler(options);
  c.compile(directives);
  return { ruleset: { config: c.config, phases: c.phases, rules: c.rules, warnings: c.warnings }, errors: c.errors };
}
