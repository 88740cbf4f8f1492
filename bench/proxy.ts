/**
 * Proxy benchmark: requests per second through `warden start` (one worker) with the WAF on
 * (baseline + OWASP CRS v4, paranoia level 1, blocking) and off (`--mode off`: the same
 * proxy, no rules evaluated), in one run, against the same upstream; the upstream alone
 * is measured too, for scale. The load comes from this process (undici, 32 connections,
 * keep-alive); the upstream is a separate Node process answering a small page.
 *
 *   node --import tsx bench/proxy.ts [--seconds N] [--connections N]
 *
 * For each scenario: requests/s, mean latency, and the worker's CPU time per request
 * (from /proc, so the load generator's own cost is not counted). No assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { sharedSuite } from '../test/support/shared.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '32' } } });
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const entry = fileURLToPath(new URL('../src/cli/entry.ts', import.meta.url));
const crs = sharedSuite('crs');

interface Scenario {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

const browser: Record<string, string> = {
  host: 'blog.example.com',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
  'accept-language': 'en-US,en;q=0.9,de;q=0.8',
  'accept-encoding': 'gzip, deflate, br, zstd',
  referer: 'https://blog.example.com/2024/05/hello-world/',
  cookie: 'wordpress_test_cookie=WP%20Cookie%20check; wp-settings-time-1=1716900000; _ga=GA1.2.123456789.1716900000',
};
const form = Array.from({ length: 20 }, (_, i) => `field${i}=${'value-'.repeat(7)}${i}`).join('&');

const scenarios: Scenario[] = [
  { name: 'benign GET, browser headers', method: 'GET', path: '/2024/05/hello-world/?replytocom=12&utm_source=feed', headers: browser },
  { name: '1 KB urlencoded POST', method: 'POST', path: '/wp-comments-post.php', headers: { ...browser, 'content-type': 'application/x-www-form-urlencoded' }, body: form },
  { name: 'SQLi GET (blocked: 403)', method: 'GET', path: "/?id=1'%20UNION%20SELECT%20user,password%20FROM%20wp_users--", headers: browser },
];

const UPSTREAM = `
const http = require('node:http');
const page = '<!doctype html><html><head><title>Hello world</title></head><body>' + 'x'.repeat(500) + '</body></html>';
const s = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'text/html', 'content-length': page.length }); res.end(page); });
});
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;

function waitForLine(proc: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      const m = pattern.exec(text);
      if (m !== null) resolve(m);
    });
    proc.once('exit', (code) => reject(new Error(`exited ${code} before printing ${pattern}: ${text}`)));
  });
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
}

async function load(origin: string, s: Scenario, seconds: number): Promise<{ count: number; statuses: Map<number, number>; meanMs: number }> {
  const pool = new Pool(origin, { connections: CONNECTIONS, pipelining: 1 });
  const statuses = new Map<number, number>();
  let count = 0;
  let latency = 0;
  const end = performance.now() + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      const r = await pool.request({ method: s.method, path: s.path, headers: s.body === undefined ? s.headers : { ...s.headers, 'content-length': String(s.body.length) }, body: s.body });
      await r.body.dump();
      latency += performance.now() - t;
      count++;
      statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
  await pool.close();
  return { count, statuses, meanMs: latency / count };
}

interface Target {
  readonly name: string;
  start(upstream: string): Promise<{ origin: string; worker: number | null; stop(): Promise<void> }>;
}

async function startWarden(upstream: string, extra: string[]): Promise<{ origin: string; worker: number | null; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  const proc = spawn(process.execPath, ['--import', 'tsx', entry, 'start', '--listen', '127.0.0.1:0', '--upstream', upstream, '--workers', '1', '--data-dir', dataDir, '--error-log', 'off', ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [, port] = await waitForLine(proc, /listening on http:\/\/127\.0\.0\.1:(\d+)[\s\S]*; pid \d+/);
  const pid = proc.pid as number;
  const worker = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  return {
    origin: `http://127.0.0.1:${port}`,
    worker,
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const targets: Target[] = [
  { name: 'upstream alone', start: async (upstream) => ({ origin: upstream, worker: null, stop: async () => {} }) },
  { name: 'Warden, WAF off', start: (upstream) => startWarden(upstream, ['--mode', 'off', ...(crs !== null ? ['--crs', crs] : [])]) },
  { name: crs !== null ? 'Warden, WAF on (CRS v4 PL1)' : 'Warden, WAF on (baseline only: ../shared/crs missing)', start: (upstream) => startWarden(upstream, crs !== null ? ['--crs', crs] : []) },
];

const upstreamProc = spawn(process.execPath, ['-e', UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] });
const [, upstreamPort] = await waitForLine(upstreamProc, /^(\d+)$/m);
const upstream = `http://127.0.0.1:${upstreamPort}`;
console.log(`proxy benchmark: ${SECONDS} s per cell, ${CONNECTIONS} connections, keep-alive; one Warden worker; Node ${process.version}`);
const rows: string[][] = [['scenario', 'target', 'requests/s', 'mean latency', 'worker CPU/request', 'statuses']];
try {
  for (const target of targets) {
    const t = await target.start(upstream);
    try {
      // Warm-up (JIT, connections) on every scenario before any is measured.
      for (const s of scenarios) await load(t.origin, s, 1.5);
      for (const s of scenarios) {
        const before = t.worker !== null && existsSync(`/proc/${t.worker}/stat`) ? cpuTicks(t.worker) : 0;
        const r = await load(t.origin, s, SECONDS);
        const cpu = t.worker !== null ? ((cpuTicks(t.worker) - before) * 10_000) / r.count : NaN;
        rows.push([
          s.name,
          target.name,
          (r.count / SECONDS).toFixed(0),
          `${r.meanMs.toFixed(2)} ms`,
          Number.isNaN(cpu) ? '—' : `${cpu.toFixed(0)} µs`,
          [...r.statuses].map(([k, v]) => `${k}×${v}`).join(' '),
        ]);
      }
    } finally {
      await t.stop();
    }
  }
} finally {
  upstreamProc.kill();
}
rows.sort((a, b) => (a[0] === 'scenario' ? -1 : b[0] === 'scenario' ? 1 : scenarios.findIndex((s) => s.name === a[0]) - scenarios.findIndex((s) => s.name === b[0])));
const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i] as number)).join('  '));
