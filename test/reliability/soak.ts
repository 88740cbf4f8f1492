/**
 * @module test/reliability/soak
 * Warden with the OWASP CRS (../shared/crs, blocking at PL1) under steady mixed traffic —
 * benign page views and form posts, SQL injection, malformed requests, banned clients —
 * with a `warden reload` every `reloadEveryS` seconds: resident memory of the primary and
 * its workers sampled over time, their open file descriptors, and every answer checked
 * against what its kind of traffic calls for.
 *
 * RSS growth is measured from the end of the warm-up (the first fifth of the run: JIT,
 * caches and pools filled, and the heap grown to hold two rule generations during a
 * reload) to the end of the run, each the median of the samples over a tenth of the run
 * (at least three), since a reload and a garbage collection move RSS by tens of MB. File descriptors are counted idle — before the traffic and after it, once
 * keep-alive connections have expired — so a leak is not hidden by open connections.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedSuite } from '../support/shared.js';
import { startRecordingUpstream, startWarden, sleep, rssOf, fdCount, type RecordingUpstream, type WardenProcess } from './warden.js';
import { reachedUpstream, startTraffic } from './traffic.js';
import type { SoakFigures } from './results.js';

export interface SoakOptions {
  readonly minutes: number;
  readonly reloadEveryS: number;
  readonly sampleEveryS: number;
  readonly concurrency: number;
  readonly log: (line: string) => void;
}

const SOAK_YAML = (upstream: string, crs: string): string => `listeners: [{ host: 127.0.0.1, port: 0 }]
upstreams: [{ url: "${upstream}", headersTimeout: 10s, bodyTimeout: 10s }]
proxy: { trustedProxies: [127.0.0.1], keepAliveTimeout: 2s }
rules: { crs: "${crs}" }
dataDir: data
workers: 2
logs: { error: error.log, access: access.log }
jails:
  waf: { when: { blocked: true, status: [403] }, maxRetry: 5, findTime: 10m, banTime: 1h }
`;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function processes(w: WardenProcess): number[] {
  return [w.pid, ...w.workers()];
}

const MB = 1 << 20;

export async function runSoak(options: SoakOptions): Promise<SoakFigures> {
  const crs = sharedSuite('crs');
  if (crs === null) throw new Error('the soak needs the CRS in ../shared/crs');
  const dir = mkdtempSync(join(tmpdir(), 'warden-soak-'));
  let up: RecordingUpstream | null = null;
  let w: WardenProcess | null = null;
  try {
    up = await startRecordingUpstream();
    w = await startWarden(dir, SOAK_YAML(up.url, crs));
    const warden = w;
    const banned = ['192.0.2.10', '192.0.2.11', '2001:db8::bad'];
    for (const a of banned) {
      const r = await warden.control({ cmd: 'ban', jail: 'waf', address: a });
      if (!r.ok) throw new Error(`ban ${a}: ${r.error}`);
    }
    await sleep(500);
    const fdIdleStart = processes(warden).reduce((n, p) => n + fdCount(p), 0);
    const traffic = startTraffic({ port: () => warden.port, concurrency: options.concurrency, banned });
    const t0 = Date.now();
    const endAt = t0 + options.minutes * 60_000;
    const warmS = (options.minutes * 60) / 5;
    const windowS = Math.max(3 * options.sampleEveryS, (options.minutes * 60) / 10);
    const samples: Array<{ s: number; rssMb: number; fds: number }> = [];
    let reloads = 0;
    let reloadsFailed = 0;
    // The first reload half an interval in, so a run of N intervals has N reloads.
    let nextReload = t0 + (options.reloadEveryS * 1000) / 2;
    let nextSample = t0;
    while (Date.now() < endAt) {
      if (warden.exited) throw new Error(`warden exited during the soak:\n${warden.stderr.slice(-20).join('\n')}`);
      const now = Date.now();
      if (now >= nextSample) {
        nextSample += options.sampleEveryS * 1000;
        const ps = processes(warden);
        const rssMb = ps.reduce((n, p) => n + rssOf(p), 0) / MB;
        const fds = ps.reduce((n, p) => n + Math.max(0, fdCount(p)), 0);
        samples.push({ s: Math.round((now - t0) / 1000), rssMb, fds });
      }
      if (now >= nextReload) {
        nextReload += options.reloadEveryS * 1000;
        const r = await warden.reload();
        reloads++;
        if (!r.ok) {
          reloadsFailed++;
          options.log(`soak: reload ${reloads} failed: ${r.text.slice(0, 200)}`);
        }
      }
      if (samples.length % 12 === 0 && samples.length > 0 && now - t0 > 1000) {
        const last = samples[samples.length - 1] as { s: number; rssMb: number };
        options.log(`soak: ${(last.s / 60).toFixed(1)} min, RSS ${last.rssMb.toFixed(0)} MB, ${traffic.stats.sent} requests, ${traffic.stats.unexpected} unexpected, ${reloads} reloads`);
      }
      await sleep(Math.max(10, Math.min(nextSample, nextReload, endAt) - Date.now()));
    }
    const stats = await traffic.stop();
    // Idle again: keep-alive connections expire (2 s) and the upstream pool's (4 s).
    await sleep(6000);
    const fdIdleEnd = processes(warden).reduce((n, p) => n + fdCount(p), 0);
    const lastS = samples.length > 0 ? (samples[samples.length - 1] as { s: number }).s : 0;
    const window = (from: number, to: number, atLeast: () => number[]): number[] => {
      const inside = samples.filter((x) => x.s > from && x.s <= to).map((x) => x.rssMb);
      return inside.length >= 3 ? inside : atLeast();
    };
    const warm = window(warmS - windowS, warmS, () => samples.filter((x) => x.s <= warmS).slice(-3).map((x) => x.rssMb));
    const end = window(lastS - windowS, lastS, () => samples.slice(-3).map((x) => x.rssMb));
    const rssWarmMb = median(warm);
    const rssEndMb = median(end);
    const bannedReached = banned.filter((a) => reachedUpstream(up as RecordingUpstream, a));
    if (bannedReached.length > 0) {
      stats.unexpected += bannedReached.length;
      stats.unexpectedExamples.push(`banned clients reached the upstream: ${bannedReached.join(', ')}`);
    }
    return {
      minutes: options.minutes,
      reloads,
      reloadsFailed,
      requests: stats.sent,
      answers: stats.answers,
      unexpected: stats.unexpected,
      unexpectedExamples: stats.unexpectedExamples,
      retried: stats.retried,
      rssWarmMb,
      rssEndMb,
      rssPeakMb: Math.max(...samples.map((x) => x.rssMb)),
      rssGrowthPct: rssWarmMb > 0 ? ((rssEndMb - rssWarmMb) / rssWarmMb) * 100 : 0,
      fdWarm: fdIdleStart,
      fdEnd: fdIdleEnd,
      samples,
      at: new Date().toISOString(),
    };
  } finally {
    await w?.stop();
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
