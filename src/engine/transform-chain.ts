/**
 * @module engine/transform-chain
 * A rule's transformations (`t:lowercase,t:urlDecodeUni`) as an interned chain: chains with
 * a common prefix share their nodes, so a value transformed by `lowercase` for one rule is
 * not lowercased again for the next rule that starts with the same steps. Results are cached
 * on the request value's Entry for the life of the transaction (ModSecurity v2's
 * transformation cache, keyed the same way: value × chain prefix).
 *
 * A long value also remembers which steps changed nothing: `t:utf8toUnicode,t:urlDecodeUni`
 * on a value with no byte over 0x7f gives what `t:urlDecodeUni` alone gives, so when that
 * result is cached already it is taken instead of decoding the value once more. Each cached
 * result is known by its shortest chain (the chain without its steps that returned their
 * input unchanged), and a step is looked up under the shortest chain of its input first.
 */
import type { TransformDef, TransformFn } from './transforms/types.js';
import type { Entry } from './collection.js';

export class TransformChain {
  constructor(
    readonly id: number,
    readonly prefix: TransformChain | null,
    readonly fn: TransformFn,
    /** The transformation's SecLang name. */
    readonly name: string,
    /** Number of steps, prefix included. */
    readonly length: number,
  ) {}

  private stepList: TransformChain[] | null = null;
  private nextList: Map<string, TransformChain> | null = null;

  /** This chain followed by the last step of `step` (interned, as extendChain). */
  then(step: TransformChain): TransformChain {
    let next = this.nextList?.get(step.name);
    if (next === undefined) {
      next = extendChain(this, step);
      (this.nextList ??= new Map()).set(step.name, next);
    }
    return next;
  }

  /** The chain of each step, first to last (this chain is the last). */
  steps(): readonly TransformChain[] {
    if (this.stepList === null) {
      this.stepList = this.prefix === null ? [this] : [...this.prefix.steps(), this];
    }
    return this.stepList;
  }

  /** The names of every step, first to last. */
  names(): string[] {
    const out = [this.name];
    for (let c = this.prefix; c !== null; c = c.prefix) out.unshift(c.name);
    return out;
  }
}

const interned = new Map<string, TransformChain>();
let nextId = 1;

/** The chain `prefix` followed by `def` (the same object for the same steps). */
export function extendChain(prefix: TransformChain | null, def: Pick<TransformDef, 'name' | 'fn'>): TransformChain {
  const key = `${prefix?.id ?? 0},${def.name}`;
  let chain = interned.get(key);
  if (chain === undefined) {
    chain = new TransformChain(nextId++, prefix, def.fn, def.name, (prefix?.length ?? 0) + 1);
    interned.set(key, chain);
  }
  return chain;
}

/** Values shorter than this are transformed again rather than cached: a Map costs more. */
const MIN_CACHED_LENGTH = 16;

/**
 * Values at least this long also keep their shortest chains (see the module notes): a
 * transformation of them costs microseconds, two more Map lookups do not.
 */
const MIN_CANON_LENGTH = 1024;

/** The value of `entry` after `chain`, cached on the entry. */
export function applyChain(chain: TransformChain, entry: Entry): string {
  if (entry.value.length < MIN_CACHED_LENGTH) return applyUncached(chain, entry.value);
  let cache = entry.tcache;
  if (cache === null) {
    cache = new Map();
    entry.tcache = cache;
  } else {
    const hit = cache.get(chain.id);
    if (hit !== undefined) return hit;
  }
  const input = chain.prefix === null ? entry.value : applyChain(chain.prefix, entry);
  if (entry.value.length >= MIN_CANON_LENGTH) return applyCanonical(chain, entry, cache, input);
  const out = chain.fn(input);
  cache.set(chain.id, out);
  return out;
}

/** applyChain's last step for a long value: `input` is the prefix's result, already cached. */
function applyCanonical(chain: TransformChain, entry: Entry, cache: Map<number, string>, input: string): string {
  const canons = (entry.tcanon ??= new Map());
  // The prefix's shortest chain followed by this step gives the same result as this chain.
  const inputCanon = chain.prefix === null ? null : (canons.get(chain.prefix.id) as TransformChain | null);
  const same = inputCanon === null ? (chain.prefix === null ? chain : extendChain(null, chain)) : inputCanon.then(chain);
  let out = cache.get(same.id);
  let canon: TransformChain | null;
  if (out === undefined) {
    out = chain.fn(input);
    canon = out === input ? inputCanon : same;
    cache.set(same.id, out);
    canons.set(same.id, canon);
  } else {
    canon = canons.get(same.id) as TransformChain | null;
  }
  cache.set(chain.id, out);
  canons.set(chain.id, canon);
  return out;
}

function applyUncached(chain: TransformChain, value: string): string {
  return chain.fn(chain.prefix === null ? value : applyUncached(chain.prefix, value));
}

/** Every intermediate value (for multiMatch): [original, after step 1, …, after last step]. */
export function applySteps(chain: TransformChain, entry: Entry): string[] {
  const steps = chain.steps();
  const out = new Array<string>(steps.length + 1);
  let value = entry.value;
  out[0] = value;
  // A short value is not cached: each step transforms the step before it (applyChain on each
  // step would run the whole prefix again, 28 transformations for a chain of 7).
  const cached = value.length >= MIN_CACHED_LENGTH;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as TransformChain;
    value = cached ? applyChain(step, entry) : step.fn(value);
    out[i + 1] = value;
  }
  return out;
}
