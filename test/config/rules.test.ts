/**
 * The rules a config loads: CRS's documented order with plugins (CRS and the WordPress
 * plugin from ../shared, pointed at or symlinked, never copied), the engine mode override,
 * and what Warden's engine baseline (rules/baseline.conf) answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Waf } from '../../src/engine/index.js';
import { BASELINE_RULES, RULES_TEXT_NAME, resolveStartConfig, ruleFilesFor, rulesTextFor, type WardenConfig } from '../../src/config/index.js';
import { runRequest } from '../support/request.js';
import { sharedSuite } from '../support/shared.js';
import { configOf, tempDir } from './support.js';

const crs = sharedSuite('crs');
const wordpress = sharedSuite('crs-plugins/wordpress-rule-exclusions/plugins');
const skip = crs === null || wordpress === null ? 'needs ../shared/crs and ../shared/crs-plugins' : false;

function startConfig(argv: readonly string[], cwd = tempDir()): WardenConfig {
  return configOf(resolveStartConfig(['--upstream', 'http://127.0.0.1:3000', ...argv], {}, cwd));
}

/** A CRS directory made of symlinks into ../shared, with the WordPress plugin installed in plugins/. */
function crsWithPlugin(): string {
  const dir = join(tempDir('warden-crs-'), 'crs');
  mkdirSync(join(dir, 'plugins'), { recursive: true });
  symlinkSync(join(crs as string, 'rules'), join(dir, 'rules'));
  symlinkSync(join(crs as string, 'crs-setup.conf.example'), join(dir, 'crs-setup.conf.example'));
  for (const f of ['empty-config.conf', 'empty-before.conf', 'empty-after.conf']) symlinkSync(join(crs as string, 'plugins', f), join(dir, 'plugins', f));
  for (const f of ['wordpress-rule-exclusions-config.conf', 'wordpress-rule-exclusions-before.conf']) symlinkSync(join(wordpress as string, f), join(dir, 'plugins', f));
  return dir;
}

/** The order as names: `baseline`, `setup`, plugin file names, `rules/<first>…<last>` collapsed. */
function shape(files: readonly string[], crsDir: string): string[] {
  const out: string[] = [];
  for (const f of files) {
    if (f === BASELINE_RULES) out.push('baseline');
    else if (f.startsWith(join(crsDir, 'rules'))) {
      if (out.at(-1) !== 'crs rules') out.push('crs rules');
    } else out.push(basename(f));
  }
  return out;
}

test('CRS load order with a plugin installed in <crs>/plugins', { skip }, () => {
  const dir = crsWithPlugin();
  const local = join(dir, '..', 'local.conf');
  writeFileSync(local, 'SecRuleRemoveById 920350\n');
  const config = startConfig(['--crs', dir, '--rules', local]);
  const files = ruleFilesFor(config);
  assert.deepEqual(shape(files, dir), [
    'baseline',
    'crs-setup.conf.example',
    'empty-config.conf',
    'wordpress-rule-exclusions-config.conf',
    'empty-before.conf',
    'wordpress-rule-exclusions-before.conf',
    'crs rules',
    'empty-after.conf',
    'local.conf',
  ]);
  const crsRules = files.filter((f) => f.startsWith(join(dir, 'rules'))).map((f) => basename(f));
  assert.equal(crsRules[0], 'REQUEST-901-INITIALIZATION.conf');
  assert.equal(crsRules.at(-1), 'RESPONSE-980-CORRELATION.conf');
  assert.ok(!crsRules.some((f) => f.endsWith('.example')), 'the *.conf.example exclusion templates are not loaded');
});

test('crs-setup.conf is preferred to the example; rules.plugins and rules.before take their places', { skip }, () => {
  const dir = tempDir('warden-crs-');
  symlinkSync(join(crs as string, 'rules'), join(dir, 'rules'));
  symlinkSync(join(crs as string, 'plugins'), join(dir, 'plugins'));
  writeFileSync(join(dir, 'crs-setup.conf'), '# own setup\n');
  writeFileSync(join(dir, 'crs-setup.conf.example'), '# not this one\n');
  writeFileSync(join(dir, 'exclusions-before.conf'), '');
  writeFileSync(
    join(dir, 'warden.yaml'),
    `upstreams: [{ url: "http://127.0.0.1:3000" }]
rules:
  crs: .
  plugins: [${wordpress}]
  before: [exclusions-before.conf]
  baseline: false
`,
  );
  const config = configOf(resolveStartConfig(['--config', 'warden.yaml'], {}, dir));
  assert.deepEqual(shape(ruleFilesFor(config), dir), [
    'crs-setup.conf',
    'empty-config.conf',
    'wordpress-rule-exclusions-config.conf',
    'empty-before.conf',
    'wordpress-rule-exclusions-before.conf',
    'exclusions-before.conf',
    'crs rules',
    'empty-after.conf',
  ]);
});

