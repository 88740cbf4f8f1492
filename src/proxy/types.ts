/**
 * @module proxy/types
 * Small shapes shared by the proxy's parts: counters, the ban check, the operational log,
 * and what a request needs from the process around it.
 */
import type { Socket } from 'node:net';
import type { Transaction } from '../engine/transaction.js';

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

/**
 * What the proxy reports for metrics, once per request (`warden start` wires the admin's
 * recorder here). Called on the request's own turn: it must be cheap and must not throw.
 */
export interface ProxyObserver {
  /** A transaction is finished: phase 5 ran and its log record was written. */
  exchangeDone(exchange: FinishedExchange): void;
  /**
   * A request refused before it became a transaction: by the ban list (`banned`), or for
   * its framing. Status 0: the connection was closed unanswered. `client`: the real client.
   */
  refused(listener: string, status: number, banned: boolean, client: string): void;
}

/** A finished request as the observer sees it (the proxy's Exchange is one). */
export interface FinishedExchange {
  readonly tx: Transaction;
  readonly listener: ListenerInfo;
  /** The route that matched (`host/prefix`, `*` for any host), or null. */
  readonly routeName: string | null;
  /** Its upstream's name, or null. */
  readonly upstreamName: string | null;
  /** The status the client got; 0 when it got none (it went away, or a drop). */
  readonly sentStatus: number;
  /** Wall time of each WAF phase, ms (waiting for the store included); -1: the phase was not run. */
  readonly phase1Ms: number;
  readonly phase2Ms: number;
  readonly phase3Ms: number;
  readonly phase4Ms: number;
  readonly phase5Ms: number;
  /** The request was sent to the upstream (whatever came of it). */
  readonly forwarded: boolean;
  /** From sending it upstream to the upstream's response head, ms; -1: no head came. */
  readonly upstreamMs: number;
}

/** What a request needs from the proxy process it runs in. */
export interface ExchangeHost {
  readonly stats: ProxyStats;
  /** Where finished and refused requests are reported for metrics, or null. */
  readonly observer: ProxyObserver | null;
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
