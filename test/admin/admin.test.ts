/**
 * The admin parts in process: a worker's recorder turns finished requests into one report
 * per interval; the primary's metrics add reports up into valid Prometheus text whose
 * counters only grow; the history fills the graph's buckets and ranks the top lists; a
 * kept transaction is explained rule by rule with the value after transformations; the
 * auth check lets in only what the config allows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { adminAuth, isLoopbackAddress } from '../../src/admin/auth.js';
import type { MetricsDelta } from '../../src/admin/delta.js';
import { RecentEvents } from '../../src/admin/events.js';
import { FINE_STEP, History } from '../../src/admin/history.js';
import { AdminMetrics } from '../../src/admin/metrics.js';
import { RecentTransactions } from '../../src/admin/recent.js';
import { WorkerRecorder, type RequestSample } from '../../src/admin/recorder.js';
import { Waf } from '../../src/engine/waf.js';
import { explainRequest } from '../../src/engine/explain.js';
import { BanManager } from '../../src/jail/ban-manager.js';
import { jailSettings } from '../../src/jail/types.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { parseExposition, sampleSum, sampleValue } from './exposition.js';

const RULES = `
SecRuleEngine On
SecRequestBodyAccess On
SecAction "id:900,phase:1,nolog,pass,setvar:tx.blocking_inbound_anomaly_score=0"
SecRule ARGS "@contains union select" "id:1001,phase:2,deny,status:403,log,msg:'SQL words',tag:'attack-sqli',t:lowercase,t:urlDecodeUni,setvar:tx.blocking_inbound_anomaly_score=+5"
SecRule REQUEST_HEADERS:User-Agent "@beginsWith PHP/" "id:1002,phase:1,pass,log,msg:'old PHP client',tag:'attack-pingback'"
`;

const waf = Waf.fromText(RULES);

async function run(target: string, headers: Array<[string, string]> = [], client = '203.0.113.9'): Promise<RequestSample> {
  const tx = waf.newTransaction();
  tx.processConnection(client, 50000, '127.0.0.1', 8080);
  tx.processRequestLine('GET', target, 'HTTP/1.1');
  tx.addRequestHeader('Host', 'blog.example');
  for (const [k, v] of headers) tx.addRequestHeader(k, v);
  let it = await tx.processRequestHeaders();
  if (it === null) it = await tx.processRequestBody();
  await tx.processLogging();
  return {
    tx,
    listener: { name: 'web' },
    routeName: '*/',
    upstreamName: 'blog',
    sentStatus: it === null ? 200 : it.status,
    phase1Ms: 0.03,
    phase2Ms: it === null || it.phase === 2 ? 0.2 : -1,
    phase3Ms: it === null ? 0.01 : -1,
    phase4Ms: it === null ? 0.01 : -1,
    phase5Ms: 0.005,
    forwarded: it === null,
    upstreamMs: it === null ? 4 : -1,
  };
}

async function traffic(recorder: WorkerRecorder): Promise<void> {
  for (let i = 0; i < 5; i++) recorder.exchangeDone(await run(`/post/${i}?q=hello`));
  recorder.exchangeDone(await run('/search?q=1%20UNION%20SELECT%20password'));
  recorder.exchangeDone(await run('/search?q=2%20union%20select%20user', [], '198.51.100.7'));
  recorder.exchangeDone(await run('/xmlrpc.php', [['User-Agent', 'PHP/5.2.10']]));
  recorder.refused('web', 403, true, '192.0.2.66');
  recorder.refused('web', 400, false, '192.0.2.1');
}

test('a worker report counts requests by verdict, blocks by rule and tag, phases, upstream, score and tops', async () => {
  const recorder = new WorkerRecorder(4242);
  assert.equal(recorder.take(), null, 'nothing to report before any request');
  await traffic(recorder);
  const d = recorder.take() as MetricsDelta;
  assert.equal(d.pid, 4242);
  assert.deepEqual(d.counts, { requests: 10, blocked: 2, banned: 1, rejected: 1, upstream: 6 });
  const requests = Object.fromEntries(d.requests.map(([l, r, v, s, n]) => [`${l} ${r} ${v} ${s}`, n]));
  assert.deepEqual(requests, { 'web */ pass 200': 6, 'web */ deny 403': 2, 'web  banned 403': 1, 'web  rejected 400': 1 });
  assert.deepEqual(d.blocksByRule, [['1001', 2]]);
  assert.deepEqual(d.blocksByTag, [['attack-sqli', 2]]);
  assert.deepEqual(Object.fromEntries(d.ruleMatches), { '1001': 2, '1002': 1 });
  const phase1 = d.histograms.find((h) => h.name === 'phase' && h.label === '1');
  assert.equal(phase1?.count, 8);
  assert.equal(phase1?.counts.reduce((a, b) => a + b, 0), 8);
  assert.equal(d.histograms.find((h) => h.name === 'upstream' && h.label === 'blog')?.count, 6);
  const score = d.histograms.find((h) => h.name === 'score');
  assert.equal(score?.count, 8);
  assert.equal(score?.sum, 10);
  assert.deepEqual(d.tops.rule, [['1001', 2], ['1002', 1]]);
  assert.deepEqual(Object.fromEntries(d.tops.client), { '203.0.113.9': 1, '198.51.100.7': 1, '192.0.2.66': 1 });
  assert.deepEqual(d.tops.path, [['/search', 2]]);
  // The PHP client was logged but not blocked: an event (all=1), and kept for an explanation.
  assert.deepEqual(d.events.map((e) => [e.blocked, e.ruleId, e.pid, e.listener]), [[true, 1001, 4242, 'web'], [true, 1001, 4242, 'web'], [false, 0, 4242, 'web']]);
  assert.equal(recorder.recent.size, 3);
  assert.equal(recorder.take(), null, 'a report starts the next interval from zero');
});

