/**
 * @module admin/auth
 * Who may use the admin listener. With a token (admin.token, WARDEN_ADMIN_TOKEN): an
 * `Authorization: Bearer TOKEN` header, or HTTP Basic with the token as the password, so a
 * browser's own login prompt opens the dashboard. With admin.basicAuth: that user and
 * password. With neither (allowed only on a loopback address, config checks that): only
 * loopback peers, and only with a Host header naming this machine, so a web page the admin
 * visits cannot reach the API by rebinding its DNS name to 127.0.0.1.
 *
 * Secrets are compared as SHA-256 digests with timingSafeEqual: equal lengths, no early exit.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AdminConfig } from '../config/types.js';
import { parseIP, unmapIPv4 } from '../net/ipaddr.js';

export type AuthMode = 'token' | 'basic' | 'none';

/** The outcome of a check: let in, ask for credentials (401), or refuse (403, with why). */
export type AuthVerdict = { readonly ok: true } | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

export interface AdminAuth {
  readonly mode: AuthMode;
  check(req: IncomingMessage): AuthVerdict;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function same(a: Buffer, b: string): boolean {
  return timingSafeEqual(a, digest(b));
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string): boolean {
  const ip = parseIP(address);
  if (ip === null) return false;
  const v4 = ip.family === 4 ? ip : unmapIPv4(ip);
  if (v4 !== null) return v4.bytes[0] === 127;
  return ip.bytes.every((b, i) => (i === 15 ? b === 1 : b === 0));
}

/** The host name of a Host header: port removed, brackets of an IPv6 literal removed, lowercased. */
function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? h.length : h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

const OK: AuthVerdict = { ok: true };
const ASK: AuthVerdict = { ok: false, status: 401, reason: 'credentials required' };

/**
 * The check for an admin config.
 *
 * @example
 * const auth = adminAuth(config.admin);
 * const v = auth.check(req);
 * if (!v.ok) return answer(res, v.status, v.reason);
 */
export function adminAuth(config: Pick<AdminConfig, 'token' | 'basicAuth' | 'host'>): AdminAuth {
  const token = config.token !== null ? digest(config.token) : null;
  const user = config.basicAuth !== null ? digest(config.basicAuth.user) : null;
  const password = config.basicAuth !== null ? digest(config.basicAuth.password) : null;
  if (token === null && user === null) {
    const bound = config.host.toLowerCase();
    return {
      mode: 'none',
      check(req) {
        if (!isLoopbackAddress(req.socket.remoteAddress ?? '')) return { ok: false, status: 403, reason: 'no credentials are configured, so only this machine may connect' };
        const host = hostOf(req.headers.host ?? '');
        if (host !== 'localhost' && host !== bound && !isLoopbackAddress(host)) return { ok: false, status: 403, reason: `Host "${req.headers.host ?? ''}" is not this machine` };
        return OK;
      },
    };
  }
  return {
    mode: token !== null ? 'token' : 'basic',
    check(req) {
      const header = req.headers.authorization ?? '';
      const space = header.indexOf(' ');
      const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
      const value = space < 0 ? '' : header.slice(space + 1).trim();
      if (scheme === 'bearer' && token !== null) return same(token, value) ? OK : ASK;
      if (scheme === 'basic') {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon < 0) return ASK;
        const u = decoded.slice(0, colon);
        const p = decoded.slice(colon + 1);
        // Both are compared whatever the first gives, so the time says nothing about which failed.
        const tokenOk = token !== null && same(token, p);
        const userMatches = user !== null && same(user, u);
        const passwordMatches = password !== null && same(password, p);
        return tokenOk || (userMatches && passwordMatches) ? OK : ASK;
      }
      return ASK;
    },
  };
}
