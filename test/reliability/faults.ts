/**
 * @module test/reliability/faults
 * Faults injected into `warden start` (two workers, Warden's default rules, a WAF jail,
 * SQLite store) under steady mixed traffic:
 *
 * - kill -9 of a worker, then of the primary, `rounds` times: before each kill a ban is
 *   made by hand (control socket) and one by the WAF (an attacker refused twice); after the
 *   cluster replaced its worker, or after Warden was started again, every ban listed before
 *   the kill must be listed again and enforced (403, and nothing from that client reaches
 *   the upstream);
 * - the upstream stopped and started again, five times (flapping; twice when short): Warden answers 502/503/504
 *   while it is down, never crashes, and serves again once it is back;
 * - the access and error logs on a full disk (/dev/full): requests keep flowing, the failure
 *   is reported once in Warden's output and counted in warden_log_write_errors_total;
 * - a reload with a broken rule file: refused with file:line, the old rules keep serving.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRecordingUpstream, startWarden, sleep, alive, type RecordingUpstream, type WardenProcess } from './warden.js';
import { reachedUpstream, startTraffic, type TrafficStats } from './traffic.js';
import type { FaultCase, FaultFigures } from './results.js';
import { freePort } from '../support/squid.js';


export const FAULT_YAML = (upstream: string, adminPort: number, logs: string): string => `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ url: "${upstream}", connectTimeout: 2s, headersTimeout: 5s, bodyTimeout: 5s }]
proxy: { trustedProxies: [127.0.0.1] }
rules: { files: [rules.conf], defaults: true }
dataDir: data
workers: 2
logs: ${logs}
admin: { host: 127.0.0.1, port: ${adminPort} }
jails:
  waf: { when: { blocked: true, status: [403] }, maxRetry: 2, findTime: 10m, banTime: 1h }
`;

const RULES = 'SecRule REQUEST_HEADERS:User-Agent "@contains EvilBot" "id:5001,phase:1,deny,status:403,log,msg:\'evil bot\'"\n';
const BROKEN_RULES = `${RULES}SecRule ARGS "@rx (" "id:5002,phase:2,deny"\nSecRule ARGS "@unknownOperator x" "id:5003,phase:2,deny"\n`;

function get(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { connection: 'close', ...headers }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function bansListed(w: WardenProcess): Promise<string[]> {
  const r = await w.control({ cmd: 'list' });
  if (!r.ok) throw new Error(`warden jail list: ${r.error}`);
  return (r.result as Array<{ jail: string; address: string }>).map((b) => `${b.jail} ${b.address}`).sort();
}

async function metric(adminPort: number, name: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: adminPort, path: '/metrics', timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => {
        let sum = 0;
        for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
        resolve(sum);
      });
    });
    req.on('error', () => resolve(-1));
    req.end();
  });
}

export interface FaultOptions {
  /** kill -9 rounds (each: a worker, then the primary). */
  readonly rounds: number;
  readonly log: (line: string) => void;
  /** Fewer flaps and reloads, shorter traffic (npm test). */
  readonly short?: boolean;
  /** Which faults to inject (all by default). */
  readonly only?: ReadonlyArray<'kills' | 'upstream' | 'logs' | 'reload'>;
}

