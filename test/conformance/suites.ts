/**
 * @module test/conformance/suites
 * The external suites `npm test` runs, each printing its own count line. A suite that is
 * absent outside CI is reported as skipped, never silently; in CI absence is a failure.
 */
import { runSecrules } from './secrules.js';
import { runCrsLoad } from './crs-load.js';
import { libinjectionOk, reportLines, runLibinjection, summaryLine } from './libinjection.js';
import { reportLines as crsReportLines, runCrs, summaryLine as crsSummaryLine, WORDPRESS_SUITE, type CrsResult } from './crs.js';
import { runCrsHttp } from './crs-http.js';
import { fail2banOk, runFail2ban, summaryLine as fail2banSummaryLine } from './fail2ban.js';

export interface StageResult {
  ok: boolean;
  summary: string;
}

/** A go-ftw run as a stage: its failures by rule, then its count line with the time. */
function crsStage(name: string, r: CrsResult | null): StageResult {
  if (r === null) return { ok: true, summary: `${name}: suite absent, skipped (not in CI)` };
  for (const line of crsReportLines(r, false)) console.log(line);
  return { ok: r.failed === 0 && r.faults.length === 0, summary: `${crsSummaryLine(r)} (${r.seconds.toFixed(0)} s)` };
}

export const conformanceSuites: Record<string, () => StageResult | Promise<StageResult>> = {
  'crs-load': async () => {
    const results = await runCrsLoad();
    const parts: string[] = [];
    let ok = true;
    for (const r of results) {
      if ('absent' in r) {
        parts.push(`${r.name} absent (skipped, not in CI)`);
        continue;
      }
      const summary = r.output.find((l) => /rules \(/.test(l)) ?? '';
      if (!r.ok) {
        ok = false;
        for (const l of r.output.slice(0, 30)) console.log(`  ${l}`);
      }
      parts.push(`${r.name} ${r.ok ? `0 errors (${summary})` : 'FAILED'}`);
    }
    return { ok, summary: `crs-load: ${parts.join('; ')}` };
  },
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
  crs: async () => crsStage('crs', await runCrs()),
  // The same suite through `warden start` over real HTTP, rule ids read from its error log.
  'crs-http': async () => crsStage('crs (http)', await runCrsHttp()),
  // The WordPress plugin's own suite, the plugin loaded in CRS's order.
  wordpress: async () => crsStage('wordpress', await runCrs({ suite: WORDPRESS_SUITE })),
  fail2ban: () => {
    const r = runFail2ban();
    if (r === null) return { ok: true, summary: 'fail2ban: suite absent, skipped (not in CI)' };
    for (const f of r.failures.slice(0, 30)) console.log(`  FAIL ${f}`);
    for (const [what, why] of r.skips) console.log(`  skipped ${what}: ${why}`);
    return { ok: fail2banOk(r), summary: fail2banSummaryLine(r) };
  },
};
