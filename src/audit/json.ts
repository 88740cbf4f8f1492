/**
 * @module audit/json
 * ModSecurity v2's JSON audit-log format (msc_logging.c sec_audit_logger_json, SecAuditLogFormat
 * JSON), one object per line:
 *
 * ```
 * { "transaction": { time, transaction_id, remote_address, remote_port, local_address, local_port },
 *   "request":  { request_line, headers: {name: value}, body: [text] },          B, C
 *   "request":  … fake_body                                                      I (multipart)
 *   "response": { protocol, status, headers: {name: value}, body },             F, E
 *   "audit_data": { messages: [..], action: {intercepted, phase, message}, handler,
 *                   stopwatch: {start, duration}, response_body_dechunked, producer, server,
 *                   sanitized: {args, request_headers, response_headers},
 *                   webapp_info: {id, session, user_id}, sensor_id, engine_mode },  H
 *   "uploads": { info: [{file_size, file_name, content_type}], total },          J
 *   "matched_rules": [ { chain, rules: [ { actionset: {id, rev, version, severity, accuracy,
 *                        maturity, phase, is_chained, chain_starter, tags}, operator: {operator,
 *                        operator_param, target, negated}, config: {filename, line_num},
 *                        unparsed, is_matched } ], full_chain_match } ]          K
 * }
 * ```
 *
 * Where Warden differs from v2, on purpose: request and response data are decoded as UTF-8
 * (bytes that are not valid UTF-8 become U+FFFD) so every line is valid JSON, where yajl
 * writes the raw bytes; a header sent more than once is one key with the values joined by
 * ", " instead of a repeated key most JSON readers would drop; `stopwatch` holds the start
 * (µs since the epoch) and duration (µs) instead of per-phase times Warden does not measure.
 */
import type { Rule } from '../engine/rule.js';
import { bytesToText, logEscape } from './escape.js';
import type { AuditEntry } from './entry.js';
import { unparsedRule } from './native.js';
import { auditLogTime } from './time.js';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Headers as one object; repeated names joined (see the module notes). */
function headerObject(headers: ReadonlyArray<readonly [string, string | null]>): { [key: string]: Json } {
  const out: { [key: string]: string } = {};
  const byLower = new Map<string, string>();
  for (const [k, v] of headers) {
    const name = bytesToText(k);
    const value = bytesToText(v ?? '');
    const seen = byLower.get(name.toLowerCase());
    if (seen === undefined) {
      byLower.set(name.toLowerCase(), name);
      out[name] = value;
    } else out[seen] = `${out[seen] as string}, ${value}`;
  }
  return out;
}

function ruleJson(rule: Rule): { [key: string]: Json } {
  const actionset: { [key: string]: Json } = {};
  if (rule.id > 0) actionset.id = String(rule.id);
  if (rule.rev !== null) actionset.rev = logEscape(rule.rev);
  if (rule.ver !== null) actionset.version = logEscape(rule.ver);
  if (rule.severity >= 0) actionset.severity = rule.severity;
  if (rule.accuracy > 0) actionset.accuracy = rule.accuracy;
  if (rule.maturity > 0) actionset.maturity = rule.maturity;
  actionset.phase = rule.phase;
  actionset.is_chained = rule.chained || rule.starter !== rule;
  if (rule.chained && rule.starter === rule) actionset.chain_starter = true;
  // Tags as written: the macros they may hold were expanded per match, in part H.
  if (rule.tags.length > 0) actionset.tags = rule.tags.map((t) => logEscape(t.source));
  const target = [...rule.targets.map((t) => t.text), ...rule.exclusions.map((t) => `!${t.text}`)].join('|');
  return {
    actionset,
    operator: {
      operator: rule.operatorName === '' ? 'unconditionalMatch' : rule.operatorName,
      operator_param: bytesToText(rule.operatorParam),
      target,
      negated: rule.negated,
    },
    config: { filename: rule.location.file, line_num: rule.location.line },
    unparsed: unparsedRule(rule),
    // Only whole chains are recorded as matched (see the report of engine gaps).
    is_matched: true,
  };
}

