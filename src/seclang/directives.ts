/**
 * @module seclang/directives
 * The table of SecLang directives Warden knows: how many arguments each takes (as
 * ModSecurity v2 declares them to Apache) and what their values may be. Directive names
 * are matched case-insensitively, as Apache does.
 */

/** How a directive's value is checked at load. */
export type ValueCheck =
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'integer'; readonly min?: number }
  | { readonly type: 'octal' }
  | { readonly type: 'any' };

export interface DirectiveSpec {
  /** The canonical spelling. */
  readonly name: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  /** Checks for the first argument (settings). */
  readonly value?: ValueCheck;
  /**
   * Set for directives Warden reads but does not act on; loading warns with this reason.
   * (ModSecurity features that make no sense in front of Node, or need data Warden lacks.)
   */
  readonly ignored?: string;
}

const onOff = { type: 'enum', values: ['On', 'Off'] } as const;
const anyValue = { type: 'any' } as const;
const integer = { type: 'integer', min: 0 } as const;

function spec(name: string, minArgs: number, maxArgs: number, extra: Partial<DirectiveSpec> = {}): DirectiveSpec {
  return { name, minArgs, maxArgs, ...extra };
}

const ITERATE = Number.POSITIVE_INFINITY;

const table: readonly DirectiveSpec[] = [
  // Rules
  spec('SecRule', 2, 3),
  spec('SecAction', 1, 1),
  spec('SecMarker', 1, 1),
  spec('SecDefaultAction', 1, 1),
  spec('SecRuleRemoveById', 1, ITERATE),
  spec('SecRuleRemoveByTag', 1, ITERATE),
  spec('SecRuleRemoveByMsg', 1, ITERATE),
  spec('SecRuleUpdateTargetById', 2, 3),
  spec('SecRuleUpdateTargetByTag', 2, 3),
  spec('SecRuleUpdateTargetByMsg', 2, 3),
  spec('SecRuleUpdateActionById', 2, 2),
  spec('Include', 1, 1),
  spec('IncludeOptional', 1, 1),
  // Engine
  spec('SecRuleEngine', 1, 1, { value: { type: 'enum', values: ['On', 'Off', 'DetectionOnly'] } }),
  spec('SecRequestBodyAccess', 1, 1, { value: onOff }),
  spec('SecRequestBodyLimit', 1, 1, { value: integer }),
  spec('SecRequestBodyNoFilesLimit', 1, 1, { value: integer }),
  spec('SecRequestBodyInMemoryLimit', 1, 1, { value: integer }),
  spec('SecRequestBodyLimitAction', 1, 1, { value: { type: 'enum', values: ['Reject', 'ProcessPartial'] } }),
  spec('SecRequestBodyJsonDepthLimit', 1, 1, { value: integer }),
  spec('SecArgumentsLimit', 1, 1, { value: integer }),
  spec('SecResponseBodyAccess', 1, 1, { value: onOff }),
  spec('SecResponseBodyMimeType', 1, ITERATE),
  spec('SecResponseBodyMimeTypesClear', 0, 0),
  spec('SecResponseBodyLimit', 1, 1, { value: integer }),
  spec('SecResponseBodyLimitAction', 1, 1, { value: { type: 'enum', values: ['Reject', 'ProcessPartial'] } }),
  spec('SecComponentSignature', 1, 1),
  spec('SecServerSignature', 1, 1, { ignored: 'Warden does not rewrite the Server header of responses' }),
  spec('SecCollectionTimeout', 1, 1, { value: integer }),
  spec('SecArgumentSeparator', 1, 1, { value: anyValue }),
  spec('SecCookieFormat', 1, 1, { value: { type: 'enum', values: ['0', '1'] } }),
  spec('SecCookiev0Separator', 1, 1),
  spec('SecPcreMatchLimit', 1, 1, { value: integer }),
  spec('SecPcreMatchLimitRecursion', 1, 1, { value: integer }),
  spec('SecUploadFileLimit', 1, 1, { value: integer }),
  spec('SecUploadFileMode', 1, 1, { value: { type: 'octal' } }),
  spec('SecUploadDir', 1, 1),
  spec('SecUploadKeepFiles', 1, 1, { value: { type: 'enum', values: ['On', 'Off', 'RelevantOnly'] } }),
  spec('SecTmpSaveUploadedFiles', 1, 1, { value: onOff }),
  spec('SecTmpDir', 1, 1),
  spec('SecDataDir', 1, 1),
  spec('SecWebAppId', 1, 1),
  spec('SecSensorId', 1, 1),
  spec('SecUnicodeMapFile', 1, 2),
  spec('SecUnicodeCodePage', 1, 1, { value: integer }),
  spec('SecXmlExternalEntity', 1, 1, { value: onOff }),
  spec('SecParseXmlIntoArgs', 1, 1, { value: { type: 'enum', values: ['On', 'Off', 'OnlyArgs'] } }),
  spec('SecStatusEngine', 1, 1, { value: onOff, ignored: 'Warden never reports status to a third party' }),
  spec('SecInterceptOnError', 1, 1, { value: onOff }),
  spec('SecCacheTransformations', 1, 2, { value: onOff }),
  spec('SecRuleInheritance', 1, 1, { value: onOff, ignored: 'Warden has one rule context; there is nothing to inherit' }),
  spec('SecRulePerfTime', 1, 1, { value: integer }),
  spec('SecHashEngine', 1, 1, { value: onOff, ignored: 'HMAC token signing of links is not provided' }),
  spec('SecHashKey', 2, 2, { ignored: 'HMAC token signing of links is not provided' }),
  spec('SecHashParam', 1, 1, { ignored: 'HMAC token signing of links is not provided' }),
  spec('SecHashMethodRx', 2, 2, { ignored: 'HMAC token signing of links is not provided' }),
  spec('SecHashMethodPm', 2, 2, { ignored: 'HMAC token signing of links is not provided' }),
  spec('SecGeoLookupDB', 1, 1, { ignored: 'Warden ships no GeoIP support' }),
  spec('SecGsbLookupDB', 1, 1, { ignored: 'Google Safe Browsing lookups are not provided' }),
  spec('SecHttpBlKey', 1, 1, { ignored: '@rbl lookups are not provided' }),
  spec('SecContentInjection', 1, 1, { value: onOff, ignored: 'content injection (prepend/append) is not provided' }),
  spec('SecStreamInBodyInspection', 1, 1, { value: onOff, ignored: 'STREAM_INPUT_BODY is not provided' }),
  spec('SecStreamOutBodyInspection', 1, 1, { value: onOff, ignored: 'STREAM_OUTPUT_BODY is not provided' }),
  spec('SecDisableBackendCompression', 1, 1, { value: onOff, ignored: 'Warden does not change upstream content encoding' }),
  spec('SecConnEngine', 1, 1, { ignored: 'connection-level limits are configured in warden.yaml, not SecLang' }),
  spec('SecConnReadStateLimit', 1, 2, { ignored: 'connection-level limits are configured in warden.yaml, not SecLang' }),
  spec('SecConnWriteStateLimit', 1, 2, { ignored: 'connection-level limits are configured in warden.yaml, not SecLang' }),
  spec('SecReadStateLimit', 1, 2, { ignored: 'connection-level limits are configured in warden.yaml, not SecLang' }),
  spec('SecWriteStateLimit', 1, 2, { ignored: 'connection-level limits are configured in warden.yaml, not SecLang' }),
  spec('SecChrootDir', 1, 1, { ignored: 'Warden does not chroot' }),
  spec('SecGuardianLog', 1, 2, { ignored: 'the guardian log is not provided' }),
  spec('SecRequestEncoding', 1, 1, { ignored: 'deprecated in ModSecurity v2 and without effect' }),
  spec('SecRemoteRules', 2, 3, { ignored: 'Warden does not download rules at load time' }),
  spec('SecRemoteRulesFailAction', 1, 1, { ignored: 'Warden does not download rules at load time' }),
  // Logging
  spec('SecAuditEngine', 1, 1, { value: { type: 'enum', values: ['On', 'Off', 'RelevantOnly'] } }),
  spec('SecAuditLog', 1, 1),
  spec('SecAuditLog2', 1, 1),
  spec('SecAuditLogParts', 1, 1),
  spec('SecAuditLogType', 1, 1, { value: { type: 'enum', values: ['Serial', 'Concurrent', 'HTTPS'] } }),
  spec('SecAuditLogFormat', 1, 1, { value: { type: 'enum', values: ['Native', 'JSON'] } }),
  spec('SecAuditLogStorageDir', 1, 1),
  spec('SecAuditLogRelevantStatus', 1, 1),
  spec('SecAuditLogDirMode', 1, 1),
  spec('SecAuditLogFileMode', 1, 1),
  spec('SecDebugLog', 1, 1),
  spec('SecDebugLogLevel', 1, 1, { value: { type: 'integer', min: 0 } }),
];

