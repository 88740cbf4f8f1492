/**
 * @module test/config/support
 * Writes warden.yaml files into a fresh temporary directory and resolves them as
 * `warden start` would, with that directory as the working directory (so errors name
 * `warden.yaml` the way a user who ran `warden start --config warden.yaml` sees them).
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { resolveStartConfig, type StartConfigResult, type WardenConfig } from '../../src/config/index.js';

export function tempDir(prefix = 'warden-config-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `files` (relative path → text) under a new temporary directory; returns it. */
export function writeTree(files: Readonly<Record<string, string>>): string {
  const dir = tempDir();
  for (const [rel, text] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return dir;
}

/** Resolves `--config warden.yaml` (written from `yaml`) plus `flags` in a new directory. */
export function resolveYaml(yaml: string, flags: readonly string[] = [], env: NodeJS.ProcessEnv = {}): { dir: string; result: StartConfigResult } {
  const dir = writeTree({ 'warden.yaml': yaml });
  return { dir, result: resolveStartConfig(['--config', 'warden.yaml', ...flags], env, dir) };
}

export function configOf(r: StartConfigResult): WardenConfig {
  if ('errors' in r) throw new Error(`expected a config, got errors:\n${r.errors.join('\n')}`);
  return r.config;
}

export function errorsOf(r: StartConfigResult): readonly string[] {
  if (!('errors' in r)) throw new Error('expected errors, got a config');
  return r.errors;
}