test('CRS with the WordPress plugin loads with no errors, and the plugin lets a WordPress login through', { skip }, async () => {
  const config = startConfig(['--crs', crsWithPlugin()]);
  const withPlugin = Waf.fromText(rulesTextFor(config), { file: RULES_TEXT_NAME });
  const withoutPlugin = Waf.fromText(rulesTextFor(startConfig(['--crs', crs as string])), { file: RULES_TEXT_NAME });
  // The plugin's own regression test 9507100/1: a password that looks like XSS.
  const login = {
    method: 'POST',
    uri: '/wp-login.php',
    headers: [
      ['Host', 'localhost'],
      ['User-Agent', 'OWASP CRS test agent'],
      ['Accept', 'text/html'],
      ['Content-Type', 'application/x-www-form-urlencoded'],
    ] as const,
    body: 'log=test&pwd=%3Cscript%3E&wp-submit=Log+In&redirect_to=https%3A%2F%2Fexample.com%2Fwp-admin%2F&testcookie=1',
  };
  const blocked = await runRequest(withoutPlugin, login);
  assert.equal(blocked.interruption?.status, 403, 'CRS alone blocks it');
  assert.ok(blocked.matched.includes(941110));
  const passed = await runRequest(withPlugin, login);
  assert.equal(passed.interruption, null);
  assert.ok(!passed.matched.includes(941110));
  assert.ok(passed.matched.includes(9507100), 'the plugin\'s exclusion rule ran');
});

test('rules.mode overrides SecRuleEngine from every rule file', () => {
  const dir = tempDir();
  const rules = join(dir, 'rules.conf');
  writeFileSync(rules, 'SecRuleEngine On\nSecRule ARGS:q "@streq attack" "id:1,phase:1,deny,status:403"\n');
  for (const [mode, engine] of [['on', 'On'], ['detection', 'DetectionOnly'], ['off', 'Off']] as const) {
    const waf = Waf.fromText(rulesTextFor(startConfig(['--rules', rules, '--mode', mode])), { file: RULES_TEXT_NAME });
    assert.equal(waf.config.ruleEngine, engine);
  }
  const followFiles = Waf.fromText(rulesTextFor(startConfig(['--rules', join(dir, 'rules.conf')])), { file: RULES_TEXT_NAME });
  assert.equal(followFiles.config.ruleEngine, 'On');
  assert.doesNotMatch(rulesTextFor(startConfig(['--rules', rules])), /SecRuleEngine/);
});

test('a user rule file that is missing is named with its line (and by the loader if it vanishes later)', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'warden.yaml'), 'upstreams: [{ url: "http://127.0.0.1:3000" }]\nrules:\n  files:\n    - local.conf\n');
  const r = resolveStartConfig(['--config', 'warden.yaml'], {}, dir);
  assert.deepEqual('errors' in r ? r.errors : [], [`warden.yaml:4: rules.files[0] names ${join(dir, 'local.conf')}, which does not exist (a SecLang rule file)`]);
});

// ------------------------------------------------------------------- the baseline

const baseline = Waf.fromFiles([BASELINE_RULES]);
const post = (contentType: string, body: string) => ({
  method: 'POST',
  uri: '/api',
  headers: [
    ['Host', 'example.com'],
    ['Content-Type', contentType],
  ] as const,
  body,
});

