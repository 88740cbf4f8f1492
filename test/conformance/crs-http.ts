/**
 * @module test/conformance/crs-http
 * The over-HTTP mode of the CRS runner: the suite against `warden start` itself, as go-ftw
 * runs it against ModSecurity in the CRS project's containers.
 *
 * - A real backend that answers as CRS's albedo does (ftw/albedo-server) on loopback.
 * - `warden start --config warden.yaml` (the real entry point, a primary and its cluster
 *   workers): CRS from ../shared/crs in its documented order, with the CRS test setup as its
 *   setup file (ftw/crs-test-setup.conf — DetectionOnly, blocking paranoia 4, response body
 *   access for the listed types, the 900005 settings, the test marker rule 999999 — then
 *   crs-setup.conf.example), the suite's plugins, the error log in a file, no jails.
 * - Every stage as go-ftw runs it (runner/run.go RunStage): a marker request carrying
 *   `X-CRS-Test: <rule>-<test>-<uuid>-s`, sent until the marker rule's line shows up in the
 *   error log; the stage's raw bytes on a fresh TCP connection; the end marker `…-e` the
 *   same way; then the log lines between the two markers are the stage's (ftw/waf-log) and
 *   are checked as in process (ftw/check).
 *
 * Differences from go-ftw, none in what is judged:
 * - How long it looks: go-ftw resends a marker at once when its line is not in the log yet;
 *   httpd writes a rule's line while the phase runs, Warden when the transaction ends
 *   (phase 5, just after the response). So each attempt watches the log for up to
 *   MARKER_WAIT_MS before sending the marker again (at most 20 times, as go-ftw).
 * - Several tests at once (`lanes`, default DEFAULT_LANES; `--lanes 1` is go-ftw's one at a
 *   time): the lines between a stage's markers are narrowed to those of the stage's own
 *   connection (the `[client 127.0.0.1:PORT]` every Warden error-log line carries), which
 *   with one lane are all of them. Each test's stages still run in order.
 *
 * One Warden worker by default: markers assume a stage's lines are written before its end
 * marker's. In one process they are (the log queue is first in, first out, and the stage's
 * transaction ended — phase 5 runs as its response ends — before the end marker, sent
 * after that response arrived, has gone through the rules and the backend); two workers
 * could write the marker first. `--workers 2` runs it anyway.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../support/shared.js';
import { CRS_SUITE, loadCrsTests, newResult, runTests, SETUP_FILE, type CrsOptions, type CrsResult } from './crs.js';
import { startAlbedo } from './ftw/albedo-server.js';
import { check } from './ftw/check.js';
import { ClientError, sendRaw, type ClientResponse } from './ftw/client.js';
import { buildRequest } from './ftw/request.js';
import type { FtwTest, Stage, StageInput } from './ftw/suite.js';
import { WafLogTail } from './ftw/waf-log.js';

export interface HttpOptions extends CrsOptions {
  /** Warden's worker processes (default 1: see the module note). */
  readonly workers?: number;
  /** Tests run at once (default DEFAULT_LANES; 1 runs them one by one, as go-ftw does). */
  readonly lanes?: number;
  /** Keep the temporary folder (config, error log) for a look after the run. */
  readonly keep?: boolean;
}

const ENTRY = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));
/** go-ftw's DefaultMaxMarkerRetries. */
const MARKER_RETRIES = 20;
/** How long one marker attempt watches the log for its line. */
const MARKER_WAIT_MS = 250;
const START_TIMEOUT_MS = 120_000;
/** Linux's USER_HZ, the unit of /proc/PID/stat's CPU times. */
const CLOCK_TICKS = 100;
/** Tests at once by default. */
export const DEFAULT_LANES = 4;

export class MarkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MarkerError';
  }
}

export interface RunningWarden {
  readonly port: number;
  readonly proc: ChildProcess;
  readonly output: string[];
  stop(): Promise<void>;
}

