/**
 * @module audit/native
 * ModSecurity's native audit-log format (msc_logging.c sec_audit_logger_native): parts
 * separated by `--boundary-X--` lines, in v2's order A B C I F E H J K Z. Request and
 * response data are written as the bytes they were (a byte string in, a byte string out);
 * everything Warden adds is escaped ASCII.
 */
import { randomBytes } from 'node:crypto';
import { logEscape } from './escape.js';
import type { Rule } from '../engine/rule.js';
import { statusText, type AuditEntry } from './entry.js';
import { auditLogTime } from './time.js';

/** A fresh eight-hex-digit boundary per record, as v2 makes one. */
export function newBoundary(): string {
  return randomBytes(4).toString('hex');
}

/** The text of part H (the trailer), each line ending with a newline. */
function trailer(e: AuditEntry): string {
  let s = '';
  for (const m of e.messages) s += `Message: ${m}\n`;
  if (e.interception !== null) s += `Action: Intercepted (phase ${e.interception.phase})\n`;
  if (e.identity.handler !== null) s += `Apache-Handler: ${e.identity.handler}\n`;
  s += `Stopwatch: ${e.time} ${e.duration} (- - -)\n`;
  if (e.responseBody !== null && e.parts.includes('E')) s += 'Response-Body-Transformed: Dechunked\n';
  s += `Producer: ${[e.identity.producer, ...e.componentSignatures].join('; ')}.\n`;
  if (e.identity.server !== null) s += `Server: ${e.identity.server}\n`;
  const list = (names: readonly string[]): string => `${names.map((n) => `"${logEscape(n)}"`).join(', ')}.\n`;
  if (e.sanitisedArgs.length > 0) s += `Sanitised-Args: ${list(e.sanitisedArgs)}`;
  if (e.sanitisedRequestHeaders.length > 0) s += `Sanitised-Request-Headers: ${list(e.sanitisedRequestHeaders)}`;
  if (e.sanitisedResponseHeaders.length > 0) s += `Sanitised-Response-Headers: ${list(e.sanitisedResponseHeaders)}`;
  if (e.webApp !== null) {
    const w = e.webApp;
    s += `WebApp-Info: "${logEscape(w.id)}" "${w.session === null ? '-' : logEscape(w.session)}" "${w.user === null ? '-' : logEscape(w.user)}"\n`;
  }
  if (e.sensorId !== null) s += `Sensor-Id: "${logEscape(e.sensorId)}"\n`;
  if (e.engineMode !== null) s += `Engine-Mode: "${e.engineMode}"\n`;
  return s;
}

/**
 * A rule as v2 writes it in part K (re.c msre_rule_generate_unparsed): the directive and
 * each argument quoted and escaped, so a rule is always one line. The engine keeps the
 * directive re-quoted only where needed (`SecRule ARGS "@rx a b" id:1,deny`); the arguments
 * are recovered from that form.
 */
export function unparsedRule(rule: Rule): string {
  const words: string[] = [];
  const text = rule.text;
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ') {
      i++;
      continue;
    }
    let word = '';
    if (text[i] === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        word += text[i];
      }
      i++;
    } else {
      for (; i < text.length && text[i] !== ' '; i++) word += text[i];
    }
    words.push(word);
  }
  const [name = '', ...args] = words;
  return [name, ...args.map((a) => `"${logEscape(a)}"`)].join(' ');
}

/** Part K: each matched rule as written, a chain's links after its starter and a blank line after it. */
function matchedRules(e: AuditEntry): string {
  let s = '';
  for (const rule of e.matchedRules) {
    s += `${unparsedRule(rule)}\n`;
    if (!rule.chained) continue;
    for (let link = rule.chainNext; link !== null; link = link.chainNext) s += `${unparsedRule(link)}\n`;
    s += '\n';
  }
  return s;
}

/**
 * The record as a byte string. `serial` adds the blank line v2 puts after each record in a
 * shared file.
 */
export function formatNative(e: AuditEntry, serial: boolean, boundary = newBoundary()): string {
  const open = (part: string): string => `\n--${boundary}-${part}--\n`;
  const has = (part: string): boolean => e.parts.includes(part);
  let s = `--${boundary}-A--\n[${auditLogTime(e.time)}] ${e.id} ${e.clientAddress} ${e.clientPort} ${e.localAddress} ${e.localPort}`;
  if (has('B')) {
    s += `${open('B')}${e.requestLine}\n`;
    for (const [k, v] of e.requestHeaders) s += v === null ? `${k}\n` : `${k}: ${v}\n`;
  }
  if (e.requestBody !== null) s += `${open('C')}${e.requestBody}`;
  if (e.fakeBody !== null) s += `${open('I')}${e.fakeBody}`;
  if (has('F')) {
    s += open('F');
    if (e.response !== null) {
      s += `${e.response.protocol} ${statusText(e.response.status)}\n`;
      for (const [k, v] of e.response.headers) s += `${k}: ${v}\n`;
    }
  }
  if (has('E') && e.responseBody !== null) s += `${open('E')}${e.responseBody}`;
  if (has('H')) s += `${open('H')}${trailer(e)}`;
  if (e.uploads !== null) {
    s += open('J');
    let total = 0;
    for (const u of e.uploads) {
      s += `${u.index},${u.size},"${logEscape(u.filename)}","${logEscape(u.contentType ?? '<Unknown ContentType>')}"\n`;
      total += u.size;
    }
    s += `Total,${total}\n`;
  }
  if (has('K')) s += `${open('K')}${matchedRules(e)}`;
  s += `${open('Z')}`;
  return serial ? `${s}\n` : s;
}