/** Runs the fault campaign; returns its figures (every case ok means nothing was lost). */
export async function runFaults(options: FaultOptions): Promise<FaultFigures> {
  const log = options.log;
  const want = (k: 'kills' | 'upstream' | 'logs' | 'reload'): boolean => options.only === undefined || options.only.includes(k);
  const root = mkdtempSync(join(tmpdir(), 'warden-faults-'));
  const cases: FaultCase[] = [];
  let up: RecordingUpstream | null = null;
  let w: WardenProcess | null = null;
  let killsWorker = 0;
  let killsPrimary = 0;
  let bansMade = 0;
  let bansLost = 0;
  try {
    up = await startRecordingUpstream();
    const upstream = up;
    // ---------------------------------------------------------------- kill -9
    if (want('kills')) {
      const dir = join(root, 'kills');
      const adminPort = await freePort();
      const yaml = FAULT_YAML(upstream.url, adminPort, '{ error: error.log, access: access.log }');
      writeDir(dir);
      w = await startWarden(dir, yaml);
      let inFault = false;
      const current = { w };
      const banned = ['192.0.2.200'];
      for (const a of banned) await current.w.control({ cmd: 'ban', jail: 'waf', address: a });
      const traffic = startTraffic({ port: () => current.w.port, concurrency: 6, banned, faultWindow: () => inFault });
      const problems: string[] = [];
      const checkBans = async (label: string, expected: readonly string[], fresh: readonly string[]): Promise<void> => {
        const now = await bansListed(current.w);
        const missing = expected.filter((b) => !now.includes(b));
        bansLost += missing.length;
        if (missing.length > 0) problems.push(`${label}: not listed after the restart: ${missing.join(', ')}`);
        const since = upstream.seen.length;
        // Enforcement is asked of the bans made just before the kill and of ten older ones (all are listed above).
        for (const b of [...new Set([...fresh, ...expected.slice(0, 10)])]) {
          const address = b.split(' ')[1] as string;
          // Four requests, so both workers are asked.
          for (let k = 0; k < 4; k++) {
            const status = await get(current.w.port, `/after-kill?k=${k}`, { 'x-forwarded-for': address });
            if (status !== 403) {
              problems.push(`${label}: ${address} answered ${status}, not 403`);
              if (!missing.includes(b)) bansLost++;
              break;
            }
          }
          if (reachedUpstream(upstream, address, since)) problems.push(`${label}: a request from banned ${address} reached the upstream`);
        }
      };
      for (let round = 1; round <= options.rounds; round++) {
        for (const target of ['worker', 'primary'] as const) {
          // Two new bans right before the kill: one by hand, one earned from the WAF.
          const byHand = `192.0.2.${(round * 2 + (target === 'primary' ? 1 : 0)) % 250}`;
          const attacker = `100.64.${round}.${target === 'primary' ? 2 : 1}`;
          const r = await current.w.control({ cmd: 'ban', jail: 'waf', address: byHand, reason: 'reliability' });
          if (!r.ok) problems.push(`ban ${byHand}: ${r.error}`);
          for (let k = 0; k < 2; k++) await get(current.w.port, `/?q=1%27%20union%20select%20password%20from%20users--&k=${k}`, { 'x-forwarded-for': attacker });
          await until(`the WAF ban of ${attacker}`, async () => (await bansListed(current.w)).includes(`waf ${attacker}`));
          const before = await bansListed(current.w);
          bansMade += 2;
          inFault = true;
          if (target === 'worker') {
            const workers = current.w.workers();
            const victim = workers[round % workers.length] as number;
            process.kill(victim, 'SIGKILL');
            killsWorker++;
            await until('the cluster to replace its worker', () => !alive(victim) && current.w.workers().length === 2 && !current.w.workers().includes(victim));
            // The new worker is ready when it answers; give it a moment to load the bans.
            await until('the new worker to answer', async () => (await get(current.w.port, '/ready', {})) === 200);
          } else {
            const stopped = current.w.stop('SIGKILL');
            await stopped;
            killsPrimary++;
            await until('the workers to exit with their primary', () => current.w.workers().length === 0, 15_000).catch(() => {});
            current.w = await startWarden(dir, yaml);
            w = current.w;
          }
          await sleep(300);
          inFault = false;
          await checkBans(`round ${round}, kill -9 of the ${target}`, before, [`waf ${byHand}`, `waf ${attacker}`]);
          log(`faults: round ${round}, kill -9 of the ${target}: ${before.length} bans before, ${(await bansListed(current.w)).length} after`);
        }
      }
      const stats = await traffic.stop();
      const died = current.w.stderr.filter((l) => /died|uncaught|unhandled/i.test(l) && !/SIGKILL/.test(l));
      cases.push({ name: `kill -9 of a worker, ${killsWorker} times`, injected: killsWorker, ok: problems.filter((p) => p.includes('worker')).length === 0, detail: `${bansMade / 2} bans made before these kills in all; ${problems.filter((p) => p.includes('worker')).join('; ') || 'every ban listed and enforced after each'}` });
      cases.push({ name: `kill -9 of the primary, ${killsPrimary} times`, injected: killsPrimary, ok: problems.filter((p) => p.includes('primary')).length === 0 && bansLost === 0, detail: `${bansLost} bans lost; ${problems.filter((p) => !p.includes('worker')).join('; ') || 'every ban listed and enforced after each restart'}` });
      cases.push(trafficCase('traffic during the kills', stats, died));
      await current.w.stop();
      w = null;
    }
    // ---------------------------------------------------------------- upstream flapping
    if (want('upstream')) {
      const dir = join(root, 'flap');
      writeDir(dir);
      const adminPort = await freePort();
      w = await startWarden(dir, FAULT_YAML(upstream.url, adminPort, '{ error: error.log, access: null }'));
      const warden = w;
      let inFault = false;
      const traffic = startTraffic({ port: () => warden.port, concurrency: 6, banned: ['192.0.2.201'], faultWindow: () => inFault });
      await warden.control({ cmd: 'ban', jail: 'waf', address: '192.0.2.201' });
      const downAnswers: Record<string, number> = {};
      let recovered = 0;
      const flaps = options.short === true ? 2 : 5;
      for (let i = 0; i < flaps; i++) {
        await sleep(1000);
        inFault = true;
        await upstream.close();
        for (let k = 0; k < 5; k++) {
          const s = await get(warden.port, `/down?k=${k}`, { 'x-forwarded-for': '198.19.0.1' });
          downAnswers[s] = (downAnswers[s] ?? 0) + 1;
        }
        await sleep(i % 2 === 0 ? 1500 : 200);
        await upstream.listen();
        // Back: the first requests may still meet a dead pooled connection; then 200.
        await until('the upstream to be served again', async () => (await get(warden.port, '/back', { 'x-forwarded-for': '198.19.0.2' })) === 200, 15_000).then(() => recovered++).catch(() => {});
        inFault = false;
      }
      const stats = await traffic.stop();
      const badDown = Object.keys(downAnswers).filter((s) => !['502', '503', '504'].includes(s));
      cases.push({ name: `upstream stopped and started, ${flaps} times`, injected: flaps, ok: badDown.length === 0 && recovered === flaps && !warden.exited, detail: `answers while down ${JSON.stringify(downAnswers)}; served again after ${recovered}/${flaps}` });
      cases.push(trafficCase('traffic around the upstream flaps (outside the outages)', stats, warden.stderr.filter((l) => /died/.test(l))));
      await warden.stop();
      w = null;
    }
    // ---------------------------------------------------------------- log disk full
    if (want('logs')) {
      const dir = join(root, 'logs');
      writeDir(dir);
      const adminPort = await freePort();
      // Three names for the full disk, so each log's reports can be told apart.
      for (const f of ['error', 'access', 'audit']) symlinkSync('/dev/full', join(dir, `${f}-full.log`));
      w = await startWarden(dir, FAULT_YAML(upstream.url, adminPort, '{ error: error-full.log, access: access-full.log, audit: audit-full.log, auditFormat: json }'));
      const warden = w;
      const traffic = startTraffic({ port: () => warden.port, concurrency: 6, banned: ['192.0.2.202'] });
      await warden.control({ cmd: 'ban', jail: 'waf', address: '192.0.2.202' });
      await sleep(options.short === true ? 3000 : 8000);
      const stats = await traffic.stop();
      await sleep(2500); // the workers report their counters once a second
      const errors = await metric(adminPort, 'warden_log_write_errors_total');
      const reports = [...warden.stdout, ...warden.stderr].filter((l) => /cannot write log/.test(l));
      const perFile = new Map<string, number>();
      for (const l of reports) {
        const file = /log (\S+):/.exec(l)?.[1] ?? '?';
        perFile.set(file, (perFile.get(file) ?? 0) + 1);
      }
      // Once per outage per process writing that log: two workers and the primary at most.
      const tooMany = [...perFile.values()].some((n) => n > 3);
      cases.push({ name: 'error, access and audit logs on a full disk (/dev/full)', injected: 1, ok: stats.unexpected === 0 && stats.sent > 20 && errors > 0 && reports.length > 0 && !tooMany && !warden.exited, detail: `${stats.sent} requests, ${stats.unexpected} unexpected answers; warden_log_write_errors_total ${errors}; "cannot write log" reported ${reports.length} times (${[...perFile.entries()].map(([f, n]) => `${f}: ${n}`).join(', ')})` });
      await warden.stop();
      w = null;
    }
    // ---------------------------------------------------------------- broken reload
    if (want('reload')) {
      const dir = join(root, 'reload');
      writeDir(dir);
      const adminPort = await freePort();
      w = await startWarden(dir, FAULT_YAML(upstream.url, adminPort, '{ error: error.log, access: null }'));
      const warden = w;
      const traffic = startTraffic({ port: () => warden.port, concurrency: 6, banned: ['192.0.2.203'] });
      await warden.control({ cmd: 'ban', jail: 'waf', address: '192.0.2.203' });
      await sleep(1500);
      writeFileSync(join(dir, 'rules.conf'), BROKEN_RULES);
      const tries = options.short === true ? 1 : 3;
      const answers: string[] = [];
      let refused = 0;
      for (let i = 0; i < tries; i++) {
        const r = await warden.reload();
        answers.push(r.text.split('\n')[0] ?? '');
        if (!r.ok && /rules\.conf:2/.test(r.text)) refused++;
        await sleep(500);
      }
      const evil = await get(warden.port, '/', { 'user-agent': 'EvilBot/1.0', 'x-forwarded-for': '198.19.1.1' });
      writeFileSync(join(dir, 'rules.conf'), RULES);
      const good = await warden.reload();
      const stats = await traffic.stop();
      cases.push({ name: `reload with a broken rule file under load, ${tries} times`, injected: tries, ok: refused === tries && evil === 403 && good.ok && stats.unexpected === 0 && !warden.exited, detail: `refused ${refused}/${tries} with file:line (${answers[0]?.slice(0, 140)}); old rules kept (EvilBot ${evil}); fixed file reloaded: ${good.ok}; ${stats.sent} requests, ${stats.unexpected} unexpected` });
      await warden.stop();
      w = null;
    }
  } finally {
    await w?.stop();
    await up?.close();
    rmSync(root, { recursive: true, force: true });
  }
  return { cases, killsWorker, killsPrimary, bansMade, bansLost, at: new Date().toISOString() };
}

function writeDir(dir: string): void {
  mkdirSafe(dir);
  writeFileSync(join(dir, 'rules.conf'), RULES);
}

function mkdirSafe(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

function trafficCase(name: string, stats: TrafficStats, died: readonly string[]): FaultCase {
  return {
    name,
    injected: 0,
    ok: stats.unexpected === 0 && died.length === 0,
    detail: `${stats.sent} requests; answers ${JSON.stringify(stats.answers)}; ${stats.unexpected} unexpected${stats.unexpectedExamples.length > 0 ? ` (${stats.unexpectedExamples.slice(0, 3).join('; ')})` : ''}${died.length > 0 ? `; ${died.join(' | ')}` : ''}`,
  };
}
