/**
 * @module cli/replay
 * `warden replay FILE`: sends a recorded set of requests (a HAR file, or Warden's own JSON
 * audit log) through the rules offline and reports the verdicts — how many would pass and
 * be refused, by which rules, and which requests — so rules can be tried on real traffic
 * before blocking is switched on.
 *
 * The rules are those `warden start` would load from the same config and flags (--config,
 * --rules, --crs …), evaluated with SecRuleEngine On whatever the config's mode says (the
 * point is to see what blocking would do; --mode chooses otherwise). Nothing is sent
 * anywhere and no state is kept: persistent collections live in memory for the run.
 */
import { parseArgs } from 'node:util';
import { formatLocation, RuleLoadError } from '../seclang/errors.js';
import { Waf } from '../engine/waf.js';
import type { Interruption, RuleMatch } from '../engine/transaction.js';
import { RULES_TEXT_NAME, resolveStartConfig, ruleFilesFor, rulesTextFor, START_OPTIONS } from '../config/index.js';
import { readRecording, RecordingError, type RecordedRequest, type Recording } from '../http/recorded.js';
import { HAR_CLIENT_ADDRESS } from '../config/defaults.js';
import { REPLAY_USAGE } from './usage.js';

/** Output sinks (cli/main's Io). */
export interface ReplayIo {
  out(line: string): void;
  err(line: string): void;
}

/** One request's outcome. */
export interface ReplayVerdict {
  readonly request: RecordedRequest;
  readonly interruption: Interruption | null;
  /** Rules that logged a match (ids, first match's msg), in order. */
  readonly matched: ReadonlyArray<{ readonly id: number; readonly msg: string }>;
  readonly clientAddress: string;
}

export interface ReplayReport {
  readonly file: string;
  readonly format: Recording['format'];
  readonly ruleFiles: readonly string[];
  readonly rules: number;
  readonly engine: string;
  readonly total: number;
  readonly passed: number;
  readonly blocked: number;
  readonly byStatus: Readonly<Record<string, number>>;
  /** Rule id → how many requests it refused, and its msg. */
  readonly blockedBy: ReadonlyArray<{ readonly id: number; readonly msg: string; readonly count: number }>;
  /** Rules that matched (logged) without deciding, with their counts. */
  readonly alsoMatched: ReadonlyArray<{ readonly id: number; readonly msg: string; readonly count: number }>;
  readonly verdicts: readonly ReplayVerdict[];
  /** Audit logs only: requests whose verdict now differs from what the log recorded. */
  readonly changed: readonly ReplayVerdict[];
}

function ruleMsg(m: RuleMatch): string {
  return m.msg !== '' ? m.msg : m.message;
}

/**
 * Runs one recorded request through phases 1, 2 and 5 (there is no response to run 3 and 4
 * on), as the proxy would up to the upstream.
 *
 * @example
 * const v = await replayRequest(waf, recording.requests[0], '192.0.2.1');
 * v.interruption?.status; // 400
 */
export async function replayRequest(waf: Waf, req: RecordedRequest, clientAddress: string): Promise<ReplayVerdict> {
  const tx = waf.newTransaction();
  tx.processConnection(clientAddress, 50000, '127.0.0.1', 80);
  tx.processRequestLine(req.method, req.target, req.protocol);
  for (const [k, v] of req.headers) tx.addRequestHeader(k, v);
  let it = await tx.processRequestHeaders();
  if (it === null) {
    if (req.body !== '') tx.appendRequestBody(req.body);
    it = await tx.processRequestBody();
  }
  await tx.processLogging();
  const matched: Array<{ id: number; msg: string }> = [];
  for (const m of tx.matches) if (m.log && !matched.some((x) => x.id === m.ruleId)) matched.push({ id: m.ruleId, msg: ruleMsg(m) });
  return { request: req, interruption: it, matched, clientAddress };
}

