/**
 * Side-by-side HTTP benchmark (issue 10, item 1): Warden next to nginx + ModSecurity, on
 * loopback, measured by wrk in one run.
 *
 *   node --import tsx bench/side-by-side.ts [--seconds N] [--rounds N] [--smoke] [--out FILE]
 *   npm run bench -- side-by-side
 *
 * It starts, each with its own temporary prefix and config:
 *   - a trivial upstream: nginx, one worker, `return 200` of a small HTML page;
 *   - nginx + ModSecurity (Debian's nginx, libnginx-mod-http-modsecurity, libmodsecurity3)
 *     with OWASP CRS v4 from ../shared/crs, paranoia level 1, anomaly-scoring blocking,
 *     request body access on, the engine settings of modsecurity.conf-recommended;
 *   - the same nginx with `modsecurity off`;
 *   - Warden (`warden start`, compiled from the working tree by bench/lib/build) with the same CRS, `mode: on`;
 *   - Warden with `mode: off`.
 * Both proxies run one worker per core (nginx `worker_processes auto`, Warden's default),
 * keep-alive connections to the upstream, no access log, no audit log, the error log to a
 * file, no response body inspection.
 *
 * wrk (-t2 -c32) visits every server for every scenario in each round, rounds interleaved;
 * per server × scenario it reports requests/s and p50/p99 latency (medians over rounds),
 * the server processes' CPU time per request (utime + stime of master/primary and workers
 * from /proc; the upstream's and wrk's are not counted) and their peak RSS (sum of VmRSS,
 * sampled). Every cell checks its statuses: a cell whose answers are not all the expected
 * status (200, or 403 for the attack on a WAF), or that had socket errors, is a failed
 * measurement and shown as such. Before measuring, each scenario's status is checked once on
 * every server, and the run stops if a WAF lets the attack through or refuses a benign one.
 *
 * Then the banned client: 127.0.0.1 is banned in the running Warden through its control
 * socket (what `warden jail ban` does) and the benign GET is sent again: requests/s of
 * refusals (403: `bans.answer: forbidden`) next to the inspected benign GET's.
 *
 * `--smoke`: one round of 1 s per cell, no warm-up, the table printed (not written to
 * bench/results unless --out is given): checks that everything starts and answers as
 * expected. Missing nginx, wrk or the ModSecurity module is a skip, or a failure in CI.
 * Benchmarks print numbers; none asserts a time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { availableParallelism, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { controlRequest, controlSocketPath } from '../src/jail/control.js';
import { projectRoot, sharedSuite } from '../test/support/shared.js';
import { buildWarden, type WardenBuild } from './lib/build.js';
import { freePort, listening, missingNginx, NGINX, NginxFarm, stopper, tail, wait } from './lib/nginx.js';
import { scenarios, varyText, words, wrkLua, type Scenario } from './lib/scenarios.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    threads: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
  },
});
const SMOKE = values.smoke === true;
const SECONDS = Math.max(1, Math.round(Number(values.seconds ?? (SMOKE ? 1 : 10))));
const ROUNDS = Math.max(1, Number(values.rounds ?? (SMOKE ? 1 : 3)));
const WARMUP = Math.max(0, Math.round(Number(values.warmup ?? (SMOKE ? 0 : 2))));
const THREADS = Number(values.threads);
const CONNECTIONS = Number(values.connections);
const OUT = values.out ?? (SMOKE ? null : join(projectRoot, 'bench/results/side-by-side.md'));

/** Warden compiled from the working tree (bench/lib/build), as `warden start` runs it: made once the run starts, removed at its end. */
let build: WardenBuild | null = null;

// ---------------------------------------------------------------------------------------
// What is needed, and a skip (or, in CI, a failure) without it.

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const missing = missingNginx();
const WRK = which('wrk');
if (WRK === null) missing.push('wrk');
const crs = sharedSuite('crs'); // throws in CI when absent
if (crs === null) missing.push('../shared/crs');
if (missing.length > 0) {
  const text = `side-by-side: missing ${missing.join(', ')} (Debian: apt-get install nginx libnginx-mod-http-modsecurity wrk)`;
  if (process.env.CI === 'true') {
    console.error(`${text}; in CI this is a failure`);
    process.exit(1);
  }
  console.log(`${text}; skipped`);
  process.exit(0);
}
const CRS = crs as string;

