/**
 * @module engine/prescreen
 * One RE2.Set pass instead of dozens of regex calls, and whole rules skipped without
 * looking at their values. CRS applies many `@rx` rules with the same transformations to
 * the same values (every argument, every cookie); calling each regex costs a native call
 * and a UTF-8 conversion per rule and value. At load, the rules whose operator offers a
 * screen (an RE2 pattern that matches whenever the operator would) are grouped by
 * transformation chain, and each group of at least MIN_GROUP becomes one RE2.Set.
 *
 * At run time there are two levels:
 * - per value: the first rule of a group that looks at a value runs the set once; the
 *   answer is kept on the value's Entry, and every rule of the group whose screen did not
 *   match skips its operator for that value;
 * - per rule: when a group's rules only look at request data that cannot change while a
 *   phase runs (arguments, headers, cookies, the URI, bodies — not TX or MATCHED_VARS),
 *   the transaction runs the set once per phase over every value any member looks at, and
 *   a member whose screen matched none of them is not evaluated at all: its targets are
 *   not even collected. Its values are a subset of that union (exclusions only remove), so
 *   no value it would have looked at could have matched.
 * Rules whose screen matched run their operator as usual (for captures, exact semantics
 * and match limits), so results are the same with or without screening.
 *
 * Requests repeat themselves: the same User-Agent, Accept and cookie names arrive again
 * and again. Each group also remembers the answers for recent raw values (before its
 * transformations, which are pure functions of the value), so a value seen before costs
 * an array read: neither its transformations nor the set run again. The answers are kept
 * with the rest of what the Waf knows about a value (engine/no-match-memo FactTable,
 * bounded, starting over when full), from the value's second sighting on.
 *
 * Long values are screened once per transformation chain and variable. Scanning a value
 * costs RE2 about the same per byte whether a set holds three patterns or sixty (measured:
 * 172 of CRS's raw-value screens over 900 KB in one set 1.8 ms, in sets of 8 24 ms), so for
 * a value of LONG_VALUE bytes or more (a request body, a large form field) the cost is the
 * number of passes: one per group and one per rule outside any group came to ~40 passes
 * over a 900 KB field in CRS (~34 ms). Every screened rule therefore also has a place in a
 * LongScreen for each variable it looks at, which holds the screens of the rules applying
 * the same chain to that variable (ARGS, REQUEST_BODY…) whatever else they look at; a long
 * value is scanned by it once, and groups and single rules read their answers from that
 * pass. Not one screen per chain: a request body that a few rules look at raw would then be
 * scanned for all of CRS's raw-value screens, which costs more per byte on dense input.
 */
import RE2 from 're2';
import type { Entry } from './collection.js';
import type { FactTable } from './no-match-memo.js';
import { utf8Of } from './regex/index.js';
import type { CompiledTarget, Rule } from './rule.js';
import { applyChain, type TransformChain } from './transform-chain.js';

/** Smaller groups gain nothing: one set pass costs about what two regex calls cost (measured). */
export const MIN_GROUP = 3;

/**
 * Variables whose values stay the same from the first rule of a phase to the last: the
 * request and response as received. Rules write TX, ENV and the persistent collections,
 * and MATCHED_VAR(S) change with every match, so rules looking at those are screened per
 * value only.
 */
const STABLE = new Set([
  'REQUEST_LINE', 'REQUEST_METHOD', 'REQUEST_PROTOCOL', 'REQUEST_URI', 'REQUEST_URI_RAW', 'REQUEST_FILENAME',
  'REQUEST_BASENAME', 'QUERY_STRING', 'ARGS', 'ARGS_GET', 'ARGS_POST', 'ARGS_NAMES', 'ARGS_GET_NAMES',
  'ARGS_POST_NAMES', 'REQUEST_HEADERS', 'REQUEST_HEADERS_NAMES', 'REQUEST_COOKIES', 'REQUEST_COOKIES_NAMES',
  'REQUEST_BODY', 'XML', 'FILES', 'FILES_NAMES', 'MULTIPART_PART_HEADERS', 'RESPONSE_HEADERS',
  'RESPONSE_HEADERS_NAMES', 'RESPONSE_BODY', 'REMOTE_ADDR', 'SERVER_NAME',
]);

