/**
 * Debian's OWASP CRS 3.3.4 (the modsecurity-crs package: rules in /usr/share/modsecurity-crs,
 * setup in /etc/modsecurity/crs) served by `warden start` as a Debian user would configure
 * it — `rules.crs` and `rules.crsSetup` pointing at the package, the package's exclusion
 * files before and after CRS, blocking on — in front of a real backend. A benign request
 * passes; a handful of classic attacks, one per attack family, are refused with 403 and
 * logged by the rules that are meant to catch them; a SQL error leaking from the backend
 * is stopped by the response rules. (check-rules loading it with zero errors is the
 * crs-load stage.)
 *
 * Absent outside CI when the package is not installed (skipped, saying so); .ci/run
 * installs it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWarden, type RunningWarden } from './crs-http.js';
import { startAlbedo, type AlbedoServer } from './ftw/albedo-server.js';
import { triggeredRules } from './ftw/check.js';
import { sendRaw, type ClientResponse } from './ftw/client.js';
import { WafLogTail } from './ftw/waf-log.js';

const CRS = '/usr/share/modsecurity-crs';
const ETC = '/etc/modsecurity/crs';
const installed = existsSync(join(CRS, 'rules/REQUEST-901-INITIALIZATION.conf')) && existsSync(join(ETC, 'crs-setup.conf'));
if (!installed && process.env.CI === 'true') throw new Error(`Debian's modsecurity-crs is missing in CI: ${CRS}`);
const skip = installed ? false : `Debian's modsecurity-crs is not installed (${CRS})`;

let dir = '';
let albedo: AlbedoServer | null = null;
let warden: RunningWarden | null = null;
let log: WafLogTail | null = null;
/** The benign request's client port, to look for its lines at the end. */
let benignPort = 0;