function matchedRulesJson(rules: readonly Rule[]): Json[] {
  return rules.map((rule): Json => {
    if (!rule.chained) return { chain: false, rules: [ruleJson(rule)] };
    const links: Json[] = [ruleJson(rule)];
    for (let link = rule.chainNext; link !== null; link = link.chainNext) links.push(ruleJson(link));
    return { chain: true, rules: links, full_chain_match: true };
  });
}

/** The record as one line of JSON text (with its newline). */
export function formatJson(e: AuditEntry): string {
  const has = (part: string): boolean => e.parts.includes(part);
  const request: { [key: string]: Json } = {};
  if (has('B')) {
    request.request_line = bytesToText(e.requestLine);
    request.headers = headerObject(e.requestHeaders);
  }
  if (e.requestBody !== null) request.body = [bytesToText(e.requestBody)];
  if (e.fakeBody !== null) request.fake_body = e.fakeBody;
  const response: { [key: string]: Json } = {};
  if (has('F') && e.response !== null) {
    response.protocol = e.response.protocol;
    response.status = e.response.status;
    response.headers = headerObject(e.response.headers);
  }
  if (has('E') && e.responseBody !== null) response.body = bytesToText(e.responseBody);
  const audit: { [key: string]: Json } = {};
  if (has('H')) {
    if (e.messages.length > 0) audit.messages = [...e.messages];
    if (e.interception !== null) audit.action = { intercepted: true, phase: e.interception.phase, message: e.interception.message };
    if (e.identity.handler !== null) audit.handler = e.identity.handler;
    audit.stopwatch = { start: e.time, duration: e.duration };
    if (has('E') && e.responseBody !== null) audit.response_body_dechunked = true;
    audit.producer = e.componentSignatures.length === 0 ? e.identity.producer : [e.identity.producer, ...e.componentSignatures];
    if (e.identity.server !== null) audit.server = e.identity.server;
    const sanitized: { [key: string]: Json } = {};
    if (e.sanitisedArgs.length > 0) sanitized.args = e.sanitisedArgs.map((n) => logEscape(n));
    if (e.sanitisedRequestHeaders.length > 0) sanitized.request_headers = e.sanitisedRequestHeaders.map((n) => logEscape(n));
    if (e.sanitisedResponseHeaders.length > 0) sanitized.response_headers = e.sanitisedResponseHeaders.map((n) => logEscape(n));
    if (Object.keys(sanitized).length > 0) audit.sanitized = sanitized;
    if (e.webApp !== null) {
      const w: { [key: string]: Json } = { id: logEscape(e.webApp.id) };
      if (e.webApp.session !== null) w.session = logEscape(e.webApp.session);
      if (e.webApp.user !== null) w.user_id = logEscape(e.webApp.user);
      audit.webapp_info = w;
    }
    if (e.sensorId !== null) audit.sensor_id = logEscape(e.sensorId);
    if (e.engineMode !== null) audit.engine_mode = e.engineMode;
  }
  const record: { [key: string]: Json } = {
    transaction: {
      time: auditLogTime(e.time),
      transaction_id: e.id,
      remote_address: e.clientAddress,
      remote_port: e.clientPort,
      local_address: e.localAddress,
      local_port: e.localPort,
    },
    request,
    response,
    audit_data: audit,
  };
  if (e.uploads !== null) {
    record.uploads = {
      info: e.uploads.map((u) => ({ file_size: u.size, file_name: logEscape(u.filename), content_type: u.contentType ?? '<Unknown Content-Type>' })),
      total: e.uploads.reduce((n, u) => n + u.size, 0),
    };
  }
  if (has('K')) record.matched_rules = matchedRulesJson(e.matchedRules);
  return `${JSON.stringify(record)}\n`;
}