const byLowerName = new Map(table.map((s) => [s.name.toLowerCase(), s]));

/** The spec of a directive name as written (any case), or undefined for an unknown one. */
export function directiveSpec(name: string): DirectiveSpec | undefined {
  return byLowerName.get(name.toLowerCase());
}

/** Every known directive name, for suggestions in errors. */
export function directiveNames(): readonly string[] {
  return table.map((s) => s.name);
}

/**
 * Checks a setting's value; returns the reason it is wrong, or null. Enum values are
 * matched case-insensitively (Apache and ModSecurity accept `on`, `ON` …).
 */
export function checkValue(check: ValueCheck, value: string): string | null {
  switch (check.type) {
    case 'enum':
      return check.values.some((v) => v.toLowerCase() === value.toLowerCase())
        ? null
        : `expected one of ${check.values.join(', ')}, got "${value}"`;
    case 'integer':
      if (!/^\d+$/.test(value)) return `expected a whole number, got "${value}"`;
      if (check.min !== undefined && Number(value) < check.min) return `expected at least ${check.min}, got ${value}`;
      return null;
    case 'octal':
      return /^0?[0-7]{3}$/.test(value) ? null : `expected an octal file mode such as 0600, got "${value}"`;
    case 'any':
      return null;
  }
}

/** The closest known names to a misspelt one (edit distance ≤ 3), for "did you mean". */
export function suggest(name: string, candidates: readonly string[]): string | null {
  const lower = name.toLowerCase();
  let best: string | null = null;
  let bestDistance = 4;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] as number;
}