/**
 * A transformed value at least this long is screened by a LongScreen rather than by group
 * sets and single rules one pass each. Shorter values do better without: RE2 builds the DFA
 * states a value needs as it goes, and a larger set needs more of them (an 8 KB query
 * string took 10–25 % longer with 4 KB here; 64 KB values gained 20 % from 16 KB on).
 */
export const LONG_VALUE = 16384;

/** How many more screens than a variable's rules a shared LongScreen may hold. */
const LONG_SLACK = 16;

/** How many patterns a LongScreen's RE2.Set starts with; a set RE2 will not compile is split in halves. */
const LONG_SET_MAX = 256;

/**
 * Answers for recent long values, shared by every LongScreen and bounded in total: the
 * values are kept alive while listed, and a request body may be megabytes long.
 */
const LONG_KEPT_ENTRIES = 64;
const LONG_KEPT_BYTES = 16 << 20;
const longKept: Array<{ screen: LongScreen; value: string; answer: Uint8Array }> = [];
let longKeptBytes = 0;

/**
 * Keeps a long value's answer for a screen. A value several screens were answered for is
 * counted once towards the bound: it is one string.
 */
function keepLongAnswer(screen: LongScreen, value: string, answer: Uint8Array): void {
  if (value.length > LONG_KEPT_BYTES) return;
  if (!longKept.some((k) => k.value === value)) longKeptBytes += value.length;
  longKept.push({ screen, value, answer });
  while (longKept.length > LONG_KEPT_ENTRIES || longKeptBytes > LONG_KEPT_BYTES) {
    const gone = longKept.shift() as (typeof longKept)[number];
    if (!longKept.some((k) => k.value === gone.value)) longKeptBytes -= gone.value.length;
  }
}

/** A kept answer of `screen` for `value`, if any. */
function keptLongAnswer(screen: LongScreen, value: string): Uint8Array | undefined {
  for (let i = longKept.length - 1; i >= 0; i--) {
    const k = longKept[i] as (typeof longKept)[number];
    if (k.screen === screen && k.value === value) return k.answer;
  }
  return undefined;
}

/** How many long-value answers are kept and the length of their values (for tests). */
export function longAnswersKept(): { entries: number; bytes: number } {
  return { entries: longKept.length, bytes: longKeptBytes };
}

/**
 * For long values: the screens of the rules applying one transformation chain to one
 * variable (or to variables nearly the same rules look at), and which of them may match a
 * value (1) and which cannot (0). Recent answers are kept: rule after rule asks about the
 * same transformed value (the same string; another string is compared only when its length
 * agrees).
 */
export class LongScreen {
  /** The sets covering the members in order: set k answers for members offsets[k]… */
  private readonly sets: RE2Set[];
  private readonly offsets: number[] = [];
  /** This screen's patterns, then its riders': where each is in `unique`. */
  private readonly placeOf: Int32Array;
  /**
   * The patterns the sets hold, each once: rules with the same screen (CRS's 942420-942432
   * after shortening, see regex/analyze shortenedCounts) cost a set one copy.
   */
  private readonly unique: readonly string[];
  /**
   * Screens whose answers this one's passes give too (see buildLongScreens), and where their
   * patterns start after this screen's own (in placeOf, and in a pass's combined answer).
   */
  private readonly riders: ReadonlyArray<{ readonly screen: LongScreen; readonly from: number }>;

  /** The screen this one rides on for a variable (see buildLongScreens); set once all are built. */
  bases: ReadonlyMap<string, LongScreen> = new Map();

  /**
   * Compiled at load (CRS v4's 32 screens: 60–115 ms and 8–22 MB resident, measured): compiled
   * at first use instead, they would add that time to the first long request a worker sees.
   */
  constructor(
    private readonly patterns: readonly string[],
    riders: readonly LongScreen[] = [],
    /** The transformations that make the values it scans (null: raw values). */
    readonly chain: TransformChain | null = null,
  ) {
    const all = [...patterns];
    this.riders = riders.map((screen) => {
      const from = all.length;
      all.push(...screen.patterns);
      return { screen, from };
    });
    const places = new Map<string, number>();
    this.placeOf = Int32Array.from(all, (p) => {
      let at = places.get(p);
      if (at === undefined) places.set(p, (at = places.size));
      return at;
    });
    this.unique = [...places.keys()];
    this.sets = this.build();
  }

