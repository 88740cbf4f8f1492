/**
 * @module test/reliability/traffic
 * Steady mixed traffic for the soak and fault campaigns, as a trusted proxy in front of
 * Warden would send it (X-Forwarded-For names the client): benign page views and form
 * posts, SQL injection attempts, malformed requests (CL.TE, raw over TCP) and requests from
 * banned clients. Every answer is checked against what its kind calls for; anything else
 * (another status, a reset, a time-out) is counted as unexpected, with examples.
 */
import { request, Agent } from 'node:http';
import { connect } from 'node:net';
import { sleep, type RecordingUpstream } from './warden.js';

export type TrafficKind = 'benign' | 'attack' | 'malformed' | 'banned';

export interface TrafficStats {
  sent: number;
  /** Answers by kind, then status ("error: CODE" for a failed exchange). */
  readonly answers: Record<TrafficKind, Record<string, number>>;
  unexpected: number;
  readonly unexpectedExamples: string[];
  /** Requests sent again after a reset on a reused keep-alive connection. */
  retried: number;
}

export interface TrafficOptions {
  /** Warden's port (read for every request: it changes when Warden is restarted). */
  readonly port: () => number;
  readonly concurrency: number;
  /** Addresses banned before the traffic starts; requests from them must be refused. */
  readonly banned: readonly string[];
  /** While true, failed exchanges and 502/503/504 are expected (a fault is being injected): counted, not unexpected. */
  readonly faultWindow?: () => boolean;
}

const EXPECTED: Record<TrafficKind, string> = { benign: '200', attack: '403', malformed: '400', banned: '403' };

/** Benign clients: 198.18.0.0/15 (never attacks, never banned). */
const benignAddress = (i: number): string => `198.18.${(i >> 8) & 255}.${i & 255}`;

/**
 * One request; a reset on a reused keep-alive connection (the server closed it as the
 * request went out: the request was never read) is sent again once, as HTTP clients do,
 * and counted in `retried`.
 */
async function httpExchange(port: number, agent: Agent, method: string, path: string, xff: string, body: string | null, stats: TrafficStats): Promise<string> {
  const first = await httpOnce(port, agent, method, path, xff, body);
  if (first !== 'error: ECONNRESET (reused)') return first.replace(' (reused)', '');
  stats.retried++;
  return (await httpOnce(port, agent, method, path, xff, body)).replace(' (reused)', '');
}

function httpOnce(port: number, agent: Agent, method: string, path: string, xff: string, body: string | null): Promise<string> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'x-forwarded-for': xff, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'accept-language': 'en-US,en;q=0.5' };
    if (body !== null) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent, timeout: 15_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
      res.on('error', (e: Error & { code?: string }) => resolve(`error: ${e.code ?? e.message}`));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: Error & { code?: string }) => resolve(`error: ${e.code ?? e.message}${req.reusedSocket && e.code === 'ECONNRESET' ? ' (reused)' : ''}`));
    req.end(body ?? undefined);
  });
}

function malformedExchange(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(), 15_000);
    s.on('connect', () => s.write('POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'));
    s.on('data', (d: Buffer) => chunks.push(d));
    let failure = '';
    s.on('error', (e: Error & { code?: string }) => (failure = e.code ?? e.message));
    s.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'));
      // Which way it ended tells a refused connection (ECONNREFUSED), a reset and a plain close apart.
      resolve(m !== null ? (m[1] as string) : `error: closed without an answer${failure === '' ? '' : ` (${failure})`}`);
    });
  });
}

/**
 * Starts the traffic; `stop()` ends it and gives the counts. Kinds are mixed 70 % benign
 * (GETs and form posts), 10 % attacks, 10 % malformed, 10 % from banned clients.
 *
 * @example
 * const t = startTraffic({ port: () => w.port, concurrency: 8, banned: ['203.0.113.9'] });
 * await sleep(10_000);
 * const stats = await t.stop(); // stats.unexpected === 0
 */
export function startTraffic(options: TrafficOptions, upstream: RecordingUpstream | null = null): { stop(): Promise<TrafficStats>; readonly stats: TrafficStats } {
  const stats: TrafficStats = { sent: 0, answers: { benign: {}, attack: {}, malformed: {}, banned: {} }, unexpected: 0, unexpectedExamples: [], retried: 0 };
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  let running = true;
  let n = 0;
  const lane = async (): Promise<void> => {
    while (running) {
      const i = n++;
      const r = i % 10;
      const kind: TrafficKind = r < 7 ? 'benign' : r === 7 ? 'attack' : r === 8 ? 'malformed' : 'banned';
      const port = options.port();
      const duringFault = options.faultWindow?.() === true;
      let answer: string;
      if (kind === 'malformed') answer = await malformedExchange(port);
      else if (kind === 'attack') answer = await httpExchange(port, agent, 'GET', `/search?q=1%27%20union%20select%20password%20from%20users--&n=${i}`, `203.0.113.${(i % 200) + 1}`, null, stats);
      else if (kind === 'banned') answer = await httpExchange(port, agent, 'GET', `/banned?n=${i}`, options.banned[i % Math.max(1, options.banned.length)] ?? '192.0.2.1', null, stats);
      else if (i % 3 === 0) answer = await httpExchange(port, agent, 'POST', `/comment?n=${i}`, benignAddress(i % 5000), `author=ann&text=hello+world+${i}`, stats);
      else answer = await httpExchange(port, agent, 'GET', `/blog/post-${i % 50}?page=${i % 7}`, benignAddress(i % 5000), null, stats);
      stats.sent++;
      const byStatus = stats.answers[kind];
      byStatus[answer] = (byStatus[answer] ?? 0) + 1;
      // In a fault window (when the request started or ended), a failed exchange or a 502/503/504 is what the fault calls for.
      const faultAnswer = answer.startsWith('error') || answer === '502' || answer === '503' || answer === '504';
      if (answer !== EXPECTED[kind] && !(faultAnswer && (duringFault || options.faultWindow?.() === true))) {
        stats.unexpected++;
        if (stats.unexpectedExamples.length < 20) stats.unexpectedExamples.push(`${new Date().toISOString().slice(11, 19)} ${kind} #${i}: ${answer}`);
      }
      if (answer.startsWith('error')) await sleep(50);
    }
  };
  const lanes = Array.from({ length: options.concurrency }, () => lane());
  void upstream;
  return {
    stats,
    stop: async () => {
      running = false;
      await Promise.all(lanes);
      agent.destroy();
      return stats;
    },
  };
}

/** Whether any request from `address` reached the upstream (a banned client must not). */
export function reachedUpstream(upstream: RecordingUpstream, address: string, since = 0): boolean {
  return upstream.seen.slice(since).some((s) => {
    const i = s.rawHeaders.findIndex((h, k) => k % 2 === 0 && h.toLowerCase() === 'x-forwarded-for');
    return i >= 0 && (s.rawHeaders[i + 1] ?? '').split(',').map((x) => x.trim()).includes(address);
  });
}
