/**
 * Rule regexes: cost per KB of input for representative CRS patterns, benign and attack
 * inputs, on each engine Warden can run them on (Irregexp with the linear fallback, RE2,
 * the bounded backtracking matcher), plus the catastrophic `(a+)+$` case.
 *
 *   node --import tsx bench/regex.ts            # table
 *   node --import tsx bench/regex.ts --quick    # fewer iterations
 *
 * Numbers are ns per KB of input (lower is better), best of 5 runs.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compileRegex, MODSECURITY_RX_FLAGS, v8RegexFlags, type CompiledRegex, type RegexEngine } from '../src/engine/regex/index.js';
import { sharedDir } from '../test/support/shared.js';

const quick = process.argv.includes('--quick');
const BUDGET_NS = quick ? 20e6 : 100e6;

/** `@rx` patterns of a rules folder by rule id (continuation lines joined). */
function rxById(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.conf'))) {
    const text = readFileSync(join(dir, f), 'latin1').replace(/\\\r?\n/g, '');
    for (const line of text.split('\n')) {
      const m = /^\s*SecRule\s+(?:"(?:[^"\\]|\\.)*"|\S+)\s+"!?@rx ((?:[^"\\]|\\.)*)"\s+"([^]*)/.exec(line);
      const id = m === null ? undefined : /\bid:'?(\d+)/.exec(m[2] as string)?.[1];
      if (m !== null && id !== undefined) out.set(id, (m[1] as string).replace(/\\"/g, '"'));
    }
  }
  return out;
}

const crs4 = rxById(join(sharedDir, 'crs/rules'));
const crs3 = (() => {
  try {
    return rxById('/usr/share/modsecurity-crs/rules');
  } catch {
    return new Map<string, string>();
  }
})();

interface Case {
  readonly name: string;
  readonly pattern: string;
}

const pick = (set: Map<string, string>, id: string, what: string): Case[] => {
  const p = set.get(id);
  return p === undefined ? [] : [{ name: `${id} ${what}`, pattern: p }];
};

const cases: Case[] = [
  ...pick(crs4, '942190', 'sqli'),
  ...pick(crs4, '942260', 'sqli auth bypass'),
  ...pick(crs4, '941160', 'xss'),
  ...pick(crs4, '932230', 'rce unix (8KB pattern)'),
  ...pick(crs4, '933151', 'php functions (8KB)'),
  ...pick(crs4, '930100', 'path traversal'),
  ...pick(crs4, '932300', 'smtp (re2: {1,255})'),
  ...pick(crs4, '951230', 'mysql errors (re2)'),
  ...pick(crs4, '942510', 'sqli backticks (re2)'),
  ...pick(crs3, '942130', 'crs3 tautology (backref)'),
  ...pick(crs3, '942260', 'crs3 auth bypass (++)'),
  ...pick(crs3, '920600', 'crs3 content-type (*+)'),
  ...pick(crs3, '920120', 'crs3 filename (?<!)'),
  ...pick(crs3, '953120', 'crs3 php open tag (?!)'),
];

const text =
  'The quick brown fox jumps over the lazy dog; she said "hello, world" and left at 10:30. ' +
  'Prices went up 5% (from $20 to $21) while the report — drafted by Ann & Bob — was filed. ';
function fill(seed: string, size: number): string {
  let s = seed;
  while (s.length < size) s += text;
  return s.slice(0, size);
}

const inputs: Array<{ name: string; value: string }> = [
  { name: 'benign 100B', value: fill('', 100) },
  { name: 'benign 1KB', value: fill('', 1024) },
  { name: 'benign 64KB', value: fill('', 65536) },
  { name: 'attack 1KB', value: fill("1' or 1=1 union select password from users-- <script>alert(1)</script>;cat /etc/passwd ../../etc/shadow system('id') ", 1024) },
];

function nsPerCall(fn: () => unknown): number {
  // Warm up, then best of 5 timed batches.
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const dt = Number(process.hrtime.bigint() - t0);
    if (dt > BUDGET_NS / 10 || n > 1e7) break;
    n *= 4;
  }
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return best;
}

const engines: RegexEngine[] = ['irregexp', 're2', 'backtrack'];
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const fmt = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(1)}ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)}µs` : `${ns.toFixed(0)}ns`);

console.log(`V8 flags: ${JSON.stringify(v8RegexFlags)}`);
console.log(`Node ${process.version}; ns per KB of input (ns per call for 100B), best of 5\n`);
console.log(`${pad('pattern', 34)} ${pad('auto', 10)} ${inputs.map((i) => lpad(i.name, 12)).join('')}   per engine: 100B / 1KB benign / 1KB attack / 64KB benign (per KB)`);
for (const c of cases) {
  const auto = compileRegex(c.pattern, MODSECURITY_RX_FLAGS);
  const cols = inputs.map((inp) => {
    const ns = nsPerCall(() => auto.check(inp.value));
    return lpad(fmt(inp.value.length >= 1024 ? (ns * 1024) / inp.value.length : ns), 12);
  });
  const per: string[] = [];
  for (const e of engines) {
    let re: CompiledRegex;
    try {
      re = compileRegex(c.pattern, { ...MODSECURITY_RX_FLAGS, engine: e, matchLimit: 1e9 });
    } catch {
      continue;
    }
    if (re.engine !== e) continue;
    const b0 = nsPerCall(() => re.check(inputs[0]!.value));
    const b1 = nsPerCall(() => re.check(inputs[1]!.value));
    const a1 = nsPerCall(() => re.check(inputs[3]!.value));
    const b64 = (nsPerCall(() => re.check(inputs[2]!.value)) * 1024) / 65536;
    per.push(`${e} ${fmt(b0)}/${fmt(b1)}/${fmt(a1)}/${fmt(b64)}`);
  }
  console.log(`${pad(c.name, 34)} ${pad(auto.engine, 10)} ${cols.join('')}   ${per.join('  ')}`);
  const verdicts = inputs.map((inp) => auto.check(inp.value)).join(',');
  if (verdicts.includes('limit')) console.log(`${' '.repeat(35)}(verdicts: ${verdicts})`);
}

// The catastrophic case: (a+)+$ on 30,000 a's and "!".
console.log('\n(a+)+$ on 30,000 × "a" + "!" (one call):');
const evil = `${'a'.repeat(30000)}!`;
for (const e of engines) {
  const re = compileRegex('(a+)+$', { ...MODSECURITY_RX_FLAGS, engine: e });
  const t0 = process.hrtime.bigint();
  const r = re.check(evil);
  const dt = Number(process.hrtime.bigint() - t0);
  console.log(`  ${pad(e, 10)} ${pad(r, 8)} ${fmt(dt)}`);
}
