/**
 * @module audit/log-file
 * An append-only log file that never blocks the request path: records are queued in memory
 * and written by an asynchronous loop; a slow disk fills the queue up to a bound, after
 * which records are dropped and counted; a failed write (disk full, permissions) is counted
 * and reported once, and writing resumes by itself when the file works again.
 *
 * Whole records with several writer processes: the file is opened with O_APPEND and every
 * write(2) carries only whole records (one record, or several concatenated, never a part of
 * one unless the kernel reports a short write). On Linux local file systems (ext4, xfs,
 * btrfs, tmpfs) an O_APPEND write holds the inode's lock for its whole length, so writes from
 * several processes land one after the other, whatever their size — PIPE_BUF limits pipes,
 * not regular files. This is the lock ModSecurity v2 takes around a serial audit record,
 * held by the kernel for exactly one write. A short write happens only when the disk fills
 * up (the rest is written, or counted as lost); network file systems (NFS) do not make
 * O_APPEND atomic at all — give each process its own file there, or use the concurrent
 * audit log type.
 *
 * Rotation: `reopen()` (SIGUSR1 after logrotate renamed the file) opens the path again.
 * With a size limit, the writer that sees the file pass it renames `file` → `file.1`
 * (`file.1` → `file.2` …, keeping N) under a lock folder `file.rotating`, so two processes
 * never rotate the same file twice; the others notice the new file by its inode and reopen.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface LogFileOptions {
  /** The file, or `-` for standard error. */
  readonly path: string;
  /** Permissions of a file this writer creates (applied exactly, not narrowed by the umask). */
  readonly mode: number;
  /** Rotate when the file reaches this many bytes (0: never). */
  readonly rotateBytes: number;
  /** Rotated files kept (`file.1` … `file.N`). */
  readonly rotateKeep: number;
  /** Bytes queued at most; records beyond are dropped and counted. */
  readonly maxQueuedBytes: number;
  /** Where problems are reported (once per outage). */
  readonly report: (message: string) => void;
}

/** Records written together in one write(2) at most (a larger record goes alone). */
const MAX_BATCH_BYTES = 1 << 20;
/** After a failed open, new opens are tried at most this often (a missing folder stays missing). */
const REOPEN_BACKOFF_MS = 1000;
/** How often a writer checks whether another process rotated the file. */
const ROTATION_CHECK_MS = 1000;
/** A rotation lock older than this was left by a crashed process. */
const STALE_LOCK_MS = 30_000;

function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

export class LogFile {
  readonly path: string;
  /** Records lost because a write or an open failed. */
  writeErrors: number;
  /** Records dropped because the queue was full (the disk could not keep up). */
  dropped: number;
  private readonly options: LogFileOptions;
  private handle: FileHandle | null;
  private inode: number;
  private queue: Buffer[];
  private queuedBytes: number;
  private running: boolean;
  private reopenWanted: boolean;
  private closed: boolean;
  /** Date.now() of the last failed open, 0 when the last open worked. */
  private openFailedAt: number;
  private failureReported: boolean;
  private dropReported: boolean;
  private lastRotationCheck: number;
  private waiters: Array<() => void>;

  constructor(options: LogFileOptions) {
    this.path = options.path;
    this.writeErrors = 0;
    this.dropped = 0;
    this.options = options;
    this.handle = null;
    this.inode = 0;
    this.queue = [];
    this.queuedBytes = 0;
    this.running = false;
    this.reopenWanted = false;
    this.closed = false;
    this.openFailedAt = 0;
    this.failureReported = false;
    this.dropReported = false;
    this.lastRotationCheck = 0;
    this.waiters = [];
  }

  /** Queues one whole record. Returns false when it was dropped (queue full, or closed). */
  write(record: Buffer): boolean {
    if (this.closed || this.queuedBytes + record.length > this.options.maxQueuedBytes) {
      this.dropped++;
      if (!this.dropReported && !this.closed) {
        this.dropReported = true;
        this.options.report(`warden: log ${this.path}: the disk is not keeping up; dropping records (counted) until the queue drains`);
      }
      return false;
    }
    this.queue.push(record);
    this.queuedBytes += record.length;
    this.start();
    return true;
  }