  /**
   * The answer for `value`, the value of `entry` (of `variable`) after this screen's chain.
   * When the screen it rides on for that variable scans the same string for that entry (the
   * steps in between changed nothing), that screen's pass answers for both, whichever of
   * them is asked first.
   */
  answerFor(value: string, entry: Entry, variable: string): Uint8Array {
    const kept = keptLongAnswer(this, value);
    if (kept !== undefined) return kept;
    const base = this.bases.get(variable);
    if (base !== undefined && (base.chain === null ? entry.value : applyChain(base.chain, entry)) === value) base.answer(value);
    return this.answer(value);
  }

  answer(value: string): Uint8Array {
    const kept = keptLongAnswer(this, value);
    if (kept !== undefined) return kept;
    const found = new Uint8Array(this.unique.length);
    const sets = this.sets;
    const bytes = utf8Of(value);
    for (let k = 0; k < sets.length; k++) {
      const base = this.offsets[k] as number;
      const set = sets[k] as RE2Set;
      try {
        const hits = set.match(bytes);
        for (let i = 0; i < hits.length; i++) found[base + (hits[i] as number)] = 1;
      } catch {
        // RE2's DFA ran out of memory on this value: every member of that set may match.
        found.fill(1, base, base + set.size);
      }
    }
    const placeOf = this.placeOf;
    const out = new Uint8Array(placeOf.length);
    for (let i = 0; i < placeOf.length; i++) out[i] = found[placeOf[i] as number] as number;
    const mine = out.subarray(0, this.patterns.length);
    keepLongAnswer(this, value, mine);
    for (const { screen, from } of this.riders) keepLongAnswer(screen, value, out.subarray(from, from + screen.patterns.length));
    return mine;
  }

  /**
   * The distinct screens in as few sets as RE2 compiles (a set it refuses is split in
   * halves; a pattern it refuses alone answers "may match" always).
   */
  private build(): RE2Set[] {
    const sets: RE2Set[] = [];
    const always = '(?:)'; // matches every value
    const add = (from: number, to: number): void => {
      try {
        sets.push(new RE2.Set(this.unique.slice(from, to)));
        this.offsets.push(from);
      } catch {
        if (to - from === 1) {
          sets.push(new RE2.Set([always]));
          this.offsets.push(from);
          return;
        }
        const mid = (from + to) >> 1;
        add(from, mid);
        add(mid, to);
      }
    };
    for (let from = 0; from < this.unique.length; from += LONG_SET_MAX) add(from, Math.min(this.unique.length, from + LONG_SET_MAX));
    return sets;
  }
}

/** A rule in a LongScreen: a multiMatch rule once per step (`step`: 0 the raw value), any other once (-1). */
interface LongMember {
  readonly rule: Rule;
  readonly step: number;
  readonly variable: string;
}

/** A rule's place in a LongScreen. */
export interface RuleLongScreen {
  readonly screen: LongScreen;
  readonly index: number;
}

export class ScreenGroup {
  /** The answer "no member can match", shared by every value that matches none (never written to). */
  readonly none: Uint8Array;
  /** The fact "no member may match" about a value (the usual answer): one bit, no array. */
  readonly noneBit: number;
  /** For long values, by variable name: the LongScreen and each member's place in it (null: none). */
  long: Map<string, { screen: LongScreen; places: Int32Array }> | null = null;

  constructor(
    /** Unique per Waf; the key of cached answers on entries and in transactions. */
    readonly id: number,
    private readonly set: RE2Set,
    readonly size: number,
    /** The transformations every member applies before its operator. */
    readonly chain: TransformChain | null,
    /**
     * Every target a member looks at (each once), when they are all stable within a
     * phase; null when the group is screened per value only.
     */
    readonly targets: readonly CompiledTarget[] | null,
    /** The Waf's facts about values, which keep answers across transactions. */
    readonly facts: FactTable,
  ) {
    this.none = new Uint8Array(size);
    this.noneBit = facts.newBit();
  }

