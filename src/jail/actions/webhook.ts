/**
 * @module jail/actions/webhook
 * Tells another system about bans: a JSON POST per ban and unban. A non-2xx answer or no
 * answer within the timeout is a failure, which the ban manager retries and reports.
 */
import type { BanAction, BanRecord } from '../types.js';

export interface WebhookOptions {
  readonly name?: string;
  readonly url: string;
  /** Extra headers (Authorization …). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export class WebhookAction implements BanAction {
  readonly name: string;

  constructor(private readonly options: WebhookOptions) {
    this.name = options.name ?? 'webhook';
    const u = new URL(options.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`webhook URL must be http(s), got ${options.url}`);
  }

  private async post(event: 'ban' | 'unban', ban: BanRecord): Promise<void> {
    const body = JSON.stringify({
      event,
      jail: ban.jail,
      address: ban.key,
      since: new Date(ban.since).toISOString(),
      until: ban.until === 0 ? null : new Date(ban.until).toISOString(),
      count: ban.count,
      reason: ban.reason,
    });
    const res = await fetch(this.options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.options.headers },
      body,
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`webhook ${this.options.url} answered ${res.status}`);
  }

  ban(ban: BanRecord): Promise<void> {
    return this.post('ban', ban);
  }

  unban(ban: BanRecord): Promise<void> {
    return this.post('unban', ban);
  }
}