test('a disabled recorder counts nothing', async () => {
  const recorder = new WorkerRecorder();
  recorder.enabled = false;
  recorder.exchangeDone(await run('/search?q=1%20UNION%20SELECT%20password'));
  recorder.refused('web', 403, true, '192.0.2.66');
  assert.equal(recorder.take(), null);
});

test('the primary adds reports into valid Prometheus text; counters keep growing when a worker goes', async () => {
  const manager = new BanManager({ store: createMemoryStore() });
  manager.addJail(jailSettings('waf', { maxRetry: 3 }));
  await manager.start();
  const metrics = new AdminMetrics({ manager, workers: () => 2, version: 'Warden test', sources: () => [{ jail: 'waf', source: 'waf', read: 7, matched: 3 }] });
  manager.subscribe((e) => metrics.onBanEvent(e));
  const a = new WorkerRecorder(1);
  const b = new WorkerRecorder(2);
  await traffic(a);
  await traffic(b);
  metrics.apply(a.take() as MetricsDelta);
  metrics.apply(b.take() as MetricsDelta);
  await manager.ban('192.0.2.66', { jail: 'waf' });
  await manager.unban('waf', '192.0.2.66');
  await manager.ban('192.0.2.67', { jail: 'waf' });
  let m = parseExposition(await metrics.text());
  for (const name of m.keys()) assert.match(name, /^warden_/);
  assert.equal(sampleValue(m, 'warden_requests_total', { listener: 'web', route: '*/', verdict: 'pass', status: '200' }), 12);
  assert.equal(sampleValue(m, 'warden_requests_total', { verdict: 'banned', route: 'none', status: '403' }), 2);
  assert.equal(sampleValue(m, 'warden_blocks_total', { rule_id: '1001' }), 4);
  assert.equal(sampleValue(m, 'warden_block_tags_total', { tag: 'attack-sqli' }), 4);
  assert.equal(sampleValue(m, 'warden_rule_matches_total', { rule_id: '1002' }), 2);
  assert.equal(sampleValue(m, 'warden_waf_phase_seconds_count', { phase: '1' }), 16);
  assert.equal(sampleValue(m, 'warden_waf_phase_seconds_bucket', { phase: '1', le: '0.00005' }), 16, '0.03 ms is in the first bucket');
  assert.equal(sampleValue(m, 'warden_upstream_response_seconds_bucket', { upstream: 'blog', le: '0.005' }), 12);
  assert.equal(sampleValue(m, 'warden_anomaly_score_count'), 16);
  assert.equal(sampleValue(m, 'warden_anomaly_score_bucket', { le: '4' }), 12);
  assert.equal(sampleValue(m, 'warden_bans_active', { jail: 'waf' }), 1);
  assert.equal(sampleValue(m, 'warden_bans_total', { jail: 'waf' }), 2);
  assert.equal(sampleValue(m, 'warden_unbans_total', { jail: 'waf', reason: 'manual' }), 1);
  assert.equal(sampleValue(m, 'warden_jail_lines_read_total', { jail: 'waf', source: 'waf' }), 7);
  assert.equal(sampleValue(m, 'warden_jail_lines_matched_total', { jail: 'waf', source: 'waf' }), 3);
  assert.equal(sampleValue(m, 'warden_workers'), 2);
  assert.equal(sampleValue(m, 'warden_build_info', { version: 'Warden test' }), 1);
  assert.deepEqual(metrics.totals, { requests: 20, blocked: 4, banned: 2, rejected: 2, upstream: 12 });
  // Worker 2 is gone; worker 1 goes on: the totals keep what worker 2 reported.
  await traffic(a);
  metrics.apply(a.take() as MetricsDelta);
  m = parseExposition(await metrics.text());
  assert.equal(sampleSum(m, 'warden_requests_total'), 30);
  assert.equal(sampleValue(m, 'warden_jail_lines_read_total', { jail: 'waf', source: 'waf' }), 7, 'a scrape adds only what is new');
  await manager.stop();
});

