/**
 * @module test/admin/exposition
 * A strict reader of Prometheus' text exposition format (version 0.0.4), for the tests:
 * every line must be a HELP, a TYPE or a sample; names, labels and values must be well
 * formed; a family's samples follow its TYPE; histogram buckets must be cumulative and end
 * with +Inf equal to _count. Throws with the line number on the first problem.
 */
import assert from 'node:assert/strict';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, line: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  assert.match(text, /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `line ${line}: value ${JSON.stringify(text)}`);
  return Number(text);
}

/** Parses `{a="x",b="y\"z"}` starting at `i` (at the brace); returns the labels and the index after `}`. */
function parseLabels(s: string, i: number, line: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++;
  while (s[i] !== '}') {
    const eq = s.indexOf('=', i);
    assert.ok(eq > i, `line ${line}: label without =`);
    const name = s.slice(i, eq);
    assert.match(name, LABEL, `line ${line}: label name ${JSON.stringify(name)}`);
    assert.equal(s[eq + 1], '"', `line ${line}: label value must be quoted`);
    let j = eq + 2;
    let value = '';
    while (s[j] !== '"') {
      assert.ok(j < s.length, `line ${line}: unterminated label value`);
      if (s[j] === '\\') {
        const next = s[j + 1];
        assert.ok(next === '\\' || next === '"' || next === 'n', `line ${line}: bad escape \\${next}`);
        value += next === 'n' ? '\n' : next;
        j += 2;
      } else value += s[j++];
    }
    assert.ok(!(name in labels), `line ${line}: label ${name} twice`);
    labels[name] = value;
    i = j + 1;
    if (s[i] === ',') i++;
  }
  return [labels, i + 1];
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | null = null;
  const lines = text.split('\n');
  assert.equal(lines[lines.length - 1], '', 'the text ends with a newline');
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw === '') return;
    if (raw.startsWith('# HELP ')) {
      const rest = raw.slice(7);
      const sp = rest.indexOf(' ');
      const name = sp < 0 ? rest : rest.slice(0, sp);
      assert.match(name, NAME, `line ${line}: metric name`);
      assert.ok(!families.has(name), `line ${line}: ${name} described twice`);
      current = { name, type: 'untyped', help: sp < 0 ? '' : rest.slice(sp + 1), samples: [] };
      families.set(name, current);
      return;
    }
    if (raw.startsWith('# TYPE ')) {
      const [name, type] = raw.slice(7).split(' ');
      assert.ok(current !== null && current.name === name, `line ${line}: TYPE ${name} without its HELP first`);
      assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? ''), `line ${line}: type ${type}`);
      (current as { type: string }).type = type as string;
      return;
    }
    assert.ok(!raw.startsWith('#'), `line ${line}: unknown comment`);
    const brace = raw.indexOf('{');
    const space = raw.indexOf(' ');
    const nameEnd = brace >= 0 && brace < space ? brace : space;
    const name = raw.slice(0, nameEnd);
    assert.match(name, NAME, `line ${line}: sample name ${JSON.stringify(name)}`);
    let labels: Record<string, string> = {};
    let rest = nameEnd;
    if (raw[nameEnd] === '{') [labels, rest] = parseLabels(raw, nameEnd, line);
    const fields = raw.slice(rest).trim().split(' ');
    assert.ok(fields.length === 1 || fields.length === 2, `line ${line}: value [timestamp]`);
    const value = parseValue(fields[0] as string, line);
    const family = current as Family | null;
    assert.ok(family !== null, `line ${line}: sample before any HELP`);
    const base = family.type === 'histogram' ? name.replace(/_(bucket|sum|count)$/, '') : family.type === 'summary' ? name.replace(/_(sum|count)$/, '') : name;
    assert.equal(base, family.name, `line ${line}: ${name} is not part of ${family.name}`);
    family.samples.push({ name, labels, value });
  });
  for (const f of families.values()) {
    if (f.type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const s of f.samples) {
      const { le: _le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, samples] of series) {
      const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
      let previous = 0;
      for (const b of buckets) {
        assert.ok(b.value >= previous, `${f.name}${key}: buckets must not decrease`);
        previous = b.value;
      }
      assert.equal(buckets[buckets.length - 1]?.labels.le, '+Inf', `${f.name}${key}: last bucket is +Inf`);
      const count = samples.find((s) => s.name.endsWith('_count'));
      assert.equal(count?.value, previous, `${f.name}${key}: +Inf bucket equals _count`);
    }
  }
  return families;
}

/** The value of one sample (0 when absent: a counter not yet moved). */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  const s = family?.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}

/** The sum of every sample of a name whose labels include `labels`. */
export function sampleSum(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  return (family?.samples ?? []).filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}