  /** Resolves when everything queued so far has been written (or counted as lost). */
  flush(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Writes what is queued, then opens the path again (after a rename by logrotate). */
  async reopen(): Promise<void> {
    if (this.closed) return;
    this.reopenWanted = true;
    // An administrator who fixed the file expects the next open now, not after the backoff.
    this.openFailedAt = 0;
    this.start();
    await this.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.closeHandle();
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => {
      this.run()
        .catch((err: unknown) => this.failed(err, 0))
        .finally(() => {
          this.running = false;
          if (this.queue.length > 0 || this.reopenWanted) this.start();
          else {
            const waiters = this.waiters;
            this.waiters = [];
            for (const w of waiters) w();
          }
        });
    });
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0 || this.reopenWanted) {
      if (this.reopenWanted) {
        this.reopenWanted = false;
        await this.closeHandle();
        if (this.path !== '-') await this.open();
      }
      if (this.queue.length === 0) break;
      if (this.handle === null && this.path !== '-' && !(await this.open())) {
        this.failed(null, this.take(Number.POSITIVE_INFINITY).length);
        continue;
      }
      const batch = this.take(MAX_BATCH_BYTES);
      try {
        await this.writeAll(batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch));
        if (this.failureReported) {
          this.failureReported = false;
          this.options.report(`warden: log ${this.path}: writing again (${this.writeErrors} records lost so far)`);
        }
      } catch (err) {
        this.failed(err, batch.length);
        // The next batch opens the file again: it may have been replaced or repaired.
        await this.closeHandle();
      }
      if (this.options.rotateBytes > 0 && this.handle !== null) await this.checkRotation();
    }
    if (this.queue.length === 0) this.dropReported = false;
  }

  /** Takes whole records from the queue, up to `limit` bytes (at least one). */
  private take(limit: number): Buffer[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length) {
      const len = (this.queue[n] as Buffer).length;
      if (n > 0 && bytes + len > limit) break;
      bytes += len;
      n++;
    }
    this.queuedBytes -= bytes;
    return this.queue.splice(0, n);
  }

  private async writeAll(data: Buffer): Promise<void> {
    if (this.path === '-') {
      await new Promise<void>((resolve, reject) => process.stderr.write(data, (err) => (err ? reject(err) : resolve())));
      return;
    }
    const h = this.handle as FileHandle;
    let offset = 0;
    // One write(2) for the batch; only a short write (disk filling up) needs a second one.
    while (offset < data.length) {
      const { bytesWritten } = await h.write(data, offset, data.length - offset, null);
      if (bytesWritten <= 0) throw new Error('the file accepted no bytes');
      offset += bytesWritten;
    }
  }

  /** Opens (creating with the configured mode) for appending. False when it failed (counted by the caller). */
  private async open(): Promise<boolean> {
    if (this.openFailedAt > 0 && Date.now() - this.openFailedAt < REOPEN_BACKOFF_MS) return false;
    const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL } = constants;
    try {
      let handle: FileHandle | null = null;
      // Another process may rename the file (rotation) between the two opens: then the
      // next round creates it. A few rounds, so a folder that vanished still fails.
      for (let round = 0; handle === null; round++) {
        try {
          handle = await fsp.open(this.path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, this.options.mode);
          // We created it: give it exactly the configured mode (the umask may have narrowed it).
          await handle.chmod(this.options.mode).catch(() => undefined);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          try {
            handle = await fsp.open(this.path, O_WRONLY | O_APPEND);
          } catch (again) {
            if ((again as NodeJS.ErrnoException).code !== 'ENOENT' || round >= 3) throw again;
          }
        }
      }
      this.inode = (await handle.stat()).ino;
      this.handle = handle;
      this.openFailedAt = 0;
      this.lastRotationCheck = Date.now();
      return true;
    } catch (err) {
      this.openFailedAt = Date.now();
      this.failed(err, 0);
      return false;
    }
  }

  private async closeHandle(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h !== null) await h.close().catch(() => undefined);
  }

  private failed(err: unknown, records: number): void {
    this.writeErrors += records;
    if (err === null || this.failureReported) return;
    this.failureReported = true;
    this.options.report(
      `warden: cannot write log ${this.path}: ${errorCode(err)}; requests go on, lost records are counted (writeErrors) and not reported again until writing works`,
    );
  }

  /** Rotates when the file passed the size limit; reopens when another process rotated it. */
  private async checkRotation(): Promise<void> {
    const h = this.handle as FileHandle;
    try {
      const size = (await h.stat()).size;
      if (size >= this.options.rotateBytes) {
        await this.rotate();
        return;
      }
      const now = Date.now();
      if (now - this.lastRotationCheck < ROTATION_CHECK_MS) return;
      this.lastRotationCheck = now;
      const current = await fsp.stat(this.path).catch(() => null);
      if (current === null || current.ino !== this.inode) await this.closeHandle();
    } catch (err) {
      this.failed(err, 0);
    }
  }

  private async rotate(): Promise<void> {
    const lock = `${this.path}.rotating`;
    if (!(await this.lock(lock))) {
      // Another process is rotating: look again soon, then follow it to the new file.
      this.lastRotationCheck = 0;
      return;
    }
    try {
      const st = await fsp.stat(this.path).catch(() => null);
      // Rotate only the file this writer has open, and only once: another process may have
      // rotated it while this one waited for the lock.
      if (st !== null && st.ino === this.inode && st.size >= this.options.rotateBytes) {
        for (const i of await this.rotatedIndexes()) {
          await fsp.rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(() => undefined);
        }
        await fsp.rename(this.path, `${this.path}.1`);
      }
    } finally {
      await fsp.rmdir(lock).catch(() => undefined);
    }
    await this.closeHandle();
    // The new file exists from now on, as log readers following the name expect.
    await this.open();
  }

  /**
   * The rotated files that move up one place (`file.1` … `file.(N-1)`), highest first. Read
   * from the folder, so a rotation keeping 1,000 files costs a rename per file that exists,
   * not a thousand, and the lock other writers wait for is held for milliseconds.
   */
  private async rotatedIndexes(): Promise<number[]> {
    const dir = dirname(this.path);
    const prefix = `${basename(this.path)}.`;
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    const found: number[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const digits = name.slice(prefix.length);
      if (!/^[1-9][0-9]{0,8}$/.test(digits)) continue;
      const i = Number(digits);
      if (i < this.options.rotateKeep) found.push(i);
    }
    return found.sort((a, b) => b - a);
  }

  /** A lock between processes: creating a folder either succeeds for one of them or fails. */
  private async lock(path: string): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fsp.mkdir(path);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
        const st = await fsp.stat(path).catch(() => null);
        if (st === null || Date.now() - st.mtimeMs < STALE_LOCK_MS) return false;
        await fsp.rmdir(path).catch(() => undefined);
      }
    }
    return false;
  }
}
