/**
 * The dashboard in a real browser: Debian's chromium, driven headless by playwright-core,
 * opens the admin listener of a real `warden start` (two workers) that has served benign
 * requests, attacks and a banned client. The graph must be drawn from non-zero series
 * (uPlot's own data, and coloured pixels on its canvas), the live list and top lists must
 * show the attack, a row must open its explanation, and a click on Unban must take the
 * address off the list and let the client through the proxy again. A screenshot is saved
 * under test-results/ as an artifact.
 *
 * Chromium missing: a failure in CI (.ci/run installs it), a visible skip elsewhere.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { send, startUpstream } from '../proxy/support.js';
import { call, eventually, freePort, startWarden } from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (Debian package chromium)`;
if (missing !== null && process.env.CI === 'true') throw new Error(`the dashboard's browser test cannot run in CI: ${missing} — .ci/run installs it`);

const root = mkdtempSync(join(tmpdir(), 'warden-dashboard-'));
after(() => rmSync(root, { recursive: true, force: true }));

const TOKEN = 'browser-token-0123456789abcdef';

const RULES = `SecRuleEngine On
SecRequestBodyAccess On
SecRule ARGS "@contains union select" "id:1001,phase:2,deny,status:403,log,msg:'SQL words',tag:'attack-sqli',t:urlDecodeUni,t:lowercase"
SecRule REQUEST_FILENAME "@endsWith /wp-login.php" "id:1002,phase:1,deny,status:403,log,msg:'login probe',tag:'scanner'"
`;

test('the dashboard draws the traffic, explains a block and unbans with a click', { skip: missing ?? false, timeout: 180_000 }, async () => {
  const upstream = await startUpstream((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const adminPort = await freePort();
  const dir = join(root, 'w');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rules.conf'), RULES);
  const config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ name: blog, url: "${upstream.url}" }]
proxy: { trustedProxies: [127.0.0.1] }
rules: { baseline: false, files: [rules.conf] }
dataDir: data
workers: 2
logs: { error: null }
admin: { host: 127.0.0.1, port: ${adminPort}, token: "${TOKEN}" }
jails:
  waf: { when: { blocked: true }, maxRetry: 3, findTime: 10m, banTime: 1h }
`,
  );
  const w = await startWarden(config);
  let browser: Browser | null = null;
  try {
    const proxy = `http://127.0.0.1:${w.port}`;
    const from = (client: string) => ({ 'x-forwarded-for': client, 'user-agent': 'browser-test' });
    const attacker = '203.0.113.77';
    // Benign readers, a scanner that is not banned (two probes), and an attacker who is.
    for (let i = 0; i < 40; i++) assert.equal((await send(`${proxy}/post/${i % 7}`, { headers: from(`198.51.100.${i % 9}`) })).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await send(`${proxy}/wp-login.php`, { headers: from('192.0.2.44') })).status, 403);
    for (let i = 0; i < 3; i++) assert.equal((await send(`${proxy}/search?q=1%20UNION%20SELECT%20${i}`, { headers: from(attacker) })).status, 403);
    const auth = { authorization: `Bearer ${TOKEN}` };
    await eventually(async () => ((await call(`${w.admin}api/bans`, { headers: auth })).json<Array<{ address: string }>>().some((b) => b.address === attacker) ? true : undefined), 10_000, 'the ban');
    // Until the ban reaches the worker a request of the attacker's may still pass: count them.
    let passed = 0;
    let refused = 0;
    await eventually(async () => {
      const status = (await send(`${proxy}/post/1`, { headers: from(attacker) })).status;
      if (status === 200) passed++;
      else refused++;
      return status === 403 ? true : undefined;
    }, 5000, 'the ban in the workers');
    for (let i = 0; i < 4; i++) assert.equal((await send(`${proxy}/post/1`, { headers: from(attacker) })).status, 403);
    refused += 4;
    const requests = 40 + 2 + 3 + passed + refused;
    // Everything reported by the workers (once a second) before the page loads.
    await eventually(async () => {
      const s = (await call(`${w.admin}api/status`, { headers: auth })).json<{ totals: { requests: number } }>();
      return s.totals.requests >= requests ? true : undefined;
    }, 10_000, 'the workers to report');

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: TOKEN }, viewport: { width: 1280, height: 1400 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    const answer = await page.goto(w.admin);
    assert.equal(answer?.status(), 200);

    // The graph: uPlot's data holds the series the page drew (x first, then the SERIES order).
    // Page code as strings: tsx's transform would add helper calls the page does not have.
    // Polled with page.evaluate (the DevTools protocol, outside the page's CSP): waitForFunction
    // polls inside the page with eval, which the dashboard's script-src 'self' refuses whenever
    // the first check comes too early.
    await eventually(async () => ((await page.evaluate<boolean>('window.wardenDashboard?.graph != null')) ? true : undefined), 15_000, 'the graph');
    const drawn = await page.evaluate<{ points: number; sums: Record<string, number>; width: number; height: number }>(`(() => {
      const g = window.wardenDashboard.graph;
      const sums = Object.fromEntries(g.series.slice(1).map((s, i) => [s.label, g.data[i + 1].reduce((a, b) => a + (b ?? 0), 0)]));
      return { points: g.data[0].length, sums, width: g.width, height: g.height };
    })()`);
    assert.equal(drawn.points, 360, 'an hour of 10-second buckets');
    assert.ok(drawn.width > 300 && drawn.height === 300, `the graph has a size (${drawn.width}×${drawn.height})`);
    // Values are per minute: a 10-second bucket's count × 6.
    assert.equal(drawn.sums.Requests, 6 * requests, JSON.stringify(drawn.sums));
    assert.equal(drawn.sums['Sent upstream'], 6 * (40 + passed));
    assert.equal(drawn.sums['Blocked by the WAF'], 6 * 5);
    assert.equal(drawn.sums['Refused: banned'], 6 * refused);
    // And the canvas really has the lines: each series alone on the graph leaves pixels of its
    // colour above the zero line (a flat line at zero would not).
    const lifted = await page.evaluate<Record<string, number>>(`(async () => {
      const u = window.wardenDashboard.graph;
      const canvas = u.ctx.canvas;
      const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));
      const zero = u.valToPos(0, 'y', true);
      const found = {};
      for (let i = 1; i < u.series.length; i++) {
        for (let j = 1; j < u.series.length; j++) u.setSeries(j, { show: j === i });
        await frame();
        const c = u.series[i].stroke();
        const [r, g, b] = [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16));
        const data = u.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let y = 0; y < Math.floor(zero) - 3; y++) {
          for (let x = 0; x < canvas.width; x++) {
            const k = (y * canvas.width + x) * 4;
            if (Math.abs(data[k] - r) < 16 && Math.abs(data[k + 1] - g) < 16 && Math.abs(data[k + 2] - b) < 16 && data[k + 3] > 128) n++;
          }
        }
        found[u.series[i].label] = n;
      }
      for (let j = 1; j < u.series.length; j++) u.setSeries(j, { show: true });
      await frame();
      return found;
    })()`);
    for (const series of ['Requests', 'Sent upstream', 'Blocked by the WAF', 'Refused: banned']) assert.ok((lifted[series] ?? 0) > 5, `the ${series} line rises above zero on the canvas: ${JSON.stringify(lifted)}`);
    assert.equal(lifted['Refused: malformed'], 0, `nothing was refused for its framing, its line stays at zero: ${JSON.stringify(lifted)}`);
    const totals = await page.locator('#totals .total').allTextContents();
    assert.deepEqual(totals.slice(0, 4), [`${requests}Requests`, `${40 + passed}Sent upstream`, '5Blocked by the WAF', `${refused}Refused: banned`]);

    // Top lists and the live list.
    await page.locator('#top-rules tbody tr').first().waitFor();
    assert.deepEqual(await page.locator('#top-rules tbody tr td.mono').allTextContents(), ['1001', '1002']);
    assert.equal(await page.locator('#top-clients tbody tr td.mono').first().textContent(), attacker);
    assert.equal(await page.locator('#top-paths tbody tr td.mono').first().textContent(), '/search');
    const rows = page.locator('#events tbody tr[data-id]');
    await eventually(async () => ((await rows.count()) === 5 ? true : undefined), 10_000, 'the live list');
    assert.match((await rows.first().textContent()) ?? '', new RegExp(`${attacker.replace(/\./g, '\\.')}GET /search\\?q=1%20UNION%20SELECT%202deny 4031001`));

    // A row opens the explanation: the decisive rule, the variable and its transformed value.
    await rows.first().click();
    const drawer = page.locator('#explain');
    await drawer.locator('.rule.decisive').waitFor({ timeout: 15_000 });
    assert.match((await drawer.locator('.verdict').textContent()) ?? '', /deny with status 403 by rule 1001 in phase 2/);
    assert.match((await drawer.locator('.rule.decisive').textContent()) ?? '', /rule 1001.*SQL words.*ARGS:q = "1 union select 2" after t:urlDecodeUni,t:lowercase/s);
    await page.locator('#explain-close').click();

    // Active bans and jails; unban with a click.
    const banRow = page.locator(`#bans tr[data-address="${attacker}"]`);
    await banRow.waitFor();
    assert.match((await banRow.textContent()) ?? '', /203\.0\.113\.77waf/);
    const wafJail = page.locator('#jails tbody tr').filter({ has: page.locator('td:first-child', { hasText: /^waf$/ }) });
    const cells = await wafJail.locator('td').allTextContents();
    assert.deepEqual(cells.slice(0, 2), ['waf', 'waf']);
    assert.equal(cells[3], '1', `one address banned in waf: ${cells.join(' | ')}`);
    assert.match(cells[4] ?? '', /^5 \/ 5$/, 'the WAF events the jail counted: matched / read');
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000, 'the screenshot was written');

    await banRow.locator('button.unban').click();
    await banRow.waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await page.locator('#bans tbody tr.empty').textContent(), 'no active ban');
    assert.deepEqual((await call(`${w.admin}api/bans`, { headers: auth })).json(), []);
    await eventually(async () => ((await send(`${proxy}/post/after-unban`, { headers: from(attacker) })).status === 200 ? true : undefined), 5000, 'the proxy to let the client through');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-after-unban.png'), fullPage: true });

    assert.deepEqual(problems, [], 'no script errors, console errors or failed requests in the page');
  } finally {
    await browser?.close();
    await w.stop();
    await upstream.close();
  }
});
