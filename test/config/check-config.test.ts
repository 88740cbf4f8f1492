/**
 * `warden check-config` as a user runs it: the resolved configuration and the rule files in
 * load order, or every problem and exit code 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parse } from 'yaml';
import { main, type Io } from '../../src/cli/main.js';
import { BASELINE_RULES, DEFAULT_RULES } from '../../src/config/index.js';
import { writeTree } from './support.js';

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: () => '' };
  const code = await main(['check-config', ...argv], io, env);
  return { code, out, err };
}

test('check-config prints the resolved config as YAML, secrets hidden, and the rule files in order', async () => {
  const dir = writeTree({
    'local.conf': 'SecRule ARGS:q "@streq attack" "id:10,phase:2,deny,msg:\'q\'"\n',
    'warden.yaml': `upstreams: [{ name: app, url: "http://127.0.0.1:3000" }]
rules: { files: [local.conf], mode: detection }
admin: { host: 0.0.0.0, token: "abcdefabcdefabcdefabcdef" }
`,
  });
  const r = await run(['--config', join(dir, 'warden.yaml'), '--listen', '127.0.0.1:8081']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const text = r.out.join('\n');
  const printed = parse(text) as Record<string, { host?: string; port?: number; token?: string }[] & { token?: string }>;
  assert.deepEqual((printed.listeners as { host: string; port: number }[]).map((l) => [l.host, l.port]), [['127.0.0.1', 8081]]);
  assert.equal((printed.admin as { token: string }).token, '(24 characters, hidden)');
  assert.doesNotMatch(text, /abcdefabcdef/);
  const order = r.out.filter((l) => l.startsWith('#   ')).map((l) => l.slice(4));
  assert.deepEqual(order, [BASELINE_RULES, join(dir, 'local.conf'), 'then SecRuleEngine from rules.mode (detection)']);
  assert.match(text, /rules \(0 chained rules\), engine DetectionOnly\n# Configuration ok\./);
});

test('check-config --json prints one JSON document', async () => {
  const r = await run(['--json', '--upstream', 'http://127.0.0.1:3000']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const doc = JSON.parse(r.out.join('\n')) as { file: string | null; ruleFiles: string[]; config: { upstreams: { url: string }[] } };
  assert.equal(doc.file, null);
  // No CRS and no rule files: the baseline and Warden's default rule set.
  assert.deepEqual(doc.ruleFiles, [BASELINE_RULES, ...DEFAULT_RULES]);
  assert.equal(doc.config.upstreams[0]?.url, 'http://127.0.0.1:3000');
});

test('check-config lists every problem with file:line and exits 1', async () => {
  const dir = writeTree({ 'warden.yaml': 'upstreams:\n  - url: localhost:3000\nworkrs: 2\n' });
  const r = await run(['--config', join(dir, 'warden.yaml')]);
  assert.equal(r.code, 1);
  const file = join(dir, 'warden.yaml');
  assert.deepEqual(r.err, [
    `${file}:2: upstreams[0].url must be an http:// or https:// URL`,
    `${file}:3: workrs is not a setting (did you mean workers?)`,
    '2 errors; configuration not usable',
  ]);
  assert.deepEqual(r.out, []);
});

test('check-config loads the rules too: a broken rule file fails with file:line:column', async () => {
  const dir = writeTree({ 'bad.conf': 'SecRule ARGS "@rx (" "id:1,phase:2,deny"\n' });
  const r = await run(['--upstream', 'http://127.0.0.1:3000', '--rules', join(dir, 'bad.conf')]);
  assert.equal(r.code, 1);
  assert.match(r.err[0] ?? '', new RegExp(`^${join(dir, 'bad.conf')}:1:\\d+: error: `));
  assert.equal(r.err.at(-1), '1 error; rules not loaded');
});
