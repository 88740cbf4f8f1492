/**
 * @module audit/time
 * The time stamps of the logs Warden imitates, in local time as Apache and ModSecurity
 * write them: Apache's error log (`Wed Nov 25 18:00:00.123456 2026`), ModSecurity's audit
 * log and Apache's access log (`25/Nov/2026:18:00:00.123456 +0100`), and the folder and file
 * names of concurrent audit entries. Times are microseconds since the epoch.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
const pad6 = (n: number): string => String(n).padStart(6, '0');

function parts(us: number): { d: Date; micro: number } {
  const ms = Math.floor(us / 1000);
  return { d: new Date(ms), micro: Math.floor(us - ms * 1000) + (ms % 1000) * 1000 };
}

/** `+0100` from the local offset at that time. */
function offset(d: Date): string {
  const minutes = -d.getTimezoneOffset();
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

/** Apache 2.4's error-log time: `Wed Nov 25 18:00:00.123456 2026`. */
export function errorLogTime(us: number): string {
  const { d, micro } = parts(us);
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${pad6(micro)} ${d.getFullYear()}`;
}

/** ModSecurity's `current_logtime`: `25/Nov/2026:18:00:00.123456 +0100` (audit part A, JSON time). */
export function auditLogTime(us: number): string {
  const { d, micro } = parts(us);
  return `${accessDate(d)}.${pad6(micro)} ${offset(d)}`;
}

/** Apache's `%t` without brackets: `25/Nov/2026:18:00:00 +0100` (access log, concurrent index). */
export function accessLogTime(us: number): string {
  const { d } = parts(us);
  return `${accessDate(d)} ${offset(d)}`;
}

function accessDate(d: Date): string {
  return `${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** The path of a concurrent audit entry below the storage folder: `/20261125/20261125-1800/20261125-180000-ID`. */
export function concurrentEntryPath(us: number, id: string): string {
  const { d } = parts(us);
  const day = `${d.getFullYear()}${pad2(d.getMonth() + 1)}${pad2(d.getDate())}`;
  const minute = `${day}-${pad2(d.getHours())}${pad2(d.getMinutes())}`;
  return `/${day}/${minute}/${minute}${pad2(d.getSeconds())}-${id}`;
}
