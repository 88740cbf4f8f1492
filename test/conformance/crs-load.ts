/**
 * @module test/conformance/crs-load
 * Loads the OWASP CRS rule sets through `warden check-rules` exactly as a user would:
 * CRS v4 from ../shared/crs (with crs-setup.conf.example) and Debian's modsecurity-crs 3.3.4
 * (/usr/share/modsecurity-crs, installed by .ci/run). Each must load with zero errors.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { main, type Io } from '../../src/cli/main.js';
import { sharedSuite } from '../support/shared.js';

export interface LoadResult {
  readonly name: string;
  readonly ok: boolean;
  readonly output: string[];
}

async function checkRules(name: string, files: string[]): Promise<LoadResult> {
  const output: string[] = [];
  const io: Io = { out: (l) => output.push(l), err: (l) => output.push(l), readStdin: () => '' };
  const code = await main(['check-rules', ...files], io);
  return { name, ok: code === 0, output };
}

export const DEBIAN_CRS = '/usr/share/modsecurity-crs/owasp-crs.load';

/** Null entries are rule sets absent outside CI. */
export async function runCrsLoad(): Promise<Array<LoadResult | { name: string; absent: true }>> {
  const out: Array<LoadResult | { name: string; absent: true }> = [];
  const crs = sharedSuite('crs');
  if (crs === null) out.push({ name: 'CRS v4 (../shared/crs)', absent: true });
  else out.push(await checkRules('CRS v4 (../shared/crs)', [join(crs, 'crs-setup.conf.example'), join(crs, 'rules/*.conf')]));
  if (existsSync(DEBIAN_CRS)) out.push(await checkRules('CRS 3.3.4 (Debian modsecurity-crs)', [DEBIAN_CRS]));
  else if (process.env.CI === 'true') throw new Error(`Debian's modsecurity-crs is missing in CI: ${DEBIAN_CRS}`);
  else out.push({ name: 'CRS 3.3.4 (Debian modsecurity-crs)', absent: true });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await runCrsLoad()) {
    console.log(`${r.name}: ${'absent' in r ? 'absent, skipped' : r.ok ? 'loaded' : 'FAILED'}`);
    if (!('absent' in r)) for (const l of r.output) console.log(`  ${l}`);
  }
}