test('baseline: loads clean, ids in 1000000–1000999, every rule with msg and the warden-baseline tag', () => {
  assert.deepEqual(baseline.warnings, []);
  const starters = baseline.rules.filter((r) => r.starter === r);
  assert.ok(starters.length >= 7);
  for (const r of starters) {
    assert.ok(r.id >= 1000000 && r.id <= 1000999, `id ${r.id}`);
    assert.notEqual(r.msg, null, `rule ${r.id} has a msg`);
    assert.ok(r.tags.some((t) => t.source === 'warden-baseline'), `rule ${r.id} is tagged`);
  }
  assert.equal(baseline.config.requestBodyAccess, true);
  assert.equal(baseline.config.requestBodyLimitAction, 'Reject');
  assert.equal(baseline.config.responseBodyAccess, false);
  assert.deepEqual(baseline.config.responseBodyMimeTypes, ['text/plain', 'text/html', 'text/xml']);
});

test('baseline: body processors chosen by Content-Type', async () => {
  const cases: ReadonlyArray<readonly [string, string | null]> = [
    ['text/xml', 'XML'],
    ['application/xml; charset=utf-8', 'XML'],
    ['application/soap+xml', 'XML'],
    ['Application/JSON', 'JSON'],
    ['application/problem+json', 'JSON'],
    ['application/vnd.api+json', 'JSON'],
    ['application/x-www-form-urlencoded', 'URLENCODED'],
    ['text/plain', null],
  ];
  for (const [type, processor] of cases) {
    const r = await runRequest(baseline, post(type, ''));
    assert.equal(r.tx.reqbodyProcessor, processor, type);
  }
});

test('baseline: a body its processor cannot parse is answered 400 (REQBODY_ERROR)', async () => {
  const json = await runRequest(baseline, post('application/json', '{"a": '));
  assert.deepEqual([json.interruption?.status, json.interruption?.ruleId], [400, 1000010]);
  const xml = await runRequest(baseline, post('text/xml', '<methodCall><methodName>pingback.ping</methodName>'));
  assert.deepEqual([xml.interruption?.status, xml.interruption?.ruleId], [400, 1000010]);
  assert.match(xml.tx.matches.find((m) => m.ruleId === 1000010)?.data ?? '', /XML/);
  const ok = await runRequest(baseline, post('application/json', '{"a": [1, 2]}'));
  assert.equal(ok.interruption, null);
  assert.deepEqual(ok.tx.argsPost.map((e) => [e.key, e.value]), [['json.a.array_0', '1'], ['json.a.array_1', '2']]);
});

test('baseline: multipart that fails strict validation is answered 400', async () => {
  const boundary = 'xyz';
  const good = `--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--${boundary}--\r\n`;
  const ok = await runRequest(baseline, post(`multipart/form-data; boundary=${boundary}`, good));
  assert.equal(ok.interruption, null);
  // Data before the first boundary (MULTIPART_DATA_BEFORE): parsers disagree on such bodies.
  const bad = await runRequest(baseline, post(`multipart/form-data; boundary=${boundary}`, `junk\r\n${good}`));
  assert.deepEqual([bad.interruption?.status, bad.interruption?.ruleId], [400, 1000011]);
  assert.match(bad.tx.matches.find((m) => m.ruleId === 1000011)?.msg ?? '', /DB 1/);
});

test('baseline: more arguments than SecArgumentsLimit is answered 400', async () => {
  const body = Array.from({ length: 1001 }, (_, i) => `a${i}=1`).join('&');
  const r = await runRequest(baseline, post('application/x-www-form-urlencoded', body));
  // The body processor flags the cut-off itself (REQBODY_ERROR, as ModSecurity v3 does), so
  // rule 1000010 answers before 1000013, the recommended file's own guard, is reached.
  assert.equal(r.interruption?.status, 400);
  assert.ok([1000010, 1000013].includes(r.interruption?.ruleId ?? 0));
  const query = Array.from({ length: 1000 }, (_, i) => `a${i}=1`).join('&');
  const many = await runRequest(baseline, { uri: `/?${query}`, headers: [['Host', 'example.com']] });
  assert.deepEqual([many.interruption?.status, many.interruption?.ruleId], [400, 1000013]);
});

test('baseline: audit settings follow the recommended file (4xx but 404, 5xx)', () => {
  const re = baseline.config.auditLogRelevantStatus;
  assert.ok(re !== null);
  const relevant = ['400', '403', '405', '413', '499', '500', '503'].filter((s) => re.test(s));
  assert.deepEqual(relevant, ['400', '403', '405', '413', '499', '500', '503']);
  assert.equal(re.test('404'), false);
  assert.equal(re.test('200'), false);
  assert.equal(baseline.config.auditEngine, 'RelevantOnly');
});