  /**
   * Which members may match `value` (1) and which cannot (0). If RE2 cannot answer (its
   * DFA ran out of memory on a hostile input), every member may match: the rules then run
   * their own operators, so a failing screen never hides a match.
   */
  run(value: string, variable: string, entry: Entry): Uint8Array {
    if (value.length >= LONG_VALUE) {
      const long = this.long?.get(variable);
      if (long !== undefined) return this.project(long.screen.answerFor(value, entry, variable), long.places);
    }
    let hits: number[];
    try {
      hits = this.set.match(utf8Of(value));
    } catch {
      return new Uint8Array(this.size).fill(1);
    }
    // Most values match no member: they share one answer (read only, like every answer).
    if (hits.length === 0) return this.none;
    const out = new Uint8Array(this.size);
    for (let i = 0; i < hits.length; i++) out[hits[i] as number] = 1;
    return out;
  }

  /** The members' answers read from their chain's long answer. */
  private project(long: Uint8Array, places: Int32Array): Uint8Array {
    let out: Uint8Array | null = null;
    for (let i = 0; i < this.size; i++) {
      if (long[places[i] as number] === 0) continue;
      out ??= new Uint8Array(this.size);
      out[i] = 1;
    }
    return out ?? this.none;
  }
}

type RE2Set = InstanceType<typeof RE2.Set>;

/** A rule's place in a screen group. */
export interface RuleScreen {
  readonly group: ScreenGroup;
  readonly index: number;
  /** True when the rule can be skipped whole on the group's per-phase answer. */
  readonly skippable: boolean;
}

/**
 * Groups the rules that can be screened and gives each its place. Rules evaluated in ways
 * the screen does not model (multiMatch, macro-built operators) are left out.
 */
export function buildScreens(rules: readonly Rule[], facts: FactTable): number {
  // Rules with the same transformations look at the same transformed values: one group
  // per chain (and per kind of variables), so a value is transformed and scanned once.
  const byChain = new Map<string, Rule[]>();
  for (const r of rules) {
    if (r.operator === null || r.multiMatch) continue;
    const screen = r.operator.screen;
    if (screen === undefined || screen === null) continue;
    const variables = [...new Set(r.targets.map((t) => t.def.name))].sort().join('|');
    const key = `${r.transforms?.id ?? 0}:${variables}:${stableTargets(r) ? 'stable' : 'other'}`;
    let list = byChain.get(key);
    if (list === undefined) byChain.set(key, (list = []));
    list.push(r);
  }
  let groups = 0;
  let id = 0;
  for (const [key, members] of byChain) {
    if (members.length < MIN_GROUP) continue;
    let set: RE2Set;
    try {
      set = new RE2.Set(members.map((r) => (r.operator as NonNullable<Rule['operator']>).screen as string));
    } catch {
      continue; // A set RE2 will not build: those rules simply run their operators.
    }
    const stable = key.endsWith(':stable');
    const group = new ScreenGroup(id++, set, members.length, members[0]?.transforms ?? null, stable ? unionOfTargets(members) : null, facts);
    members.forEach((r, index) => void (r.screen = { group, index, skippable: stable && !r.negated }));
    groups++;
  }
  buildLongScreens(rules);
  for (const r of rules) {
    const group = r.screen?.group;
    if (group === undefined || group.long !== null || r.longScreens === null) continue;
    group.long = new Map();
    for (const [variable, { screen }] of r.longScreens) {
      const places = new Int32Array(group.size);
      let all = true;
      for (const m of rules) {
        if (m.screen?.group !== group) continue;
        const place = m.longScreens?.get(variable);
        if (place?.screen === screen) places[m.screen.index] = place.index;
        else all = false;
      }
      if (all) group.long.set(variable, { screen, places });
    }
  }
  return groups;
}

/**
 * Gives every screened rule its places in the LongScreens (see the module notes): one per
 * chain of a value its operator sees (a multiMatch rule sees the value after every step,
 * the raw value first) and variable it looks at. Variables looked at by the same rules, or
 * nearly (ARGS, ARGS_NAMES, XML…), share one: a list whose members a screen of the same
 * chain already holds, give or take LONG_SLACK, uses that screen (a few more patterns cost
 * RE2 next to nothing; each set costs memory and compile time).
 *
 * Chains that differ by steps which leave most long values as they are (t:lowercase on text
 * without capitals, t:normalisePath without dot segments…) give the same string, and the
 * screens of both would scan it: the smaller screen rides on the larger one, whose passes
 * answer for both (see ridesOn), whichever is asked first: the rider checks that the larger
 * screen's chain gives the entry the same string (LongScreen.answerFor). In CRS, 10 passes
 * instead of 18 over a 900 KB form value and its transformed forms (the worst-case
 * benchmark's); load time and size about the same.
 */
