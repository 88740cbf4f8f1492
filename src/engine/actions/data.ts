/**
 * @module engine/actions/data
 * Actions that write variables: setvar (=, =+, =-, !), expirevar, deprecatevar, setenv, and
 * the ones that open persistent collections (initcol, setsid, setuid, setrsc). Names and
 * values may hold macros; they are compiled here and expanded per match.
 */
import { compileMacro, expandMacro, MacroError, type MacroTemplate } from '../macro.js';
import { PersistentCollection, type KeyedCollection, type SlotMemo } from '../collection.js';
import { isAsciiBytes } from '../transforms/bytes.js';
import { ActionError, type ActionDef } from './types.js';
import type { RuleAction } from '../rule.js';

function macro(text: string): MacroTemplate {
  try {
    return compileMacro(text);
  } catch (err) {
    if (err instanceof MacroError) throw new ActionError(err.message);
    throw err;
  }
}

/** C's atoi: leading whitespace, an optional sign, digits; anything else ends the number. */
export function atoi(s: string): number {
  const n = parseInt(s, 10);
  return Number.isNaN(n) ? 0 : n;
}

/** Splits `collection.key=value` at the first `=`; the name must name a collection. */
function nameValue(action: string, param: string): { name: string; value: string | null } {
  const eq = param.indexOf('=');
  const name = eq < 0 ? param : param.slice(0, eq);
  const bare = name.startsWith('!') ? name.slice(1) : name;
  if (!bare.includes('.')) throw new ActionError(`${action} needs collection.name, got "${name}" (e.g. tx.${bare || 'score'})`);
  return { name, value: eq < 0 ? null : param.slice(eq + 1) };
}

const PERSISTENT = new Set(['ip', 'global', 'session', 'user', 'resource']);

function setvar(param: string): RuleAction {
  const { name, value } = nameValue('setvar', param);
  const remove = name.startsWith('!');
  const nameTpl = macro(remove ? name.slice(1) : name);
  // v2 decides "relative" on the value as written, before macro expansion.
  const raw = value === null ? '1' : value.replace(/^\s+/, '');
  const relative = raw.startsWith('+') || raw.startsWith('-');
  const valueTpl = macro(raw);
  // tx.NAME without macros (most of CRS's): its key and lower case, worked out once here.
  const txKey = nameTpl.refs.length === 0 && /^tx\./i.test(nameTpl.source) ? nameTpl.source.slice(3) : null;
  const txLower = txKey?.toLowerCase() ?? '';
  // tx.NAME_%{…} (CRS's `tx.header_name_920450_%{tx.0}`): TX known here, the name's rest expanded per match.
  const head = nameTpl.parts[0] as string;
  const txRest: MacroTemplate | null = txKey === null && /^tx\./i.test(head) ? { source: nameTpl.source.slice(3), parts: [head.slice(3), ...nameTpl.parts.slice(1)], refs: nameTpl.refs } : null;
  // tx.NAME's slot in TX (engine/collection slots).
  const txSlot: SlotMemo = { slotMap: undefined, slot: -1 };
  // tx.PREFIX%{…}: when no slot's name starts with PREFIX (ASCII), no name made here has a
  // slot, and the made name (new each time) is not looked up among them (slot -1).
  const restPrefix = txRest !== null && isAsciiBytes(head) ? head.slice(3).toLowerCase() : null;
  const restSlots: { slotMap: ReadonlyMap<string, number> | null | undefined; none: boolean } = { slotMap: undefined, none: false };
  return {
    name: 'setvar',
    param,
    ...(txKey === null ? {} : { txName: txLower }),
    execute(tx) {
      let coll: KeyedCollection | undefined;
      let key: string;
      let lower: string;
      if (txKey !== null) {
        coll = tx.tx;
        key = txKey;
        lower = txLower;
      } else if (txRest !== null) {
        coll = tx.tx;
        key = expandMacro(txRest, tx);
        lower = key.toLowerCase();
      } else {
        const full = expandMacro(nameTpl, tx);
        const dot = full.indexOf('.');
        coll = tx.collectionForWrite(full.slice(0, dot));
        if (coll === undefined) {
          tx.debug(3, `Could not set variable "${full}" as the collection does not exist.`);
          return;
        }
        key = full.slice(dot + 1);
        lower = key.toLowerCase();
      }
      let slot: number | undefined;
      if (txKey !== null) slot = coll.slotFor(txSlot, lower);
      else if (restPrefix !== null && coll === tx.tx) {
        if (restSlots.slotMap !== coll.slotMap) {
          restSlots.slotMap = coll.slotMap;
          restSlots.none = coll.slotMap === null || ![...coll.slotMap.keys()].some((name) => name.startsWith(restPrefix));
        }
        if (restSlots.none) slot = -1;
      }
      if (remove) {
        coll.deleteLowered(lower, slot);
        return;
      }
      const expanded = expandMacro(valueTpl, tx);
      if (!relative) {
        coll.setLowered(lower, key, expanded, slot);
        return;
      }
      const old = atoi(coll.getLowered(lower, slot)?.value ?? '0');
      // Counters never go below zero (ModSecurity v2).
      const next = Math.max(0, old + atoi(expanded));
      coll.setLowered(lower, key, String(next), slot);
      if (coll instanceof PersistentCollection) coll.addDelta(key, next - old);
    },
  };
}