test('history: buckets of the hour graph, zeros where nothing happened, tops ranked over the range', async () => {
  let now = 1_800_000_000_000;
  const store = createMemoryStore();
  const history = new History(store, { now: () => now });
  history.add({ requests: 10, blocked: 2, banned: 1, rejected: 0, upstream: 7 }, { rule: [['1001', 2]], client: [['203.0.113.9', 2]], path: [['/search', 2]] });
  now += FINE_STEP;
  history.add({ requests: 4, blocked: 0, banned: 3, rejected: 1, upstream: 0 }, { rule: [], client: [['192.0.2.66', 3]], path: [] });
  history.add({ requests: 1, blocked: 1, banned: 0, rejected: 0, upstream: 0 }, { rule: [['1001', 1]], client: [['203.0.113.9', 2]], path: [['/search', 1]] });
  const view = await history.series('hour');
  assert.equal(view.step, FINE_STEP);
  assert.equal(view.t.length, 360);
  assert.equal(view.to - view.from, 3600_000);
  const last = view.t.length - 1;
  assert.deepEqual([view.series.requests[last - 1], view.series.requests[last]], [10, 5]);
  assert.deepEqual([view.series.banned[last - 1], view.series.banned[last]], [1, 3]);
  assert.equal(view.series.requests.slice(0, last - 1).reduce((a, b) => a + b, 0), 0);
  const day = await history.series('day');
  assert.equal(day.series.requests.reduce((a, b) => a + b, 0), 15, 'the day graph has the same requests in 5-minute buckets');
  const top = await history.top('hour', 10);
  assert.deepEqual(top.clients, [
    { key: '203.0.113.9', count: 4 },
    { key: '192.0.2.66', count: 3 },
  ]);
  assert.deepEqual(top.rules, [{ key: '1001', count: 3 }]);
  assert.deepEqual(top.paths, [{ key: '/search', count: 3 }]);
  // Another 10-minute bucket: the tops add up across buckets.
  now += 600_000;
  history.add({ requests: 1, blocked: 1, banned: 0, rejected: 0, upstream: 0 }, { rule: [['1001', 1]], client: [['192.0.2.66', 2]], path: [] });
  assert.deepEqual((await history.top('hour', 1)).clients, [{ key: '192.0.2.66', count: 5 }]);
});

test('recent events: newest first, blocked only unless all, bounded', () => {
  const events = new RecentEvents(3);
  const e = (id: string, blocked: boolean, time: number) => ({ id, blocked, time }) as never;
  events.add([e('a', true, 1), e('b', false, 2), e('d', true, 4)]);
  // Another worker's report, with an event older than the last one listed.
  events.add([e('c', true, 3)]);
  assert.deepEqual(events.list(10).map((x) => x.id), ['d', 'c']);
  assert.deepEqual(events.list(10, true).map((x) => x.id), ['d', 'c', 'b']);
  assert.equal(events.total, 4);
});

test('a kept transaction is explained: the variable, its raw and transformed value, the operator', async () => {
  const recorder = new WorkerRecorder(1);
  const sample = await run('/search?q=1%20UNION%20SELECT%20password');
  recorder.exchangeDone(sample);
  const id = sample.tx.id;
  const x = await recorder.recent.explain(id, null);
  assert.ok(x !== null);
  assert.equal(x.rules, 'same');
  assert.deepEqual(x.recorded.verdict, { action: 'deny', status: 403, ruleId: 1001, phase: 2, url: null, message: x.recorded.verdict.action === 'pass' ? '' : x.recorded.verdict.message });
  const rule = x.explanation.rules.find((r) => r.id === 1001);
  assert.ok(rule !== undefined && rule.decisive);
  assert.equal(rule.msg, 'SQL words');
  assert.deepEqual(rule.tags, ['attack-sqli']);
  const target = rule.targets[0];
  assert.equal(target?.variable, 'ARGS:q');
  assert.equal(target?.rawValue, '1 UNION SELECT password');
  assert.equal(target?.value, '1 union select password');
  assert.deepEqual(target?.transforms, ['lowercase', 'urlDecodeUni']);
  assert.match(target?.operator ?? '', /@contains union select/);
  assert.equal(await recorder.recent.explain('NOT-KEPT', null), null);
});