/** The warden.yaml of the CRS test setup. */
function wardenYaml(o: { crsDir: string; crsSetup: string; plugins: readonly string[]; upstream: string; errorLog: string; dataDir: string; workers: number }): string {
  const list = (items: readonly string[]): string => `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;
  return [
    '# The CRS regression-test setup as a Warden configuration (test/conformance/crs-http.ts).',
    'listeners:',
    '  - { name: crs, host: 127.0.0.1, port: 0, routes: [{ upstream: albedo }] }',
    'upstreams:',
    `  - { name: albedo, url: ${JSON.stringify(o.upstream)} }`,
    'rules:',
    `  crs: ${JSON.stringify(o.crsDir)}`,
    `  crsSetup: ${JSON.stringify(o.crsSetup)}`,
    `  plugins: ${list(o.plugins)}`,
    '  baseline: false',
    '  defaults: false',
    'logs:',
    `  error: ${JSON.stringify(o.errorLog)}`,
    `dataDir: ${JSON.stringify(o.dataDir)}`,
    `workers: ${o.workers}`,
    '# The suite sends attacks from one address; no jail may ban it.',
    'jails: {}',
    '',
  ].join('\n');
}

/** Starts `warden start --config FILE`; resolves once every worker listens. */
export async function startWarden(configFile: string): Promise<RunningWarden> {
  const proc = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'start', '--config', configFile], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`warden did not start:\n${output.join('\n')}`)), START_TIMEOUT_MS);
    let listening = 0;
    const onLine = (line: string): void => {
      output.push(line);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m !== null) listening = Number(m[1]);
      // The summary line comes last, once every worker listens.
      if (/ rules.*; pid \d+$/.test(line) && listening > 0) {
        clearTimeout(timer);
        resolve(listening);
      }
    };
    const split = (d: string): void => d.split('\n').filter((l) => l !== '').forEach(onLine);
    proc.stdout?.setEncoding('utf8').on('data', split);
    proc.stderr?.setEncoding('utf8').on('data', split);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`warden exited ${code}:\n${output.join('\n')}`));
    });
  });
  return {
    port,
    proc,
    output,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** go-ftw's marker request (runner/run.go buildMarkerRequest). */
function markerRequest(id: string): string {
  const input: StageInput = {
    destAddr: '127.0.0.1',
    port: 0,
    protocol: 'http',
    method: 'GET',
    uri: '/status/200',
    version: 'HTTP/1.1',
    headers: [
      ['Accept', '*/*'],
      ['User-Agent', 'go-ftw test agent'],
      ['Host', 'localhost'],
      ['X-CRS-Test', id],
    ],
    data: null,
    encodedData: null,
    encodedRequest: null,
    autocompleteHeaders: true,
    saveCookie: false,
    followRedirect: false,
  };
  return buildRequest(input);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Stages {
  constructor(
    private readonly port: number,
    private readonly log: WafLogTail,
  ) {}

  /**
   * go-ftw's markAndFlush: the marker request, sent again (at most MARKER_RETRIES times)
   * until its line is in the log; the index of that line.
   */
  async mark(id: string): Promise<number> {
    const bytes = markerRequest(id);
    this.log.expect(id);
    for (let attempt = 0; attempt < MARKER_RETRIES; attempt++) {
      try {
        await sendRaw('127.0.0.1', this.port, bytes);
      } catch (err) {
        throw new MarkerError(`marker request ${id} failed: ${(err as Error).message}`);
      }
      const deadline = performance.now() + MARKER_WAIT_MS;
      for (let wait = 0; performance.now() < deadline; wait = Math.min(wait + 1, 8)) {
        const line = this.log.marker(id);
        if (line !== null) return line;
        await sleep(wait);
      }
    }
    throw new MarkerError(`can't find log marker ${id} in ${this.log.path}`);
  }

  /** One stage, as go-ftw's RunStage: the reason it failed, or null. */
  async run(test: FtwTest, stage: Stage): Promise<string | null> {
    const input = stage.input;
    if (input.protocol !== 'http') return `protocol ${input.protocol} is not supported`;
    if (input.followRedirect) return 'follow_redirect is not supported';
    const expectError = stage.output.expectError;
    const stageId = `${test.ruleId}-${test.testId}-${randomUUID()}`;
    let bytes: string;
    try {
      bytes = buildRequest(input);
    } catch (err) {
      return `cannot build the request: ${(err as Error).message}`;
    }
    try {
      let start: number | null = null;
      try {
        start = await this.mark(`${stageId}-s`);
      } catch (err) {
        if (!expectError) return (err as Error).message;
      }
      let response: ClientResponse | null = null;
      let error: ClientError | null = null;
      try {
        // dest_addr and port name the WAF under test: here, Warden's listener.
        response = await sendRaw('127.0.0.1', this.port, bytes);
      } catch (err) {
        if (!(err instanceof ClientError)) throw err;
        error = err;
      }
      let end: number | null = null;
      try {
        end = await this.mark(`${stageId}-e`);
      } catch (err) {
        if (!expectError) return (err as Error).message;
      }
      const localPort = response?.localPort ?? error?.localPort ?? 0;
      const lines = start !== null && end !== null && localPort !== 0 ? this.log.linesBetween(start, end, localPort) : [];
      return check(stage.output, response, error, lines);
    } finally {
      this.log.forget(`${stageId}-s`);
      this.log.forget(`${stageId}-e`);
      // The lines before the earliest marker of a stage still running are no longer needed.
      this.log.dropUnneeded();
    }
  }
}