// ---------------------------------------------------------------------------------------
// Processes.

const work = mkdtempSync(join(tmpdir(), 'warden-side-by-side-'));
// nginx's workers run as nobody when started by root: they must reach their temp folders.
chmodSync(work, 0o755);
const farm = new NginxFarm(work, CRS);
/** The Wardens started (nginx's processes are the farm's). */
const children: ChildProcess[] = [];

/** A process and all its descendants (nginx master and workers, Warden primary and workers). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i] as number;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c !== '') out.push(Number(c));
      } catch {
        // the task ended meanwhile
      }
    }
  }
  return out;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of one process, in seconds (0 when it is gone). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Resident memory of one process, in bytes (0 when it is gone). */
function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

interface Server {
  readonly key: string;
  readonly label: string;
  readonly waf: boolean;
  readonly port: number;
  readonly pid: number;
  readonly errorLog: string;
  /** Warden's data directory (its control socket), for the banned-client measurement. */
  readonly dataDir: string | null;
  stop(): Promise<void>;
}

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Hello world</title></head><body><main><h1>Hello world</h1><p>${words(480)}</p></main></body></html>`;

async function nginxServer(key: string, label: string, upstreamPort: number, waf: boolean): Promise<Server> {
  const p = await farm.proxy(key, label, upstreamPort, waf);
  return { key, label, waf, port: p.port, pid: p.pid, errorLog: p.errorLog, dataDir: null, stop: () => p.stop() };
}

async function startWarden(entry: string, key: string, label: string, upstreamPort: number, mode: 'on' | 'off'): Promise<Server> {
  const dir = join(work, key);
  mkdirSync(dir);
  const port = await freePort();
  const errorLog = join(dir, 'error.log');
  const dataDir = join(dir, 'data');
  const config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    `# Written by bench/side-by-side.ts. Workers: Warden's default, one per core.
listeners: [{ host: 127.0.0.1, port: ${port} }]
upstreams: [{ url: "http://127.0.0.1:${upstreamPort}" }]
rules:
  crs: ${JSON.stringify(CRS)}
  mode: ${mode}
logs:
  error: ${JSON.stringify(errorLog)}
dataDir: ${JSON.stringify(dataDir)}
bans:
  answer: forbidden
`,
  );
  const output = join(dir, 'warden.out');
  const fd = openSync(output, 'w');
  const proc = spawn(process.execPath, [entry, 'start', '--config', config], { stdio: ['ignore', fd, fd], cwd: projectRoot });
  closeSync(fd);
  children.push(proc);
  // Ready when the primary prints its summary line (after every worker has loaded the rules).
  const deadline = Date.now() + 180_000;
  while (!/ rules.*; pid \d+/.test(readFileSync(output, 'utf8'))) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${label} exited (${proc.exitCode ?? proc.signalCode}):\n${tail(output)}`);
    if (Date.now() > deadline) throw new Error(`${label} did not start within 180 s:\n${tail(output)}`);
    await wait(200);
  }
  await listening(proc, port, label, output);
  return { key, label, waf: mode === 'on', port, pid: proc.pid as number, errorLog, dataDir, stop: stopper(proc) };
}

// ---------------------------------------------------------------------------------------
// Requests and wrk.

/** One request with node:http (no keep-alive): its status. */
let probes = 0;

function probe(server: Server, s: Scenario): Promise<number> {
  const n = ++probes;
  const text = (t: string): string => (s.varied === true ? varyText(t, n) : t);
  const body = s.body === null ? null : text(s.body);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.headers)) headers[k] = text(v);
    if (body !== null) headers['Content-Length'] = String(Buffer.byteLength(body, 'latin1'));
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method: s.method, path: text(s.path), headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', reject);
    req.end(body ?? undefined, 'latin1');
  });
}

/** The wrk script of a scenario, written to the work folder. */
function wrkScript(s: Scenario): string {
  const file = join(work, `wrk-${s.key}.lua`);
  writeFileSync(file, wrkLua(s));
  return file;
}

interface WrkResult {
  readonly requests: number;
  readonly duration_us: number;
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  /** Answers that were not 2xx or 3xx. */
  readonly status: number;
  readonly timeout: number;
  readonly p50_us: number;
  readonly p99_us: number;
}