before(async () => {
  if (!installed) return;
  dir = mkdtempSync(join(tmpdir(), 'warden-crs334-'));
  albedo = await startAlbedo();
  const errorLog = join(dir, 'error.log');
  writeFileSync(errorLog, '');
  // What Debian's modsecurity.conf-recommended adds to Warden's baseline for the response rules.
  const local = join(dir, 'local.conf');
  writeFileSync(local, 'SecResponseBodyAccess On\n');
  mkdirSync(join(dir, 'data'));
  const config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    [
      'listeners:',
      '  - { name: web, host: 127.0.0.1, port: 0, routes: [{ upstream: app }] }',
      'upstreams:',
      `  - { name: app, url: ${JSON.stringify(albedo.url)} }`,
      'rules:',
      `  crs: ${JSON.stringify(CRS)}`,
      `  crsSetup: ${JSON.stringify(join(ETC, 'crs-setup.conf'))}`,
      `  before: [${JSON.stringify(join(ETC, 'REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf'))}]`,
      `  files: [${JSON.stringify(local)}, ${JSON.stringify(join(ETC, 'RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf'))}]`,
      '  mode: on',
      'logs:',
      `  error: ${JSON.stringify(errorLog)}`,
      `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
      'workers: 1',
      '# Every attack comes from one address; no jail may ban it between cases.',
      'jails: {}',
      '',
    ].join('\n'),
  );
  warden = await startWarden(config);
  log = new WafLogTail(errorLog);
});

after(async () => {
  log?.close();
  await warden?.stop();
  await albedo?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/**
 * Sends a request; resolves with the response and the ids its error-log lines name, once
 * every id of `waitFor` is among them (the lines are written as the transaction ends, just
 * after the response) or 10 s have passed.
 */
async function exchange(bytes: string, waitFor: readonly number[]): Promise<{ response: ClientResponse; ids: number[] }> {
  const w = warden as RunningWarden;
  const tail = log as WafLogTail;
  const response = await sendRaw('127.0.0.1', w.port, bytes);
  const deadline = Date.now() + 10_000;
  for (;;) {
    tail.poll();
    const ids = triggeredRules(tail.linesBetween(-1, tail.length, response.localPort));
    if (waitFor.every((id) => ids.includes(id)) || Date.now() > deadline) return { response, ids };
    await new Promise((r) => setTimeout(r, 20));
  }
}

const get = (target: string, headers = ''): string => `GET ${target} HTTP/1.1\r\nHost: blog.example\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html\r\n${headers}Connection: close\r\n\r\n`;

interface Attack {
  readonly name: string;
  readonly bytes: string;
  /** Rules that must have logged it (949110: the inbound anomaly score reached the threshold). */
  readonly ids: readonly number[];
}

const attacks: Attack[] = [
  { name: 'SQL injection (libinjection)', bytes: get("/?id=1'%20or%201=1--"), ids: [942100, 949110] },
  { name: 'XSS script tag', bytes: get('/?q=%3Cscript%3Ealert(1)%3C/script%3E'), ids: [941100, 941110, 949110] },
  { name: 'path traversal to /etc/passwd', bytes: get('/?file=../../../../etc/passwd'), ids: [930100, 930120, 949110] },
  { name: 'Unix command injection', bytes: get('/?host=127.0.0.1;cat%20/etc/passwd'), ids: [932160, 949110] },
  { name: 'PHP code injection', bytes: get('/?x=%3C?php%20system($_GET[1]);%20?%3E'), ids: [933100, 949110] },
  { name: 'scanner user agent', bytes: get('/', 'X-Scanner: 1\r\n').replace('Mozilla/5.0 (X11; Linux x86_64)', 'sqlmap/1.7.2#stable (https://sqlmap.org)'), ids: [913100, 949110] },
  { name: 'Java process spawn', bytes: get('/?x=java.lang.Runtime.getRuntime().exec(%22id%22)'), ids: [944100, 944130, 949110] },
];

test('CRS 3.3.4 served: a benign request passes untouched', { skip }, async () => {
  const { response } = await exchange(get('/blog/2024/05/hello-world/?replytocom=12'), []);
  assert.equal(response.status, 200, response.raw.slice(0, 300));
  benignPort = response.localPort;
});

for (const a of attacks) {
  test(`CRS 3.3.4 served: ${a.name} is refused with 403 and logged by ${a.ids.join(', ')}`, { skip }, async () => {
    const { response, ids } = await exchange(a.bytes, a.ids);
    assert.equal(response.status, 403, response.raw.slice(0, 300));
    for (const id of a.ids) assert.ok(ids.includes(id), `rule ${id} did not log; logged [${ids.join(', ')}]`);
  });
}

test('CRS 3.3.4 served: a SQL error leaking from the backend is stopped by the response rules', { skip }, async () => {
  const spec = JSON.stringify({ status: 200, headers: { 'Content-Type': 'text/html' }, body: "Query failed: You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '1'' at line 1" });
  const bytes = `POST /reflect HTTP/1.1\r\nHost: blog.example\r\nUser-Agent: Mozilla/5.0\r\nAccept: text/html\r\nContent-Type: application/json\r\nContent-Length: ${spec.length}\r\nConnection: close\r\n\r\n${spec}`;
  const leak = [951230, 959100];
  const { response, ids } = await exchange(bytes, leak);
  assert.equal(response.status, 403, response.raw.slice(0, 300));
  assert.ok(!response.raw.includes('SQL syntax'), 'the leaked text reached the client');
  for (const id of leak) assert.ok(ids.includes(id), `rule ${id} did not log; logged [${ids.join(', ')}]`);
});

test('CRS 3.3.4 served: the benign request logged nothing', { skip }, () => {
  // Written before every later request's lines, which are all in by now (one worker, in order).
  const tail = log as WafLogTail;
  tail.poll();
  assert.ok(benignPort > 0);
  assert.deepEqual(tail.linesBetween(-1, tail.length, benignPort), []);
});
