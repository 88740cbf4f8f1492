/**
 * @module jail/actions/batch
 * Gathers firewall changes made close together into one command (one `nft -f -`, one
 * `ipset restore`): restoring thousands of bans at start, or a burst of bans, costs one
 * process, not thousands. If the batch fails, its lines are applied one by one, so one bad
 * line does not lose the good ones.
 */

interface Pending {
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export class Batcher {
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param apply runs a script of lines (newline-terminated)
   * @param delayMs how long to gather lines
   */
  constructor(
    private readonly apply: (script: string) => Promise<unknown>,
    private readonly delayMs = 5,
  ) {}

  /** Queues a line; resolves when it has been applied. */
  add(line: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      this.timer ??= setTimeout(() => void this.flush(), this.delayMs);
    });
  }

  /** Applies what is queued now. */
  async flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.apply(`${batch.map((p) => p.line).join('\n')}\n`);
      for (const p of batch) p.resolve();
    } catch (err) {
      if (batch.length === 1) {
        (batch[0] as Pending).reject(err as Error);
        return;
      }
      for (const p of batch) await this.apply(`${p.line}\n`).then(p.resolve, p.reject);
    }
  }
}
