/**
 * @module audit/concurrent
 * ModSecurity's concurrent audit log: each record in its own file under the storage folder
 * (`YYYYMMDD/YYYYMMDD-HHMM/YYYYMMDD-HHMMSS-ID`), and one line per record in the index file
 * (SecAuditLog, and SecAuditLog2 when set), written only once the entry file is complete so
 * a reader of the index always finds the whole file. Files are written one after another by
 * an asynchronous loop with a bounded queue, like every other log (see audit/log-file).
 */
import { createHash } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { LogFile } from './log-file.js';

export interface ConcurrentAuditLogOptions {
  readonly storageDir: string;
  readonly fileMode: number;
  readonly dirMode: number;
  readonly maxQueuedBytes: number;
  /** Index files (SecAuditLog, SecAuditLog2). */
  readonly indexes: readonly LogFile[];
  readonly report: (message: string) => void;
}

interface Job {
  /** Path below the storage folder, starting with `/`. */
  readonly file: string;
  readonly data: Buffer;
  /** The index line, given the entry's size and MD5. */
  readonly indexLine: (size: number, md5: string) => string;
}

/** Folders known to exist; forgotten now and then so a deleted folder is made again. */
const MAX_KNOWN_DIRS = 64;

export class ConcurrentAuditLog {
  writeErrors: number;
  dropped: number;
  private readonly options: ConcurrentAuditLogOptions;
  private queue: Job[];
  private queuedBytes: number;
  private running: boolean;
  private failureReported: boolean;
  private dropReported: boolean;
  private readonly knownDirs: Set<string>;
  private waiters: Array<() => void>;

  constructor(options: ConcurrentAuditLogOptions) {
    this.writeErrors = 0;
    this.dropped = 0;
    this.options = options;
    this.queue = [];
    this.queuedBytes = 0;
    this.running = false;
    this.failureReported = false;
    this.dropReported = false;
    this.knownDirs = new Set();
    this.waiters = [];
  }

  /** Queues one entry. Returns false when it was dropped (queue full). */
  write(file: string, data: Buffer, indexLine: (size: number, md5: string) => string): boolean {
    if (this.queuedBytes + data.length > this.options.maxQueuedBytes) {
      this.dropped++;
      if (!this.dropReported) {
        this.dropReported = true;
        this.options.report(`warden: audit storage ${this.options.storageDir}: the disk is not keeping up; dropping records (counted)`);
      }
      return false;
    }
    this.queue.push({ file, data, indexLine });
    this.queuedBytes += data.length;
    this.start();
    return true;
  }

  flush(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => {
      void this.run().finally(() => {
        this.running = false;
        if (this.queue.length > 0) this.start();
        else {
          this.dropReported = false;
          const waiters = this.waiters;
          this.waiters = [];
          for (const w of waiters) w();
        }
      });
    });
  }

  private async run(): Promise<void> {
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
      this.queuedBytes -= job.data.length;
      const path = this.options.storageDir + job.file;
      try {
        await this.ensureDir(dirname(path));
        await this.writeEntry(path, job.data);
      } catch (err) {
        this.writeErrors++;
        if (!this.failureReported) {
          this.failureReported = true;
          this.options.report(
            `warden: cannot write audit entry ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; requests go on, lost records are counted (writeErrors)`,
          );
        }
        continue;
      }
      this.failureReported = false;
      const line = Buffer.from(job.indexLine(job.data.length, createHash('md5').update(job.data).digest('hex')), 'latin1');
      for (const index of this.options.indexes) index.write(line);
    }
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    const { dirMode } = this.options;
    const first = await fsp.mkdir(dir, { recursive: true, mode: dirMode });
    if (first !== undefined) {
      // Give every folder made here exactly SecAuditLogDirMode (mkdir's mode is narrowed by the umask).
      for (let d = dir; d.length >= first.length; d = dirname(d)) {
        await fsp.chmod(d, dirMode).catch(() => undefined);
        if (d === first) break;
      }
    }
    if (this.knownDirs.size >= MAX_KNOWN_DIRS) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  private async writeEntry(path: string, data: Buffer): Promise<void> {
    const { O_WRONLY, O_CREAT, O_TRUNC } = constants;
    const h = await fsp.open(path, O_WRONLY | O_CREAT | O_TRUNC, this.options.fileMode);
    try {
      await h.chmod(this.options.fileMode).catch(() => undefined);
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await h.write(data, offset, data.length - offset, null);
        if (bytesWritten <= 0) throw new Error('the file accepted no bytes');
        offset += bytesWritten;
      }
    } finally {
      await h.close();
    }
  }
}