function buildLongScreens(rules: readonly Rule[]): void {
  const byChain = new Map<number, Map<string, LongMember[]>>();
  const chains = new Map<number, TransformChain | null>();
  const add = (chain: TransformChain | null, rule: Rule, step: number): void => {
    const chainId = chain?.id ?? 0;
    chains.set(chainId, chain);
    let lists = byChain.get(chainId);
    if (lists === undefined) byChain.set(chainId, (lists = new Map()));
    for (const variable of new Set(rule.targets.filter((t) => !t.counting).map((t) => t.def.name))) {
      let same = lists.get(variable);
      if (same === undefined) lists.set(variable, (same = []));
      same.push({ rule, step, variable });
    }
  };
  for (const r of rules) {
    const screen = r.operator?.screen;
    if (screen === undefined || screen === null) continue;
    if (!r.multiMatch) add(r.transforms, r, -1);
    else {
      add(null, r, 0);
      r.transforms?.steps().forEach((c, i) => add(c, r, i + 1));
    }
  }
  const ruleNumbers = new Map(rules.map((r, i) => [r, i]));
  const memberKey = (m: LongMember): string => `${ruleNumbers.get(m.rule)}/${m.step}`;
  const specs: LongSpec[] = [];
  for (const [chainId, byVariable] of byChain) {
    // One rule alone: its own screen would cost what its operator costs.
    const lists = [...byVariable.values()].filter((l) => l.length >= 2).sort((a, b) => b.length - a.length);
    const screens: LongSpec[] = [];
    for (const members of lists) {
      const keys = members.map(memberKey);
      const mine = new Set(keys);
      let found = screens.find((s) => {
        let theirs = 0;
        for (const k of s.index.keys()) if (!mine.has(k)) theirs++;
        let ours = 0;
        for (const k of keys) if (!s.index.has(k)) ours++;
        return theirs <= LONG_SLACK && ours <= LONG_SLACK;
      });
      if (found === undefined) {
        const chain = chains.get(chainId) ?? null;
        found = { chain, steps: chain?.names() ?? [], patterns: [], index: new Map(), members: [], variables: new Set(), riders: [], bases: new Map(), screen: null };
        screens.push(found);
      }
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        if (found.index.has(k)) continue;
        found.index.set(k, found.patterns.length);
        const op = (members[i] as LongMember).rule.operator;
        found.patterns.push((op?.longScreen ?? op?.screen) as string);
      }
      found.members.push(members);
      found.variables.add((members[0] as LongMember).variable);
    }
    specs.push(...screens);
  }
  // Larger screens first: each may carry smaller ones of the variables it scans; one that
  // rides carries none.
  specs.sort((a, b) => b.patterns.length - a.patterns.length);
  for (const spec of specs) {
    // For each variable it scans, the largest screen of that variable it can ride on.
    for (const variable of spec.variables) {
      const base = specs.find((b) => b !== spec && b.bases.size === 0 && b.variables.has(variable) && ridesOn(spec, b));
      if (base === undefined) continue;
      if (!base.riders.includes(spec)) base.riders.push(spec);
      spec.bases.set(variable, base);
    }
  }
  // Riders are built first: a base compiles their patterns into its own sets.
  const built = (spec: LongSpec): LongScreen =>
    (spec.screen ??= new LongScreen(
      spec.patterns,
      spec.riders.map((r) => built(r)),
      spec.chain,
    ));
  for (const spec of specs) built(spec).bases = new Map([...spec.bases].map(([variable, base]) => [variable, built(base)]));
  for (const spec of specs) {
    const screen = built(spec);
    for (const members of spec.members) {
      for (const m of members) {
        const places = m.step < 0 ? (m.rule.longScreens ??= new Map()) : ((m.rule.longSteps ??= [])[m.step] ??= new Map());
        places.set(m.variable, { screen, index: spec.index.get(memberKey(m)) as number });
      }
    }
  }
}

