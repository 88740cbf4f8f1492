/**
 * @module test/support/shared
 * Locates ../shared, the external test suites read in place. In CI a missing suite is a
 * failure, never a skip.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root folder. */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** ../shared beside the project (or WARDEN_SHARED). */
export const sharedDir = resolve(process.env.WARDEN_SHARED ?? resolve(projectRoot, '../shared'));

/**
 * The path of a suite inside ../shared, or null when it is absent outside CI (the caller
 * reports it as skipped and says so). In CI an absent suite throws.
 */
export function sharedSuite(relative: string): string | null {
  const path = resolve(sharedDir, relative);
  if (existsSync(path)) return path;
  if (process.env.CI === 'true') throw new Error(`external suite missing in CI: ${path}`);
  return null;
}

/** A JSON string (UTF-8 text) as the bytes it encodes, one char per byte. */
export function utf8ToBytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}
