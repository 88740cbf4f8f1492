/**
 * @module bench/ban-engine
 * The live tailer: how many log lines per second a jail of `warden start` reads from a file
 * that grows, alone and while the proxy is under load.
 *
 * `warden start` (compiled, bench/lib/build) runs with its default workers, CRS from
 * ../shared/crs in front of a trivial upstream, the admin listener on loopback, and one jail
 * following access.log with Warden's warden-wordpress filter (failed WordPress logins and
 * refused XML-RPC calls). The benchmark appends a combined-format access log (bench/lib/logs,
 * dated now, so that the jail counts its failures) to that file as fast as it can, 10,000
 * lines at a time, and reads warden_jail_lines_read_total from /metrics every 250 ms until
 * the jail has read every line: lines/s from the first write to the last line read. Then the
 * same again while wrk (Debian's package; 2 threads, 32 connections) sends a benign GET to
 * the proxy, whose requests/s are printed too.
 *
 * `node --import tsx bench/ban-engine.ts [--smoke] [--lines N] [--markdown FILE]`; `--smoke`:
 * 20,000 lines, wrk for as long as the reading takes. No number is asserted anywhere.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get as httpGet, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBuiltWarden, buildWarden, projectRoot } from './lib/build.js';
import { accessLines } from './lib/logs.js';

const CRS = join(projectRoot, '..', 'shared', 'crs');
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** warden_jail_lines_read_total{jail="wp"} from /metrics. */
async function linesRead(adminPort: number): Promise<number> {
  // A new connection each time (fetch's pooled one may meet a server that just closed it).
  const text = await new Promise<string>((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port: adminPort, path: '/metrics', agent: false, headers: { host: `localhost:${adminPort}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${res.statusCode}: ${body.slice(0, 200)}`))));
    });
    req.on('error', reject);
  });
  const m = /^warden_jail_lines_read_total\{[^}]*jail="wp"[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/mu.exec(text);
  return m === null ? 0 : Number(m[1]);
}

interface Reading {
  readonly lines: number;
  readonly seconds: number;
  readonly proxyRps: number | null;
}

async function appendAndWait(log: string, lines: number, adminPort: number, seed: number): Promise<Reading['seconds']> {
  const before = await linesRead(adminPort);
  const t0 = performance.now();
  let chunk: string[] = [];
  for (const l of accessLines(lines, { seed, start: Date.now(), step: 1 })) {
    chunk.push(l);
    if (chunk.length === 10_000) {
      appendFileSync(log, `${chunk.join('\n')}\n`);
      chunk = [];
    }
  }
  if (chunk.length > 0) appendFileSync(log, `${chunk.join('\n')}\n`);
  const deadline = Date.now() + 600_000;
  for (;;) {
    const read = (await linesRead(adminPort)) - before;
    if (read >= lines) return (performance.now() - t0) / 1000;
    if (Date.now() > deadline) throw new Error(`the jail read ${read} of ${lines} lines in 600 s`);
    await wait(250);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, lines: { type: 'string' }, markdown: { type: 'string' } } });
  const smoke = values.smoke === true;
  const lines = Number(values.lines ?? (smoke ? 20_000 : 1_000_000));
  if (!Number.isInteger(lines) || lines < 1) {
    console.error('bench/ban-engine: --lines takes a positive whole number');
    return 2;
  }
  if (!existsSync(join(CRS, 'rules'))) {
    console.error(`bench/ban-engine: CRS is not at ${CRS}`);
    return 2;
  }
  const wrk = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).stdout.trim() || null;
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-ban-engine-'));
  const children: ChildProcess[] = [];
  const upstream: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok\n'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const build = await buildWarden();
  try {
    const port = await freePort();
    const adminPort = await freePort();
    const log = join(dir, 'access.log');
    writeFileSync(log, '');
    const config = join(dir, 'warden.yaml');
    writeFileSync(
      config,
      `listeners: [{ host: 127.0.0.1, port: ${port} }]
upstreams: [{ url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }]
rules:
  crs: ${JSON.stringify(CRS)}
  mode: on
logs: { error: null }
dataDir: ${JSON.stringify(join(dir, 'data'))}
admin: { host: 127.0.0.1, port: ${adminPort} }
jails:
  wp:
    source: file
    files: [${JSON.stringify(log)}]
    filter: warden-wordpress
    maxRetry: 5
    findTime: 10m
    banTime: 10m
`,
    );
    const proc = await startBuiltWarden(build, config, join(dir, 'warden.out'));
    children.push(proc);
    for (let i = 0; ; i++) {
      try {
        await linesRead(adminPort);
        break;
      } catch (err) {
        if (i > 100) throw err;
        await wait(100);
      }
    }
    const readings: Array<[string, Reading]> = [];
    const alone = await appendAndWait(log, lines, adminPort, 1);
    readings.push(['alone', { lines, seconds: alone, proxyRps: null }]);
    if (wrk === null) console.error('bench/ban-engine: wrk is not installed; no run under load');
    else {
      const load = spawn(wrk, ['-t2', '-c32', '-d600s', '--latency', '-H', 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', `http://127.0.0.1:${port}/2025/05/hello-world/?replytocom=12`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(load);
      let wrkOut = '';
      load.stdout.setEncoding('utf8').on('data', (d: string) => (wrkOut += d));
      await wait(1000);
      const t0 = performance.now();
      const loaded = await appendAndWait(log, lines, adminPort, 2);
      const elapsed = (performance.now() - t0) / 1000;
      const ended = new Promise((r) => load.once('exit', r));
      load.kill('SIGINT');
      await ended;
      const total = /(\d+) requests in ([\d.]+)s/u.exec(wrkOut);
      const rps = total === null ? null : Number(total[1]) / Number(total[2]);
      readings.push([`proxy under wrk load (2 threads, 32 connections; ${elapsed.toFixed(0)} s)`, { lines, seconds: loaded, proxyRps: rps }]);
    }
    const text = [
      `Live tailer, ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}; warden start, default workers, CRS PL1; jail wp (warden-wordpress) following a file.`,
      '',
      '| while | lines appended | seconds until all read | lines/s | proxy requests/s |',
      '|---|---:|---:|---:|---:|',
      ...readings.map(([name, r]) => `| ${name} | ${r.lines.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${Math.round(r.lines / r.seconds).toLocaleString('en-US')} | ${r.proxyRps === null ? '—' : Math.round(r.proxyRps).toLocaleString('en-US')} |`),
      '',
      'Seconds from the first append to warden_jail_lines_read_total counting the last line (polled every 250 ms). The lines are written as fast as the benchmark can: the reading, not the writing, is measured.',
    ].join('\n');
    console.log(text);
    if (values.markdown !== undefined) writeFileSync(values.markdown, `${text}\n`);
    return 0;
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    await new Promise<void>((r) => upstream.close(() => r()));
    build.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