/** Replays every request of a recording through a Waf and counts the outcome. */
export async function replayRecording(waf: Waf, recording: Recording, options: { file: string; ruleFiles: readonly string[]; remoteAddr: string }): Promise<ReplayReport> {
  const verdicts: ReplayVerdict[] = [];
  for (const req of recording.requests) verdicts.push(await replayRequest(waf, req, req.clientAddress ?? options.remoteAddr));
  // Counted rules are named by their msg as written (macros unexpanded): one line per rule.
  const templates = new Map(waf.rules.filter((r) => r.starter === r && r.msg !== null).map((r) => [r.id, r.msg?.source ?? '']));
  const byStatus: Record<string, number> = {};
  const blockedBy = new Map<number, { id: number; msg: string; count: number }>();
  const also = new Map<number, { id: number; msg: string; count: number }>();
  for (const v of verdicts) {
    const it = v.interruption;
    if (it !== null) {
      byStatus[String(it.status)] = (byStatus[String(it.status)] ?? 0) + 1;
      const msg = templates.get(it.ruleId) ?? v.matched.find((m) => m.id === it.ruleId)?.msg ?? it.message;
      const entry = blockedBy.get(it.ruleId) ?? { id: it.ruleId, msg, count: 0 };
      entry.count++;
      blockedBy.set(it.ruleId, entry);
    }
    for (const m of v.matched) {
      if (it !== null && m.id === it.ruleId) continue;
      const entry = also.get(m.id) ?? { id: m.id, msg: templates.get(m.id) ?? m.msg, count: 0 };
      entry.count++;
      also.set(m.id, entry);
    }
  }
  const byCount = (a: { count: number; id: number }, b: { count: number; id: number }): number => b.count - a.count || a.id - b.id;
  const blocked = verdicts.filter((v) => v.interruption !== null).length;
  const changed = recording.format === 'audit-json' ? verdicts.filter((v) => v.request.recorded.intercepted !== null && v.request.recorded.intercepted !== (v.interruption !== null)) : [];
  return {
    file: options.file,
    format: recording.format,
    ruleFiles: options.ruleFiles,
    rules: waf.summary().rules,
    engine: waf.config.ruleEngine,
    total: verdicts.length,
    passed: verdicts.length - blocked,
    blocked,
    byStatus,
    blockedBy: [...blockedBy.values()].sort(byCount),
    alsoMatched: [...also.values()].sort(byCount),
    verdicts,
    changed,
  };
}

