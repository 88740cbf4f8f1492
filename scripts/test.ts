/**
 * `npm test`: lint, type check, unit tests and the conformance suites, ending with one
 * line of counts. `--only NAME[,NAME]` runs some stages (lint, types, unit, secrules, …).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { projectRoot } from '../test/support/shared.js';
import { conformanceSuites } from '../test/conformance/suites.js';

interface StageResult {
  ok: boolean;
  summary: string;
}

function run(cmd: string, args: string[]): number {
  const r = spawnSync(cmd, args, { cwd: projectRoot, stdio: 'inherit' });
  return r.status ?? 1;
}

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(path));
    else if (entry.name.endsWith('.test.ts')) out.push(relative(projectRoot, path));
  }
  return out.sort();
}

function unit(): StageResult {
  const files = testFiles(join(projectRoot, 'test'));
  const dir = mkdtempSync(join(tmpdir(), 'warden-test-'));
  const tap = join(dir, 'unit.tap');
  const status = run(process.execPath, [
    '--import', 'tsx', '--test',
    '--test-reporter=dot', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...files,
  ]);
  const text = readFileSync(tap, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const count = (key: string): number => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const passed = count('pass');
  const failed = count('fail');
  if (status !== 0 && failed === 0) return { ok: false, summary: `unit: runner exited ${status}` };
  // Print the failures again at the end, where they are easy to find.
  for (const m of text.matchAll(/^\s*not ok \d+ - (.*)$/gm)) console.log(`  FAIL ${m[1]}`);
  return { ok: status === 0, summary: `unit ${passed} passed, ${failed} failed (${files.length} files)` };
}

const stages: Record<string, () => StageResult | Promise<StageResult>> = {
  lint: () => {
    const ok = run(process.execPath, ['node_modules/eslint/bin/eslint.js', '.']) === 0;
    return { ok, summary: `lint ${ok ? 'ok' : 'FAILED'}` };
  },
  types: () => {
    const ok = run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit']) === 0;
    return { ok, summary: `types ${ok ? 'ok' : 'FAILED'}` };
  },
  unit,
  ...conformanceSuites,
};

const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? (process.argv[onlyArg + 1] ?? '').split(',') : Object.keys(stages);
const summaries: string[] = [];
let allOk = true;
for (const name of only) {
  const stage = stages[name];
  if (stage === undefined) {
    console.error(`unknown stage ${name}; stages: ${Object.keys(stages).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name} ===`);
  const r = await stage();
  console.log(r.summary);
  summaries.push(r.summary);
  allOk &&= r.ok;
}
console.log(`\nwarden test: ${summaries.join('; ')}${allOk ? '' : ' — FAILED'}`);
process.exitCode = allOk ? 0 : 1;
