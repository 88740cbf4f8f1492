/**
 * @module proxy/types
 * Small shapes shared by the proxy's parts: counters, the ban check, the operational log,
 * and what a request needs from the process around it.
 */
import type { Socket } from 'node:net';

/** Counters of one proxy process (a worker), for tests, metrics and `warden start` output. */
export interface ProxyStats {
  /** Requests that became transactions (WebSocket upgrades included). */
  requests: number;
  /** Requests (and tunnels) in flight now. */
  active: number;
  /** Answered by a rule (deny, drop, redirect). */
  interrupted: number;
  /** Refused before the engine: parser errors, framing, bans. */
  rejected: number;
  /** 502/504 answers and broken upstream responses. */
  upstreamErrors: number;
  websockets: number;
  /** The most request body bytes held back at once while phase 2 decided. */
  requestBodyHeldMax: number;
  /** The most response body bytes held back at once while phase 4 decided. */
  responseBodyHeldMax: number;
}

export function newStats(): ProxyStats {
  return {
    requests: 0,
    active: 0,
    interrupted: 0,
    rejected: 0,
    upstreamErrors: 0,
    websockets: 0,
    requestBodyHeldMax: 0,
    responseBodyHeldMax: 0,
  };
}

/** The ban engine's answer to "is this client banned?" (src/jail feeds it; cheap, in memory). */
export interface BanList {
  has(address: string): boolean;
  /** How a banned client is refused: 403 (default) or by closing the connection unanswered. */
  readonly answer?: 'forbidden' | 'close';
}

/** Operational messages (upstream failures, reloads, TLS); not the audit or access log. */
export type ProxyLog = (level: 'error' | 'warn' | 'info', message: string) => void;

/** What a request needs from the proxy process it runs in. */
export interface ExchangeHost {
  readonly stats: ProxyStats;
  /** True while shutting down: responses say `Connection: close`. */
  readonly draining: boolean;
  readonly bans: BanList | null;
  readonly log: ProxyLog;
  /** Connections `clientError` already answered and logged. */
  readonly rejectedSockets: WeakSet<Socket>;
}

/** The listener a request arrived on. */
export interface ListenerInfo {
  readonly name: string;
  readonly proto: 'http' | 'https';
}