/** Bytes shown printable, long values cut. */
function show(value: string, max: number): string {
  const printable = value.replace(/[\x00-\x1f\x7f-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}

function describe(v: ReplayVerdict): string {
  const r = v.request;
  const it = v.interruption;
  const verdict = it === null ? 'pass' : `${it.status} by ${it.ruleId === 0 ? 'the engine' : `rule ${it.ruleId}`}`;
  const label = r.label !== '' ? `  (${show(r.label, 60)})` : '';
  return `#${r.index} ${r.method} ${show(r.target, 70)} from ${v.clientAddress} → ${verdict}${label}`;
}

function printReport(report: ReplayReport, io: ReplayIo, list: number): void {
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  io.out(`Replayed ${plural(report.total, 'request')} from ${report.file} (${report.format === 'har' ? 'HAR' : 'JSON audit log'})`);
  io.out(`Rules: ${plural(report.ruleFiles.length, 'file')}, ${report.rules} rules, SecRuleEngine ${report.engine}`);
  const statuses = Object.entries(report.byStatus)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  io.out(`  would pass   ${report.passed}`);
  io.out(`  would refuse ${report.blocked}${statuses !== '' ? `  (${statuses})` : ''}`);
  if (report.blockedBy.length > 0) {
    io.out('Refused by rule:');
    for (const b of report.blockedBy) io.out(`  ${String(b.id).padStart(8)}  ${String(b.count).padStart(5)}  ${show(b.msg, 90)}`);
  }
  if (report.alsoMatched.length > 0) {
    io.out('Matched without deciding:');
    for (const b of report.alsoMatched) io.out(`  ${String(b.id).padStart(8)}  ${String(b.count).padStart(5)}  ${show(b.msg, 90)}`);
  }
  const refused = report.verdicts.filter((v) => v.interruption !== null);
  if (refused.length > 0) {
    io.out(`Requests that would be refused${refused.length > list ? ` (first ${list} of ${refused.length}; --list all for every one)` : ''}:`);
    for (const v of refused.slice(0, list)) {
      io.out(`  ${describe(v)}`);
      for (const n of v.request.notes) io.out(`      note: ${n}`);
    }
  }
  if (report.format === 'audit-json') {
    io.out(`Verdicts that differ from the audit log: ${report.changed.length}`);
    for (const v of report.changed.slice(0, list)) {
      const was = v.request.recorded;
      io.out(`  ${describe(v)}; recorded: ${was.intercepted === true ? `refused ${was.status ?? ''}`.trim() : `passed ${was.status ?? ''}`.trim()}${was.ruleIds.length > 0 ? ` (rules ${was.ruleIds.join(', ')})` : ''}`);
    }
  }
  const partial = report.verdicts.filter((v) => v.request.notes.length > 0).length;
  if (partial > 0) io.out(`${plural(partial, 'request')} could not be restored exactly (see the notes; --json lists them all)`);
}

function reportJson(report: ReplayReport): unknown {
  return {
    file: report.file,
    format: report.format,
    ruleFiles: report.ruleFiles,
    rules: report.rules,
    engine: report.engine,
    total: report.total,
    passed: report.passed,
    refused: report.blocked,
    byStatus: report.byStatus,
    refusedBy: report.blockedBy,
    alsoMatched: report.alsoMatched,
    requests: report.verdicts.map((v) => ({
      index: v.request.index,
      label: v.request.label,
      method: v.request.method,
      target: Buffer.from(v.request.target, 'latin1').toString('utf8'),
      clientAddress: v.clientAddress,
      verdict: v.interruption === null ? 'pass' : 'refuse',
      status: v.interruption?.status ?? null,
      ruleId: v.interruption?.ruleId ?? null,
      matched: v.matched.map((m) => m.id),
      recorded: report.format === 'audit-json' ? v.request.recorded : undefined,
      notes: v.request.notes,
    })),
  };
}

/** `warden replay`: exit 0 when the replay ran (whatever the verdicts), 1 on a problem, 2 on usage. */
export async function replayCommand(argv: readonly string[], io: ReplayIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const rulesOptions = { config: START_OPTIONS.config, rules: START_OPTIONS.rules, crs: START_OPTIONS.crs, mode: START_OPTIONS.mode } as const;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...rulesOptions, 'remote-addr': { type: 'string', default: HAR_CLIENT_ADDRESS }, list: { type: 'string', default: '50' }, json: { type: 'boolean', default: false } },
      allowPositionals: true,
    });
  } catch (err) {
    io.err(`${(err as Error).message}\nusage:\n${REPLAY_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    io.err(`usage:\n${REPLAY_USAGE}`);
    return 2;
  }
  const list = values.list === 'all' ? Infinity : /^\d+$/.test(values.list) ? Number(values.list) : NaN;
  if (Number.isNaN(list)) {
    io.err(`--list must be a number or all\nusage:\n${REPLAY_USAGE}`);
    return 2;
  }
  const file = positionals[0] as string;

  // The rules warden start would load from the same config and flags. A config needs an
  // upstream to be complete; replay sends nothing, so a placeholder stands in when none is named.
  const ruleArgs: string[] = [];
  if (values.config !== undefined) ruleArgs.push('--config', values.config);
  for (const r of values.rules ?? []) ruleArgs.push('--rules', r);
  if (values.crs !== undefined) ruleArgs.push('--crs', values.crs);
  if (values.mode !== undefined) ruleArgs.push('--mode', values.mode);
  let resolved = resolveStartConfig(ruleArgs, env);
  if ('errors' in resolved && resolved.problems.some((p) => p.path === 'upstreams')) {
    resolved = resolveStartConfig([...ruleArgs, '--upstream', 'http://127.0.0.1:9'], env);
  }
  if ('errors' in resolved) {
    for (const e of resolved.errors) io.err(e);
    return 1;
  }
  const config = resolved.config;
  const text = values.mode === undefined ? `${rulesTextFor(config)}SecRuleEngine On\n` : rulesTextFor(config);
  let waf: Waf;
  try {
    waf = Waf.fromText(text, { file: RULES_TEXT_NAME });
  } catch (err) {
    if (err instanceof RuleLoadError) {
      for (const e of err.errors) io.err(`${formatLocation(e.location)}: error: ${e.reason}`);
      io.err(`${err.errors.length} error${err.errors.length === 1 ? '' : 's'}; rules not loaded`);
      return 1;
    }
    throw err;
  }

  let recording: Recording;
  try {
    recording = readRecording(file);
  } catch (err) {
    if (err instanceof RecordingError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
  const report = await replayRecording(waf, recording, { file, ruleFiles: ruleFilesFor(config), remoteAddr: values['remote-addr'] });
  if (values.json) io.out(JSON.stringify(reportJson(report), null, 2));
  else printReport(report, io, list);
  return 0;
}