function expirevar(param: string): RuleAction {
  const { name, value } = nameValue('expirevar', param);
  const nameTpl = macro(name);
  const secondsTpl = macro(value ?? '0');
  return {
    name: 'expirevar',
    param,
    execute(tx) {
      const full = expandMacro(nameTpl, tx);
      const dot = full.indexOf('.');
      const coll = tx.collectionForWrite(full.slice(0, dot));
      if (!(coll instanceof PersistentCollection)) return;
      const seconds = atoi(expandMacro(secondsTpl, tx));
      coll.expiries.set(full.slice(dot + 1).toLowerCase(), tx.timestamp + seconds * 1000);
      coll.dirty = true;
    },
  };
}

/** deprecatevar:ip.score=60/300 lowers the value by 60 for every 300 s since the last update. */
function deprecatevar(param: string): RuleAction {
  const { name, value } = nameValue('deprecatevar', param);
  const m = /^(\d+)\/(\d+)$/.exec(value ?? '');
  if (m === null) throw new ActionError(`deprecatevar needs collection.name=N/SECONDS, got "${param}"`);
  const amount = Number(m[1]);
  const period = Number(m[2]);
  const nameTpl = macro(name);
  return {
    name: 'deprecatevar',
    param,
    execute(tx) {
      const full = expandMacro(nameTpl, tx);
      const dot = full.indexOf('.');
      const coll = tx.collectionForWrite(full.slice(0, dot));
      if (!(coll instanceof PersistentCollection) || period === 0) return;
      const key = full.slice(dot + 1);
      const current = coll.get(key);
      if (current === undefined) return;
      const last = atoi(coll.get('LAST_UPDATE_TIME')?.value ?? '0');
      const elapsed = Math.floor(tx.timestamp / 1000) - last;
      const decrease = Math.floor(elapsed / period) * amount;
      if (decrease <= 0) return;
      const old = atoi(current.value);
      const next = Math.max(0, old - decrease);
      coll.set(key, String(next));
      coll.addDelta(key, next - old);
    },
  };
}

function opener(action: string, collection: string | null): ActionDef {
  return {
    name: action,
    kind: 'data',
    param: 'required',
    compile(param, { rule }) {
      let coll = collection;
      let keyText = param as string;
      if (coll === null) {
        const eq = keyText.indexOf('=');
        coll = (eq < 0 ? keyText : keyText.slice(0, eq)).toLowerCase();
        if (eq < 0 || !PERSISTENT.has(coll)) {
          throw new ActionError(`initcol needs COLLECTION=key with COLLECTION one of ${[...PERSISTENT].join(', ')}, got "${param}"`);
        }
        keyText = keyText.slice(eq + 1);
      }
      const keyTpl = macro(keyText);
      const name = coll;
      rule.usesStore = true;
      rule.actions.push({
        name: action,
        param,
        execute(tx) {
          tx.openCollection(name, expandMacro(keyTpl, tx));
        },
      });
    },
  };
}

function runtime(name: string, build: (param: string) => RuleAction): ActionDef {
  return { name, kind: 'data', param: 'required', compile: (param, { rule }) => void rule.actions.push(build(param as string)) };
}

export const dataActions: ActionDef[] = [
  runtime('setvar', setvar),
  runtime('expirevar', expirevar),
  runtime('deprecatevar', deprecatevar),
  runtime('setenv', (param) => {
    const eq = param.indexOf('=');
    const remove = param.startsWith('!');
    const nameTpl = macro(eq < 0 ? param.slice(remove ? 1 : 0) : param.slice(remove ? 1 : 0, eq));
    const valueTpl = macro(eq < 0 ? '1' : param.slice(eq + 1));
    return {
      name: 'setenv',
      param,
      execute(tx) {
        const n = expandMacro(nameTpl, tx);
        if (remove) tx.env.delete(n);
        else tx.env.set(n, expandMacro(valueTpl, tx));
      },
    };
  }),
  opener('initcol', null),
  opener('setsid', 'session'),
  opener('setuid', 'user'),
  opener('setrsc', 'resource'),
];
