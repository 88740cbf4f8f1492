/**
 * The admin listener of a real `warden start` (two workers) under traffic, over HTTP:
 * credentials are required; /metrics is valid exposition text whose counters move with the
 * traffic (summed across workers); the JSON API lists jails, bans and recent blocks, explains
 * a block rule by rule, bans and unbans (the proxy follows at once); the graphs' history
 * survives a restart. Without credentials configured only this machine gets in.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { send, startUpstream } from '../proxy/support.js';
import { parseExposition, sampleSum, sampleValue } from './exposition.js';
import { call, eventually, freePort, startWarden, wait } from './support.js';

const root = mkdtempSync(join(tmpdir(), 'warden-admin-'));
after(() => rmSync(root, { recursive: true, force: true }));

const TOKEN = 'test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };

const RULES = `SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "@beginsWith application/json" "id:10,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" "id:11,phase:2,deny,status:400,log,msg:'body does not parse'"
SecRule ARGS "@contains union select" "id:1001,phase:2,deny,status:403,log,msg:'SQL words',tag:'attack-sqli',t:urlDecodeUni,t:lowercase"
`;

function writeConfig(dir: string, upstream: string, admin: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rules.conf'), RULES);
  const config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ name: blog, url: "${upstream}" }]
proxy: { trustedProxies: [127.0.0.1] }
rules: { baseline: false, files: [rules.conf] }
dataDir: data
workers: 2
logs: { error: null }
admin: ${admin}
jails:
  waf: { when: { blocked: true, status: [403] }, maxRetry: 3, findTime: 10m, banTime: 1h }
  bodies: { when: { bodyError: true }, maxRetry: 10, findTime: 10m, banTime: 1h }
`,
  );
  return config;
}

test('admin API and /metrics over HTTP against warden start with traffic; history survives a restart', async () => {
  const seen: string[] = [];
  const upstream = await startUpstream((req, res) => {
    seen.push(String(req.headers['x-forwarded-for']));
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const adminPort = await freePort();
  const dir = join(root, 'token');
  const config = writeConfig(dir, upstream.url, `{ host: 127.0.0.1, port: ${adminPort}, token: "${TOKEN}" }`);
  let w = await startWarden(config);
  try {
    assert.equal(w.admin, `http://127.0.0.1:${adminPort}/`);
    assert.match(w.output.join(''), /admin on http:\/\/127\.0\.0\.1:\d+\/ \(dashboard, \/metrics, \/api; token/);
    const admin = (path: string, options: Parameters<typeof call>[1] = {}) => call(`${w.admin}${path.slice(1)}`, { ...options, headers: { ...auth, ...options.headers } });

    // Credentials are required everywhere, the dashboard's page included.
    for (const path of ['', 'metrics', 'api/status', 'api/bans', 'assets/dashboard.js']) {
      const r = await call(`${w.admin}${path}`);
      assert.equal(r.status, 401, `/${path} without credentials`);
      assert.match(String(r.headers['www-authenticate']), /^Basic realm="Warden admin"/);
      assert.equal((await call(`${w.admin}${path}`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    }
    const basic = await call(`${w.admin}api/status`, { headers: { authorization: `Basic ${Buffer.from(`me:${TOKEN}`).toString('base64')}` } });
    assert.equal(basic.status, 200, 'the token works as a Basic password (the browser prompt)');

    const before = parseExposition((await admin('/metrics')).text);
    const proxy = `http://127.0.0.1:${w.port}`;
    const from = (client: string) => ({ 'x-forwarded-for': client, 'user-agent': 'test' });
    for (let i = 0; i < 20; i++) assert.equal((await send(`${proxy}/post/${i}?q=hello`, { headers: from(`198.51.100.${i % 5}`) })).status, 200);
    const attacker = '203.0.113.66';
    for (let i = 0; i < 3; i++) assert.equal((await send(`${proxy}/search?q=1%20UNION%20SELECT%20pass${i}`, { headers: from(attacker) })).status, 403);
    const bad = await send(`${proxy}/api/comments`, { method: 'POST', headers: { ...from('192.0.2.5'), 'content-type': 'application/json' }, body: '{"a": [1, 2' });
    assert.equal(bad.status, 400);
    // The ban reaches both workers.
    await eventually(async () => ((await admin('/api/bans')).json<Array<{ address: string }>>().some((b) => b.address === attacker) ? true : undefined), 10_000, 'the ban');
    await wait(200);
    const upstreamBefore = seen.filter((c) => c === attacker).length;
    for (let i = 0; i < 4; i++) assert.equal((await send(`${proxy}/post/1`, { headers: from(attacker) })).status, 403);
    assert.equal(seen.filter((c) => c === attacker).length, upstreamBefore, 'a banned client did not reach the upstream');

    // Workers report once a second.
    const m = await eventually(async () => {
      const text = (await admin('/metrics')).text;
      const parsed = parseExposition(text);
      return sampleSum(parsed, 'warden_requests_total', { verdict: 'banned' }) >= 4 && sampleSum(parsed, 'warden_requests_total', { verdict: 'pass' }) >= 20 ? parsed : undefined;
    }, 10_000, 'the workers to report');
    assert.equal(sampleSum(before, 'warden_requests_total'), 0);
    assert.equal(sampleValue(m, 'warden_requests_total', { listener: 'listener0', route: '*/', verdict: 'pass', status: '200' }), 20);
    assert.equal(sampleValue(m, 'warden_requests_total', { listener: 'listener0', route: '*/', verdict: 'deny', status: '403' }), 3);
    assert.equal(sampleValue(m, 'warden_requests_total', { listener: 'listener0', route: '*/', verdict: 'deny', status: '400' }), 1);
    assert.equal(sampleValue(m, 'warden_requests_total', { listener: 'listener0', route: 'none', verdict: 'banned', status: '403' }), 4);
    assert.equal(sampleValue(m, 'warden_blocks_total', { rule_id: '1001' }), 3);
    assert.equal(sampleValue(m, 'warden_blocks_total', { rule_id: '11' }), 1);
    assert.equal(sampleValue(m, 'warden_block_tags_total', { tag: 'attack-sqli' }), 3);
    assert.equal(sampleValue(m, 'warden_body_processor_errors_total', { processor: 'JSON' }), 1);
    assert.equal(sampleValue(m, 'warden_bans_active', { jail: 'waf' }), 1);
    assert.equal(sampleValue(m, 'warden_bans_total', { jail: 'waf' }), 1);
    // Workers send the events some WAF jail may count (the 3 refusals, and the 400 for the bodies jail).
    assert.equal(sampleValue(m, 'warden_jail_lines_read_total', { jail: 'waf', source: 'waf' }), 4);
    assert.equal(sampleValue(m, 'warden_jail_lines_matched_total', { jail: 'waf', source: 'waf' }), 3, 'only the 403s count in waf (status: [403])');
    assert.equal(sampleValue(m, 'warden_jail_lines_matched_total', { jail: 'bodies', source: 'waf' }), 1);
    assert.equal(sampleValue(m, 'warden_waf_phase_seconds_count', { phase: '1' }), 24);
    assert.equal(sampleValue(m, 'warden_waf_phase_seconds_count', { phase: '2' }), 24);
    assert.equal(sampleValue(m, 'warden_waf_phase_seconds_count', { phase: '5' }), 24);
    assert.ok(sampleValue(m, 'warden_waf_phase_seconds_sum', { phase: '1' }) > 0);
    assert.equal(sampleValue(m, 'warden_upstream_response_seconds_count', { upstream: 'blog' }), 20);
    assert.equal(sampleValue(m, 'warden_workers'), 2);
    assert.equal(sampleValue(m, 'warden_log_write_errors_total'), 0);

    // The JSON API.
    const status = (await admin('/api/status')).json<{ workers: number; rules: number; totals: Record<string, number>; bansActive: number }>();
    assert.equal(status.workers, 2);
    assert.equal(status.rules, 3);
    assert.deepEqual(status.totals, { requests: 28, blocked: 4, banned: 4, rejected: 0, upstream: 20 });
    assert.equal(status.bansActive, 1);
    const jails = (await admin('/api/jails')).json<Array<{ jail: string; banned: number; source: string | null; linesRead: number }>>();
    assert.deepEqual(jails.find((j) => j.jail === 'waf'), { ...jails.find((j) => j.jail === 'waf'), banned: 1, source: 'waf', linesRead: 4 });
    const events = (await admin('/api/events')).json<Array<{ id: string; clientAddress: string; ruleId: number; status: number; pid: number }>>();
    assert.deepEqual(events.map((e) => [e.clientAddress, e.ruleId, e.status]), [
      ['192.0.2.5', 11, 400],
      [attacker, 1001, 403],
      [attacker, 1001, 403],
      [attacker, 1001, 403],
    ]);
    assert.equal(new Set(events.map((e) => e.pid)).size >= 1, true);

    // A block explained by the worker that served it.
    const first = events[3] as { id: string };
    const ex = (await admin(`/api/transactions/${first.id}`)).json<{
      id: string;
      recorded: { verdict: { ruleId: number } };
      explanation: { request: { target: string }; rules: Array<{ id: number; decisive: boolean; targets: Array<{ variable: string; rawValue: string; value: string; transforms: string[]; operator: string }> }> };
    }>();
    assert.equal(ex.id, first.id);
    assert.equal(ex.recorded.verdict.ruleId, 1001);
    assert.equal(ex.explanation.request.target, '/search?q=1%20UNION%20SELECT%20pass0');
    const rule = ex.explanation.rules.find((r) => r.id === 1001);
    assert.equal(rule?.decisive, true);
    assert.deepEqual(rule?.targets[0], { ...rule?.targets[0], variable: 'ARGS:q', rawValue: '1 UNION SELECT pass0', value: '1 union select pass0', transforms: ['urlDecodeUni', 'lowercase'] });
    assert.equal((await admin('/api/transactions/NO0SUCH0ID')).status, 404);
    assert.equal((await admin('/api/transactions/..%2Fetc')).status, 400);

    // Graphs and top lists.
    const series = (await admin('/api/series?range=hour')).json<{ step: number; t: number[]; series: Record<string, number[]> }>();
    const sum = (k: string) => (series.series[k] as number[]).reduce((a, b) => a + b, 0);
    assert.equal(series.step, 10_000);
    assert.equal(series.t.length, 360);
    assert.deepEqual([sum('requests'), sum('blocked'), sum('banned'), sum('upstream')], [28, 4, 4, 20]);
    const top = (await admin('/api/top?range=hour&limit=3')).json<{ clients: Array<{ key: string; count: number }>; rules: Array<{ key: string }>; paths: Array<{ key: string }> }>();
    assert.deepEqual(top.clients[0], { key: attacker, count: 7 });
    assert.deepEqual(top.rules.map((r) => r.key), ['1001', '11']);
    assert.deepEqual(top.paths[0], { key: '/search', count: 3 });
    assert.equal((await admin('/api/series?range=year')).status, 400);

    // Unban through the API: the proxy lets the client through again.
    const lifted = await admin(`/api/bans/${encodeURIComponent(attacker)}?jail=waf`, { method: 'DELETE' });
    assert.equal(lifted.status, 200);
    assert.deepEqual(lifted.json(), { unbanned: 1 });
    assert.deepEqual((await admin('/api/bans')).json(), []);
    await eventually(async () => ((await send(`${proxy}/post/after-unban`, { headers: from(attacker) })).status === 200 ? true : undefined), 5000, 'the unban to reach the workers');
    assert.equal((await admin(`/api/bans/${encodeURIComponent(attacker)}`, { method: 'DELETE' })).status, 404);

    // Ban by hand; changes need JSON and an Origin of this listener.
    const manual = await admin('/api/bans', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: '192.0.2.99', seconds: 600, reason: 'test' }) });
    assert.equal(manual.status, 201);
    assert.deepEqual(manual.json(), { ...manual.json<object>(), jail: 'manual', address: '192.0.2.99', reason: 'test' });
    await eventually(async () => ((await send(`${proxy}/`, { headers: from('192.0.2.99') })).status === 403 ? true : undefined), 5000, 'the manual ban');
    assert.equal((await admin('/api/bans', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"address":"192.0.2.98"}' })).status, 415);
    assert.equal((await admin('/api/bans', { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: '{"address":"192.0.2.98"}' })).status, 403);
    assert.equal((await admin('/api/bans', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"address":"not an address"}' })).status, 400);
    assert.equal((await admin('/api/bans', { method: 'PUT' })).status, 405);
    const after1 = await eventually(async () => {
      const parsed = parseExposition((await admin('/metrics')).text);
      return sampleValue(parsed, 'warden_bans_total', { jail: 'manual' }) === 1 ? parsed : undefined;
    }, 5000, 'the manual ban in the metrics');
    assert.equal(sampleValue(after1, 'warden_unbans_total', { jail: 'waf', reason: 'manual' }), 1);
    assert.equal(sampleValue(after1, 'warden_bans_active', { jail: 'manual' }), 1);
    assert.equal(sampleValue(after1, 'warden_bans_active', { jail: 'waf' }), 0);

    // A restart keeps the graphs' history (the counters start again, the store does not).
    await w.stop();
    w = await startWarden(config);
    const again = (await call(`${w.admin}api/series?range=hour`, { headers: auth })).json<{ series: Record<string, number[]> }>();
    const total = (again.series.requests as number[]).reduce((a, b) => a + b, 0);
    assert.ok(total >= 30, `requests before the restart are still graphed (${total})`);
    assert.ok((again.series.banned as number[]).reduce((a, b) => a + b, 0) >= 4 + 1);
    const day = (await call(`${w.admin}api/series?range=day`, { headers: auth })).json<{ step: number; series: Record<string, number[]> }>();
    assert.equal(day.step, 300_000);
    assert.equal((day.series.requests as number[]).reduce((a, b) => a + b, 0), total, 'the day graph has the same requests');
    assert.equal((await call(`${w.admin}api/top?range=week`, { headers: auth })).json<{ clients: Array<{ key: string }> }>().clients[0]?.key, attacker);
  } finally {
    await w.stop();
    await upstream.close();
  }
});

test('without credentials configured the admin listener answers this machine only, by its own name', async () => {
  const upstream = await startUpstream((_req, res) => res.end('ok'));
  const adminPort = await freePort();
  const config = writeConfig(join(root, 'none'), upstream.url, `{ host: 127.0.0.1, port: ${adminPort} }`);
  const w = await startWarden(config);
  try {
    assert.match(w.output.join(''), /admin on http:\/\/127\.0\.0\.1:\d+\/ \(dashboard, \/metrics, \/api; no authentication: this machine only\)/);
    assert.equal((await call(`${w.admin}api/status`)).status, 200);
    assert.equal((await call(`${w.admin}metrics`, { headers: { host: `localhost:${adminPort}` } })).status, 200);
    const rebound = await call(`${w.admin}api/status`, { headers: { host: `attacker.example:${adminPort}` } });
    assert.equal(rebound.status, 403);
    assert.match(rebound.json<{ error: string }>().error, /is not this machine/);
    const page = await call(w.admin);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.match(page.text, /<title>Warden<\/title>/);
    const uplot = await call(`${w.admin}assets/uplot.js`);
    assert.equal(uplot.status, 200);
    assert.match(uplot.text, /uPlot/);
  } finally {
    await w.stop();
    await upstream.close();
  }
});