/** A LongScreen being planned: its chain's steps, members and patterns, and what rides on what. */
interface LongSpec {
  readonly chain: TransformChain | null;
  /** The chain's step names. */
  readonly steps: readonly string[];
  readonly patterns: string[];
  readonly index: Map<string, number>;
  readonly members: LongMember[][];
  readonly variables: Set<string>;
  readonly riders: LongSpec[];
  /** The larger screen it rides on, by variable (then none rides on it). */
  readonly bases: Map<string, LongSpec>;
  screen: LongScreen | null;
}

/**
 * Steps that leave most long values as they are: what an attacker sends in bulk rarely has
 * capitals, NULs, multi-byte UTF-8, dot segments, comments or whitespace runs all at once.
 */
const MOSTLY_UNCHANGING = new Set([
  'lowercase', 'removenulls', 'replacenulls', 'utf8tounicode', 'normalisepath', 'normalisepathwin', 'replacecomments',
  'removecomments', 'removecommentschar', 'compresswhitespace', 'removewhitespace', 'trim', 'trimleft', 'trimright',
]);

/**
 * Whether `rider`'s answers can come from `base`'s passes (over a variable both scan): the
 * rider's chain is the base's with MOSTLY_UNCHANGING steps added, so both usually scan the
 * same string; it is no larger, and together they fit in one set.
 */
function ridesOn(rider: LongSpec, base: LongSpec): boolean {
  if (rider.patterns.length > base.patterns.length || rider.steps.length <= base.steps.length) return false;
  if (base.patterns.length + base.riders.reduce((n, r) => n + r.patterns.length, 0) + rider.patterns.length > LONG_SET_MAX) return false;
  let k = 0;
  for (const step of rider.steps) {
    if (k < base.steps.length && step === base.steps[k]) k++;
    else if (!MOSTLY_UNCHANGING.has(step.toLowerCase())) return false;
  }
  return k === base.steps.length;
}

/**
 * The key under which a rule's values can be shared with other rules within a phase: its
 * targets and exclusions as written, when every target is stable within a phase and none
 * counts (`&ARGS`); null otherwise. Set on each rule once the rules are final.
 */
export function sharedTargetsKey(rule: Rule): string | null {
  if (!stableTargets(rule)) return null;
  // XPath selectors (XML:/a:b) are compiled with the rule's own namespace prefixes.
  const xmlns = rule.xmlns === null ? '' : [...rule.xmlns].map(([k, v]) => `${k}=${v}`).join(' ');
  return `${rule.targets.map((t) => t.text).join('|')}\u0000${rule.exclusions.map((t) => t.text).join('|')}\u0000${xmlns}`;
}

/** True when every target of the rule is stable within a phase (and none counts). */
function stableTargets(rule: Rule): boolean {
  return rule.targets.length > 0 && rule.targets.every((t) => !t.counting && STABLE.has(t.def.name));
}

function unionOfTargets(members: readonly Rule[]): CompiledTarget[] {
  const seen = new Map<string, CompiledTarget>();
  for (const r of members) for (const t of r.targets) if (!seen.has(t.text)) seen.set(t.text, t);
  return [...seen.values()];
}

/**
 * The group's answer for a value (before the group's transformations), worked out once
 * per value and group: for a value with a lasting id the Waf's facts keep it across
 * transactions (engine/no-match-memo FactTable); a value seen for the first time keeps it
 * on its Entry for the transaction.
 */
export function screenOf(entry: Entry, group: ScreenGroup, variable: string): Uint8Array {
  const known = group.facts.of(entry, false);
  if (known !== null) {
    if (known.has(group.noneBit)) return group.none;
    const hits = known.hits?.[group.id];
    if (hits !== undefined) return hits;
  } else {
    const hits = entry.screens?.[group.id];
    if (hits !== undefined) return hits;
  }
  const answer = group.run(group.chain === null ? entry.value : applyChain(group.chain, entry), variable, entry);
  const facts = known ?? group.facts.of(entry, true);
  if (facts === null) (entry.screens ??= [])[group.id] = answer;
  else if (answer === group.none) facts.set(group.noneBit);
  else (facts.hits ??= [])[group.id] = answer;
  return answer;
}
