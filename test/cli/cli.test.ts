/**
 * The `warden` command as a user runs it: check-rules and eval, through the real entry point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { IMPORT_JAILS_USAGE, MUNIN_USAGE, QUICKSTART_USAGE, RELOAD_USAGE, REPLAY_USAGE, START_USAGE, STATUS_USAGE } from '../../src/cli/usage.js';

const entry = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'warden-cli-'));

function warden(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry, ...args], { encoding: 'utf8', input });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const rules = join(dir, 'rules.conf');
writeFileSync(
  rules,
  `SecRuleEngine On
SecDefaultAction "phase:2,log,auditlog,pass"
SecRule ARGS:q "@rx <script" "id:100,phase:2,deny,status:403,t:urlDecodeUni,t:lowercase,msg:'Script tag in q',logdata:'%{MATCHED_VAR}'"
SecRule REQUEST_HEADERS:User-Agent "@beginsWith PHP/" "id:101,phase:1,pass,log,msg:'Old PHP client'"
SecMarker END
`,
);

test('check-rules prints counts by phase and "Test ok." for good rules', () => {
  const r = warden(['check-rules', rules]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1 file, 2 rules \(0 chained rules\), 1 markers/);
  assert.match(r.stdout, /phase 1: 1, phase 2: 1, phase 3: 0, phase 4: 0, phase 5: 0/);
  assert.match(r.stdout, /Test ok\./);
});

test('check-rules reports every error with file:line:column and exits 1', () => {
  const bad = join(dir, 'bad.conf');
  writeFileSync(bad, 'SecRule ARGS "@rx a" "id:1,deny"\nSecRule ARGZ "@rx a" "id:2,deny"\nSecRule ARGS "@rx (" "id:3,deny"\n');
  const r = warden(['check-rules', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${bad}:2:9: error: unknown variable "ARGZ"`));
  assert.match(r.stderr, new RegExp(`${bad}:3:19: error: @rx: `));
  assert.match(r.stderr, /2 errors; rules not loaded/);
});

test('eval explains the verdict: rule, msg, variable, transformed value and operator', () => {
  const req = join(dir, 'req.http');
  writeFileSync(req, 'GET /search?q=%3CScRiPt%3Ealert(1) HTTP/1.1\r\nHost: blog.example.com\r\nUser-Agent: PHP/5.2.10\r\n\r\n');
  const r = warden(['eval', '--rules', rules, req]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Verdict: deny with status 403 by rule 100 in phase 2$/m);
  assert.match(r.stdout, /rule 101 Old PHP client/);
  assert.match(r.stdout, /rule 100 Script tag in q/);
  assert.match(r.stdout, /ARGS:q = "<script>alert\(1\)" after t:urlDecodeUni,t:lowercase \(raw "<ScRiPt>alert\(1\)"\)/);
  assert.match(r.stdout, /@rx <script → match/);
});

test('eval reads the request from standard input and prints JSON with --json', () => {
  const r = warden(['eval', '--json', '--rules', rules], 'POST /x HTTP/1.1\nHost: a\nContent-Type: application/x-www-form-urlencoded\nContent-Length: 11\n\nq=%3cscript');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { verdict: { action: string; ruleId: number }; bodyProcessor: string; argsPost: string[][] };
  assert.equal(out.verdict.action, 'deny');
  assert.equal(out.verdict.ruleId, 100);
  assert.equal(out.bodyProcessor, 'URLENCODED');
  assert.deepEqual(out.argsPost, [['q', '<script']]);
});

test('eval says what is wrong with a malformed request and exits 1', () => {
  const r = warden(['eval', '--rules', rules], 'NOT A REQUEST\n\n');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /request: invalid request line: "NOT A REQUEST"/);
});

test("warden --help prints every command's usage without loading the commands' modules", () => {
  // A module resolve hook that names every file the process loads, on stderr.
  const hooks = join(dir, 'name-modules.mjs');
  writeFileSync(hooks, "export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.startsWith('file:')) process._rawDebug('LOADED ' + r.url); return r; }\n");
  const register = join(dir, 'register-hooks.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', register, entry, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const text of [START_USAGE, QUICKSTART_USAGE, RELOAD_USAGE, REPLAY_USAGE, IMPORT_JAILS_USAGE, STATUS_USAGE, MUNIN_USAGE]) assert.ok(r.stdout.includes(text), text.split('\n')[0]);
  const loaded = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice('LOADED '.length));
  assert.ok(loaded.some((u) => u.endsWith('/src/cli/usage.ts')), 'the hook saw the modules loaded');
  assert.deepEqual(loaded.filter((u) => /\/src\/(engine|proxy|store|jail|audit|admin|seclang)\//.test(u)), []);
});

test('usage errors exit 2', () => {
  assert.equal(warden([]).code, 2);
  assert.equal(warden(['frobnicate']).code, 2);
  assert.equal(warden(['eval', 'x']).code, 2);
});