test('recent transactions are bounded by count and bytes, oldest out; a long body is cut and said so', async () => {
  const recent = new RecentTransactions(2, 1024 * 1024);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await run(`/search?q=${i}%20union%20select`);
    recent.keep(s.tx, 403);
    ids.push(s.tx.id);
  }
  assert.deepEqual(ids.map((id) => recent.has(id)), [false, true, true]);
  const tx = waf.newTransaction();
  tx.processConnection('203.0.113.9', 1, '127.0.0.1', 80);
  tx.processRequestLine('POST', '/upload', 'HTTP/1.1');
  tx.addRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
  await tx.processRequestHeaders();
  tx.appendRequestBody(`a=${'x'.repeat(100 * 1024)}`);
  await tx.processRequestBody();
  recent.keep(tx, 200);
  const x = await recent.explain(tx.id, null);
  assert.equal(x?.bodyTruncated, true);
  assert.equal(x?.bodyLength, 100 * 1024 + 2);
});

test('explainRequest writes no persistent collection back', async () => {
  const store = createMemoryStore();
  const counting = Waf.fromText(`SecRuleEngine On
SecAction "id:1,phase:1,nolog,pass,initcol:ip=%{REMOTE_ADDR},setvar:ip.hits=+1"`, { store });
  await explainRequest(counting, { method: 'GET', target: '/', protocol: 'HTTP/1.1', headers: [['Host', 'x']], body: '', remoteAddr: '203.0.113.9' });
  assert.equal(store.loadCollection('ip', '203.0.113.9'), null);
  // The same request run for real does write it.
  const tx = counting.newTransaction();
  tx.processConnection('203.0.113.9', 1, '127.0.0.1', 80);
  tx.processRequestLine('GET', '/', 'HTTP/1.1');
  await tx.processRequestHeaders();
  await tx.processRequestBody();
  await tx.processLogging();
  assert.equal((await store.loadCollection('ip', '203.0.113.9'))?.get('hits')?.value, '1');
});

function fakeRequest(remote: string, headers: Record<string, string>): IncomingMessage {
  return { socket: { remoteAddress: remote }, headers } as unknown as IncomingMessage;
}

test('auth: token as Bearer or Basic password, basic user and password, 401 otherwise', () => {
  const token = adminAuth({ host: '0.0.0.0', token: 'a-long-token-of-24-chars', basicAuth: null });
  assert.equal(token.mode, 'token');
  assert.deepEqual(token.check(fakeRequest('10.0.0.5', {})), { ok: false, status: 401, reason: 'credentials required' });
  assert.deepEqual(token.check(fakeRequest('10.0.0.5', { authorization: 'Bearer a-long-token-of-24-chars' })), { ok: true });
  assert.equal(token.check(fakeRequest('10.0.0.5', { authorization: 'Bearer a-long-token-of-24-charX' })).ok, false);
  assert.equal(token.check(fakeRequest('10.0.0.5', { authorization: `Basic ${Buffer.from('anyone:a-long-token-of-24-chars').toString('base64')}` })).ok, true);
  const basic = adminAuth({ host: '0.0.0.0', token: null, basicAuth: { user: 'admin', password: 'secret pass' } });
  assert.equal(basic.mode, 'basic');
  assert.equal(basic.check(fakeRequest('10.0.0.5', { authorization: `Basic ${Buffer.from('admin:secret pass').toString('base64')}` })).ok, true);
  assert.equal(basic.check(fakeRequest('10.0.0.5', { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` })).ok, false);
  assert.equal(basic.check(fakeRequest('10.0.0.5', { authorization: `Basic ${Buffer.from('root:secret pass').toString('base64')}` })).ok, false);
  assert.equal(basic.check(fakeRequest('10.0.0.5', { authorization: 'Bearer secret pass' })).ok, false);
});

test('auth: without credentials only loopback peers, with a Host naming this machine', () => {
  const none = adminAuth({ host: '127.0.0.1', token: null, basicAuth: null });
  assert.equal(none.mode, 'none');
  assert.deepEqual(none.check(fakeRequest('127.0.0.1', { host: '127.0.0.1:9180' })), { ok: true });
  assert.equal(none.check(fakeRequest('::ffff:127.0.0.1', { host: 'localhost:9180' })).ok, true);
  assert.equal(none.check(fakeRequest('::1', { host: '[::1]:9180' })).ok, true);
  const remote = none.check(fakeRequest('192.0.2.10', { host: '127.0.0.1:9180' }));
  assert.equal(remote.ok ? 0 : remote.status, 403);
  const rebound = none.check(fakeRequest('127.0.0.1', { host: 'evil.example:9180' }));
  assert.equal(rebound.ok ? 0 : rebound.status, 403, 'a rebound DNS name is refused');
  assert.equal(isLoopbackAddress('127.8.9.10'), true);
  assert.equal(isLoopbackAddress('::2'), false);
});