interface Cell {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly cpuSeconds: number;
  readonly peakRss: number;
  /** Why the cell is not a valid measurement, or null. */
  readonly failure: string | null;
}

async function runWrk(server: Server, s: Scenario, script: string, seconds: number, expected: number): Promise<Cell> {
  const before = new Map(processTree(server.pid).map((p) => [p, cpuSeconds(p)]));
  let peakRss = 0;
  const sample = (): void => {
    let sum = 0;
    for (const p of processTree(server.pid)) sum += rssBytes(p);
    peakRss = Math.max(peakRss, sum);
  };
  sample();
  const sampler = setInterval(sample, 250);
  const proc = spawn(WRK as string, [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '--timeout', '10s', '-s', script, `http://127.0.0.1:${server.port}${s.path}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  clearInterval(sampler);
  sample();
  const afterPids = processTree(server.pid);
  let cpu = 0;
  for (const p of afterPids) cpu += cpuSeconds(p) - (before.get(p) ?? 0);
  const gone = [...before.keys()].filter((p) => !afterPids.includes(p));
  const m = /WRK-RESULT (\{.*\})/.exec(out);
  if (code !== 0 || m === null) return { rps: 0, p50Ms: 0, p99Ms: 0, requests: 0, cpuSeconds: 0, peakRss, failure: `wrk exited ${code}: ${out.trim().split('\n').slice(-3).join(' / ')}` };
  const r = JSON.parse(m[1] as string) as WrkResult;
  const problems: string[] = [];
  const wrongStatus = expected < 300 ? r.status : r.requests - r.status;
  if (wrongStatus > 0) problems.push(`${wrongStatus} of ${r.requests} answers not ${expected < 300 ? '2xx' : expected}`);
  const socketErrors = r.connect + r.read + r.write + r.timeout;
  if (socketErrors > 0) problems.push(`socket errors: connect ${r.connect}, read ${r.read}, write ${r.write}, timeout ${r.timeout}`);
  if (gone.length > 0) problems.push(`server processes ended during the run: ${gone.join(', ')}`);
  if (r.requests === 0) problems.push('no requests completed');
  return {
    rps: r.requests / (r.duration_us / 1e6),
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
    requests: r.requests,
    cpuSeconds: cpu,
    peakRss,
    failure: problems.length > 0 ? problems.join('; ') : null,
  };
}

/** One request's status must be `expected`: checked before every cell, and after it. */
async function expectStatus(server: Server, s: Scenario, expected: number, when: string): Promise<void> {
  const status = await probe(server, s);
  if (status !== expected) {
    const verdict = expected === 403 ? 'lets the attack through' : status === 403 ? 'refuses a benign request' : 'answers wrongly';
    throw new Error(`${server.label} ${verdict} (${when}): "${s.name}" answered ${status}, expected ${expected}\n${tail(server.errorLog, 15)}`);
  }
}

function expectedStatus(server: Server, s: Scenario): number {
  return server.waf ? s.wafStatus : 200;
}

// ---------------------------------------------------------------------------------------
// Reporting.

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

interface Summary {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUs: number;
  readonly peakMiB: number;
  readonly valid: number;
  readonly failures: readonly string[];
}

function summarize(cells: readonly Cell[]): Summary {
  const good = cells.filter((c) => c.failure === null);
  const requests = good.reduce((a, c) => a + c.requests, 0);
  const cpu = good.reduce((a, c) => a + c.cpuSeconds, 0);
  return {
    rps: good.length > 0 ? median(good.map((c) => c.rps)) : NaN,
    p50Ms: good.length > 0 ? median(good.map((c) => c.p50Ms)) : NaN,
    p99Ms: good.length > 0 ? median(good.map((c) => c.p99Ms)) : NaN,
    cpuUs: requests > 0 ? (cpu / requests) * 1e6 : NaN,
    peakMiB: Math.max(0, ...cells.map((c) => c.peakRss)) / 2 ** 20,
    valid: good.length,
    failures: cells.filter((c) => c.failure !== null).map((c) => c.failure as string),
  };
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const ms = (n: number): string => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms` : '—');
const ratio = (n: number): string => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : n.toFixed(1)}×` : '—');

function command(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

function machine(): Record<string, string> {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const dpkg = (p: string): string => command('dpkg-query', ['-W', '-f', '${Version}', p]) || 'unknown';
  const head = command('git', ['-C', projectRoot, 'rev-parse', '--short', 'HEAD']);
  const dirty = command('git', ['-C', projectRoot, 'status', '--porcelain', '--', 'src', 'rules']) !== '';
  return {
    cpu: `${availableParallelism()} × ${cpu}`,
    kernel: `Linux ${release()}`,
    node: process.version,
    nginx: command(NGINX, ['-v']).replace(/^nginx version: /, ''),
    modsecurity: `libmodsecurity3 ${dpkg('libmodsecurity3')}, ModSecurity-nginx connector ${dpkg('libnginx-mod-http-modsecurity')}`,
    crs: readFileSync(join(CRS, 'VERSION'), 'utf8').split('\n')[0]?.trim() ?? 'unknown',
    wrk: command(WRK as string, ['-v']).split('\n')[0]?.replace(/\s*Copyright.*$/, '') ?? 'wrk',
    warden: `${head}${dirty ? ' (with uncommitted changes in src/ or rules/)' : ''}`,
  };
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

// ---------------------------------------------------------------------------------------
// The run.

const servers: Server[] = [];
let upstream: { port: number; stop(): Promise<void> } | null = null;
let stopping = false;
async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
  await upstream?.stop().catch(() => undefined);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  farm.killAll();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().then(() => {
      rmSync(work, { recursive: true, force: true });
      build?.remove();
      process.exit(130);
    });
  });
}

const started = performance.now();
const info = machine();
const loadBefore = loadAverage();
let exitCode = 0;
try {
  console.log(`side-by-side: ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} × ${SECONDS} s per cell, wrk -t${THREADS} -c${CONNECTIONS}; warm-up ${WARMUP} s per cell; temp ${work}`);
  upstream = await farm.upstream(PAGE);
  const up = upstream.port;
  // nginx first (they start in a moment), then both Wardens together (each loads CRS per worker).
  servers.push(await nginxServer('modsecurity', 'nginx + ModSecurity', up, true));
  servers.push(await nginxServer('nginx', 'nginx, no WAF', up, false));
  build = await buildWarden();
  const { entry } = build;
  servers.push(...(await Promise.all([startWarden(entry, 'warden', 'Warden', up, 'on'), startWarden(entry, 'warden-off', 'Warden, WAF off', up, 'off')])));
  const [modsec, , warden, wardenOff] = servers as [Server, Server, Server, Server];
  console.log(`started in ${((performance.now() - started) / 1000).toFixed(1)} s: upstream :${up}; ${servers.map((s) => `${s.label} :${s.port} (pid ${s.pid}, ${processTree(s.pid).length} processes)`).join('; ')}`);

  // Every scenario's status, once, on every server; and the rules really loaded.
  for (const server of servers) for (const s of scenarios) await expectStatus(server, s, expectedStatus(server, s), 'before measuring');
  await wait(300); // error logs are written asynchronously
  const loaded = /ModSecurity-nginx v[\d.]+ \(rules loaded inline\/local\/remote: (\d+)\/(\d+)\/(\d+)\)/.exec(readFileSync(modsec.errorLog, 'utf8'));
  if (loaded === null) throw new Error(`nginx + ModSecurity: no "rules loaded" line in its error log:\n${tail(modsec.errorLog)}`);
  // libmodsecurity logs only the disruptive rule to nginx's error log; Warden logs every match.
  for (const [server, ids] of [[modsec, [/\[id "949110"\]/]], [warden, [/\[id "942\d{3}"\]/, /\[id "949110"\]/]]] as const) {
    const log = readFileSync(server.errorLog, 'utf8');
    if (!ids.every((id) => id.test(log))) throw new Error(`${server.label}: the SQLi was refused but its error log does not show CRS's rule ids (${ids.join(', ')}):\n${tail(server.errorLog)}`);
  }
  const wardenRules = /(\d+) rules/.exec(readFileSync(join(work, 'warden', 'warden.out'), 'utf8'))?.[1] ?? '?';
  console.log(`checked: every scenario answers as expected; ModSecurity loaded ${loaded[2]} rules (its error log shows 949110 for the SQLi, Warden's 942xxx and 949110); Warden loaded ${wardenRules}`);

  const scripts = new Map(scenarios.map((s) => [s.key, wrkScript(s)]));
  if (WARMUP > 0) {
    for (const server of servers) for (const s of scenarios) await runWrk(server, s, scripts.get(s.key) as string, WARMUP, expectedStatus(server, s));
  }

  const cells = new Map<string, Cell[]>(); // `${server.key}/${scenario.key}` → one cell per round
  const banned: Cell[] = [];
  const benignGet = scenarios[0] as Scenario;
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of scenarios) {
      // Each round starts with another server, so no server always follows the same one.
      for (let i = 0; i < servers.length; i++) {
        const server = servers[(i + round) % servers.length] as Server;
        const expected = expectedStatus(server, s);
        await expectStatus(server, s, expected, `round ${round + 1}`);
        const cell = await runWrk(server, s, scripts.get(s.key) as string, SECONDS, expected);
        const list = cells.get(`${server.key}/${s.key}`) ?? [];
        list.push(cell);
        cells.set(`${server.key}/${s.key}`, list);
        console.log(
          `round ${round + 1}/${ROUNDS}  ${s.key.padEnd(8)} ${server.label.padEnd(20)} ${int(cell.rps).padStart(7)}/s  p50 ${ms(cell.p50Ms).padStart(9)}  p99 ${ms(cell.p99Ms).padStart(9)}  ${cell.requests > 0 ? `${int((cell.cpuSeconds / cell.requests) * 1e6)} µs CPU/req` : ''}${cell.failure !== null ? `  FAILED: ${cell.failure}` : ''}`,
        );
      }
    }
    // The banned client: 127.0.0.1 banned in Warden, the benign GET again.
    const socket = controlSocketPath(warden.dataDir as string);
    const ban = await controlRequest(socket, { cmd: 'ban', address: '127.0.0.1', seconds: 3600, reason: 'bench/side-by-side' });
    if (!ban.ok) throw new Error(`Warden did not ban 127.0.0.1: ${ban.error}`);
    for (let i = 0; (await probe(warden, benignGet)) !== 403; i++) {
      if (i > 100) throw new Error('Warden: the ban of 127.0.0.1 did not reach the workers within 5 s');
      await wait(50);
    }
    const cell = await runWrk(warden, benignGet, scripts.get(benignGet.key) as string, SECONDS, 403);
    banned.push(cell);
    console.log(`round ${round + 1}/${ROUNDS}  banned client, Warden: ${int(cell.rps)}/s  p50 ${ms(cell.p50Ms)}  p99 ${ms(cell.p99Ms)}${cell.failure !== null ? `  FAILED: ${cell.failure}` : ''}`);
    const unban = await controlRequest(socket, { cmd: 'unban', address: '127.0.0.1' });
    if (!unban.ok) throw new Error(`Warden did not unban 127.0.0.1: ${unban.error}`);
    for (let i = 0; (await probe(warden, benignGet)) !== 200; i++) {
      if (i > 100) throw new Error('Warden: the unban of 127.0.0.1 did not reach the workers within 5 s');
      await wait(50);
    }
  }
  const loadAfter = loadAverage();

  // The tables.
  const sum = (server: Server, s: Scenario): Summary => summarize(cells.get(`${server.key}/${s.key}`) ?? []);
  const cellText = (x: Summary, f: (x: Summary) => string): string => (x.valid === 0 ? 'FAILED' : f(x));
  const md: string[] = [];
  md.push('# Side-by-side HTTP benchmark', '');
  md.push(`Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`bench/side-by-side.ts\`${SMOKE ? ' (--smoke: not a measurement)' : ''}: ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} × ${SECONDS} s per cell, interleaved, after a ${WARMUP} s warm-up per cell; wrk -t${THREADS} -c${CONNECTIONS}, keep-alive, on loopback, sharing the cores with the servers.`, '');
  md.push(`- machine: ${info.cpu}, ${info.kernel}; load average ${loadBefore} before, ${loadAfter} after`);
  md.push(`- Warden ${info.warden} on Node ${info.node}, compiled from src/ (bench/lib/build: node dist/cli/entry.js start, what bin/warden.js runs), one worker per core`);
  md.push(`- nginx ${info.nginx}, \`worker_processes auto\`; ${info.modsecurity}`);
  md.push(`- OWASP CRS ${info.crs}; paranoia level 1, anomaly-scoring blocking; ModSecurity loaded ${loaded[2]} rules, Warden ${wardenRules} (with its baseline)`);
  md.push(`- ${info.wrk}; upstream: nginx, one worker, \`return 200\` of a ${PAGE.length}-byte page`);
  md.push('- both WAFs: request body access on (XML/JSON processors by Content-Type), response body access off, audit log off, error log to a file, access log off');
  md.push('');
  md.push('| scenario | server | requests/s | p50 | p99 | CPU/request | peak RSS |');
  md.push('|---|---|---:|---:|---:|---:|---:|');
  for (const s of scenarios) {
    for (const server of servers) {
      const x = sum(server, s);
      const status = expectedStatus(server, s);
      const note = x.failures.length > 0 ? ` (${x.failures.length} of ${ROUNDS} rounds FAILED: ${x.failures[0]})` : '';
      md.push(
        `| ${s.name} | ${server.label}${status === 403 ? ' (403)' : ''} | ${cellText(x, (v) => int(v.rps))}${note} | ${cellText(x, (v) => ms(v.p50Ms))} | ${cellText(x, (v) => ms(v.p99Ms))} | ${cellText(x, (v) => `${int(v.cpuUs)} µs`)} | ${x.peakMiB.toFixed(0)} MiB |`,
      );
    }
  }
  md.push('');
  md.push('| scenario | Warden / nginx+ModSecurity, requests/s | Warden / nginx+ModSecurity, p99 | Warden / Warden WAF off, requests/s |');
  md.push('|---|---:|---:|---:|');
  for (const s of scenarios) {
    const w = sum(warden, s);
    const m2 = sum(modsec, s);
    const off = sum(wardenOff, s);
    md.push(`| ${s.name} | ${ratio(w.rps / m2.rps)} | ${ratio(w.p99Ms / m2.p99Ms)} | ${ratio(w.rps / off.rps)} |`);
  }
  const b = summarize(banned);
  const inspected = sum(warden, benignGet);
  md.push('');
  md.push('| Warden, benign GET | requests/s | p50 | p99 | CPU/request |');
  md.push('|---|---:|---:|---:|---:|');
  md.push(`| inspected (CRS PL1), 200 | ${cellText(inspected, (v) => int(v.rps))} | ${cellText(inspected, (v) => ms(v.p50Ms))} | ${cellText(inspected, (v) => ms(v.p99Ms))} | ${cellText(inspected, (v) => `${int(v.cpuUs)} µs`)} |`);
  md.push(
    `| client banned (\`bans.answer: forbidden\`), 403 | ${cellText(b, (v) => int(v.rps))}${b.failures.length > 0 ? ` (${b.failures.length} FAILED: ${b.failures[0]})` : ''} | ${cellText(b, (v) => ms(v.p50Ms))} | ${cellText(b, (v) => ms(v.p99Ms))} | ${cellText(b, (v) => `${int(v.cpuUs)} µs`)} |`,
  );
  md.push(`| banned / inspected | ${ratio(b.rps / inspected.rps)} | | | |`);
  md.push('');
  md.push(
    'requests/s, p50 and p99: medians over the rounds. CPU/request: utime + stime of the server\'s processes (nginx master and workers, Warden primary and workers) over all rounds ÷ requests; the upstream\'s and wrk\'s CPU are not counted. Peak RSS: the largest sum of VmRSS of those processes sampled every 250 ms while measured. p99 ratio: below 1× means Warden\'s p99 is lower. The banned client: 127.0.0.1 banned through Warden\'s control socket (what `warden jail ban` does), refused before its request is inspected.',
  );
  const table = `${md.join('\n')}\n`;
  console.log(`\n${table}`);
  if (OUT !== null) {
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, table);
    console.log(`written to ${OUT}`);
  }
  const failedCells = [...cells.values(), banned].flat().filter((c) => c.failure !== null).length;
  if (failedCells > 0) {
    console.error(`side-by-side: ${failedCells} failed measurement${failedCells === 1 ? '' : 's'} (see the table)`);
    exitCode = 1;
  }
} catch (err) {
  console.error(`side-by-side: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  await stopAll();
  build?.remove();
  if (exitCode === 0) rmSync(work, { recursive: true, force: true });
  else console.error(`side-by-side: configs and logs kept in ${work}`);
  console.log(`side-by-side: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
process.exitCode = exitCode;
