/**
 * @module test/conformance/suites
 * The external suites `npm test` runs, each printing its own count line. A suite that is
 * absent outside CI is reported as skipped, never silently; in CI absence is a failure.
 */
import { runSecrules } from './secrules.js';
import { libinjectionOk, reportLines, runLibinjection, summaryLine } from './libinjection.js';

export interface StageResult {
  ok: boolean;
  summary: string;
}

export const conformanceSuites: Record<string, () => StageResult | Promise<StageResult>> = {
  secrules: () => {
    const r = runSecrules();
    if (r === null) return { ok: true, summary: 'secrules: suite absent, skipped (not in CI)' };
    for (const f of r.failures.slice(0, 30)) console.log(`  FAIL ${f}`);
    if (r.failures.length > 30) console.log(`  … ${r.failures.length - 30} more: npm run conformance:secrules -- --verbose`);
    for (const [what, why] of r.skippedReasons) console.log(`  skipped ${what}: ${why}`);
    return { ok: r.failed === 0, summary: `secrules: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped` };
  },
  libinjection: () => {
    const r = runLibinjection();
    if (r === null) return { ok: true, summary: 'libinjection: suite absent, skipped (not in CI)' };
    for (const line of reportLines(r, false)) console.log(line);
    return { ok: libinjectionOk(r), summary: summaryLine(r) };
  },
};
