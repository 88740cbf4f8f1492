/**
 * @module proxy/rule-snapshot
 * The rule files as one value. The primary reads every rule file once (following Includes
 * and globs) while parsing, and sends what it read to the workers, which compile from that
 * copy: every worker runs exactly the rules the primary checked, even if a file changes
 * while they load. (Data files of @pmFromFile and similar operators are still read by each
 * worker from disk: the engine reads them itself.)
 */
import { fileSystemSource, type RuleSource } from '../seclang/parser.js';

/** What the rule loader read, as plain data (sent to workers over IPC). */
export interface RuleSnapshot {
  readonly files: Record<string, string | { readonly error: string; readonly code: string | null }>;
  readonly globs: Record<string, string[]>;
  readonly directories: Record<string, boolean>;
  readonly listings: Record<string, string[]>;
}

/** A RuleSource that reads the file system and remembers every answer. */
export function recordingSource(): { source: RuleSource; snapshot: RuleSnapshot } {
  const snapshot = { files: {}, globs: {}, directories: {}, listings: {} } as {
    files: Record<string, string | { error: string; code: string | null }>;
    globs: Record<string, string[]>;
    directories: Record<string, boolean>;
    listings: Record<string, string[]>;
  };
  const source: RuleSource = {
    readFile(path) {
      try {
        const text = fileSystemSource.readFile(path);
        snapshot.files[path] = text;
        return text;
      } catch (err) {
        snapshot.files[path] = { error: (err as Error).message, code: (err as NodeJS.ErrnoException).code ?? null };
        throw err;
      }
    },
    glob(pattern) {
      return (snapshot.globs[pattern] = fileSystemSource.glob(pattern));
    },
    isDirectory(path) {
      return (snapshot.directories[path] = fileSystemSource.isDirectory(path));
    },
    listDirectory(path) {
      return (snapshot.listings[path] = fileSystemSource.listDirectory(path));
    },
  };
  return { source, snapshot };
}

/** A RuleSource answering from a snapshot (the file system for anything it did not record). */
export function snapshotSource(snapshot: RuleSnapshot): RuleSource {
  return {
    readFile(path) {
      const f = snapshot.files[path];
      if (f === undefined) return fileSystemSource.readFile(path);
      if (typeof f === 'string') return f;
      throw Object.assign(new Error(f.error), { code: f.code ?? undefined });
    },
    glob: (pattern) => snapshot.globs[pattern] ?? fileSystemSource.glob(pattern),
    isDirectory: (path) => snapshot.directories[path] ?? fileSystemSource.isDirectory(path),
    listDirectory: (path) => snapshot.listings[path] ?? fileSystemSource.listDirectory(path),
  };
}