/** CPU seconds a process has used so far (Linux /proc; null elsewhere). */
function processCpu(pid: number): number | null {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** The pids whose parent is `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Where the run's CPU time went: Warden's primary, its workers, and this runner (client and backend). */
function cpuNote(primary: number, runner: NodeJS.CpuUsage): string {
  const fmt = (s: number | null): string => (s === null ? '?' : `${s.toFixed(1)} s`);
  const workers = childPids(primary).map(processCpu);
  return `CPU warden primary ${fmt(processCpu(primary))}, worker${workers.length === 1 ? '' : 's'} ${workers.map(fmt).join(' + ')}; runner and backend ${fmt((runner.user + runner.system) / 1e6)}`;
}

/** Runs a suite through `warden start`; null when it is absent outside CI. */
export async function runCrsHttp(options: HttpOptions = {}): Promise<CrsResult | null> {
  const loaded = loadCrsTests(options);
  if (loaded === null) return null;
  const { tests, crsDir, plugins } = loaded;
  const started = performance.now();
  const runnerCpu = process.cpuUsage();
  const dir = mkdtempSync(join(tmpdir(), 'warden-crs-http-'));
  const albedo = await startAlbedo();
  let warden: RunningWarden | null = null;
  let log: WafLogTail | null = null;
  const faults: string[] = [];
  const result = newResult(`${(options.suite ?? CRS_SUITE).name} (http)`, tests.length, 0, faults);
  try {
    const crsSetup = join(dir, 'crs-setup.conf');
    // The test setup first, then CRS's example setup: the order the in-process mode loads.
    writeFileSync(crsSetup, `Include ${JSON.stringify(SETUP_FILE)}\nInclude ${JSON.stringify(join(crsDir, 'crs-setup.conf.example'))}\n`);
    const errorLog = join(dir, 'error.log');
    // Created before Warden starts, so the reader can open it at once.
    writeFileSync(errorLog, '');
    mkdirSync(join(dir, 'data'));
    const config = join(dir, 'warden.yaml');
    writeFileSync(config, wardenYaml({ crsDir, crsSetup, plugins, upstream: albedo.url, errorLog, dataDir: join(dir, 'data'), workers: options.workers ?? 1 }));
    warden = await startWarden(config);
    result.loadSeconds = (performance.now() - started) / 1000;
    log = new WafLogTail(errorLog);
    const stages = new Stages(warden.port, log);
    await runTests(tests, result, (test, stage) => stages.run(test, stage), options.lanes ?? DEFAULT_LANES);
    if (warden.proc.exitCode !== null) faults.push(`warden exited ${warden.proc.exitCode} during the run`);
    else result.notes.push(cpuNote(warden.proc.pid as number, process.cpuUsage(runnerCpu)));
  } finally {
    log?.close();
    await warden?.stop();
    await albedo.close();
    for (const line of warden?.output ?? []) if (/\[proxy:error\]|internal error/.test(line)) faults.push(`warden: ${line}`);
    if (options.keep === true) console.log(`crs (http): kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
