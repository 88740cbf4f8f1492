/**
 * @module engine/config
 * The engine settings SecLang directives set (SecRuleEngine, SecRequestBodyLimit, …), with
 * Warden's defaults. Where ModSecurity v2's compiled-in default would surprise a user
 * (rule engine and request body access Off), Warden takes the value of ModSecurity's
 * recommended configuration instead, and the README says so.
 */
import { tmpdir } from 'node:os';
import { compileRegex, type CompiledRegex } from './regex/index.js';
import type { SettingDirective } from '../seclang/parser.js';

export type EngineMode = 'On' | 'Off' | 'DetectionOnly';
export type BodyLimitAction = 'Reject' | 'ProcessPartial';
export type AuditEngineMode = 'On' | 'Off' | 'RelevantOnly';

export interface WafConfig {
  ruleEngine: EngineMode;
  requestBodyAccess: boolean;
  requestBodyLimit: number;
  requestBodyNoFilesLimit: number;
  requestBodyInMemoryLimit: number;
  requestBodyLimitAction: BodyLimitAction;
  requestBodyJsonDepthLimit: number;
  argumentsLimit: number;
  responseBodyAccess: boolean;
  responseBodyMimeTypes: string[];
  responseBodyLimit: number;
  responseBodyLimitAction: BodyLimitAction;
  componentSignatures: string[];
  collectionTimeout: number;
  argumentSeparator: string;
  cookieFormat: 0 | 1;
  cookieV0Separator: string | null;
  pcreMatchLimit: number;
  pcreMatchLimitRecursion: number;
  uploadFileLimit: number;
  uploadFileMode: number;
  uploadDir: string | null;
  uploadKeepFiles: 'On' | 'Off' | 'RelevantOnly';
  tmpSaveUploadedFiles: boolean;
  tmpDir: string;
  dataDir: string | null;
  webAppId: string;
  sensorId: string;
  unicodeMapFile: string | null;
  unicodeCodePage: number;
  xmlExternalEntity: boolean;
  parseXmlIntoArgs: 'On' | 'Off' | 'OnlyArgs';
  interceptOnError: boolean;
  cacheTransformations: boolean;
  auditEngine: AuditEngineMode;
  auditLog: string | null;
  auditLog2: string | null;
  auditLogParts: string;
  auditLogType: 'Serial' | 'Concurrent' | 'HTTPS';
  auditLogFormat: 'Native' | 'JSON';
  auditLogStorageDir: string | null;
  auditLogRelevantStatus: CompiledRegex | null;
  auditLogDirMode: number;
  auditLogFileMode: number;
  debugLog: string | null;
  debugLogLevel: number;
}

export function defaultConfig(): WafConfig {
  return {
    ruleEngine: 'On',
    requestBodyAccess: true,
    requestBodyLimit: 13107200,
    requestBodyNoFilesLimit: 131072,
    requestBodyInMemoryLimit: 131072,
    requestBodyLimitAction: 'Reject',
    requestBodyJsonDepthLimit: 512,
    argumentsLimit: 1000,
    responseBodyAccess: false,
    responseBodyMimeTypes: ['text/plain', 'text/html'],
    responseBodyLimit: 524288,
    responseBodyLimitAction: 'ProcessPartial',
    componentSignatures: [],
    collectionTimeout: 3600,
    argumentSeparator: '&',
    cookieFormat: 0,
    cookieV0Separator: null,
    pcreMatchLimit: 1500,
    pcreMatchLimitRecursion: 1500,
    uploadFileLimit: 100,
    uploadFileMode: 0o600,
    uploadDir: null,
    uploadKeepFiles: 'Off',
    tmpSaveUploadedFiles: false,
    tmpDir: tmpdir(),
    dataDir: null,
    webAppId: 'default',
    sensorId: '',
    unicodeMapFile: null,
    unicodeCodePage: 0,
    xmlExternalEntity: false,
    parseXmlIntoArgs: 'Off',
    interceptOnError: false,
    cacheTransformations: true,
    auditEngine: 'Off',
    auditLog: null,
    auditLog2: null,
    auditLogParts: 'ABCFHZ',
    auditLogType: 'Serial',
    auditLogFormat: 'Native',
    auditLogStorageDir: null,
    auditLogRelevantStatus: null,
    auditLogDirMode: 0o700,
    auditLogFileMode: 0o600,
    debugLog: null,
    debugLogLevel: 0,
  };
}

function canonical<T extends string>(value: string, values: readonly T[]): T {
  return values.find((v) => v.toLowerCase() === value.toLowerCase()) as T;
}

const on = (v: string): boolean => v.toLowerCase() === 'on';

/**
 * Applies one setting directive (already checked for arity and value by the parser).
 * Returns an error reason for a value only the engine can judge, or null.
 */
export function applySetting(config: WafConfig, d: SettingDirective): string | null {
  const v = d.args[0] ?? '';
  const n = Number(v);
  switch (d.name) {
    case 'SecRuleEngine':
      config.ruleEngine = canonical(v, ['On', 'Off', 'DetectionOnly'] as const);
      break;
    case 'SecRequestBodyAccess':
      config.requestBodyAccess = on(v);
      break;
    case 'SecRequestBodyLimit':
      config.requestBodyLimit = n;
      break;
    case 'SecRequestBodyNoFilesLimit':
      config.requestBodyNoFilesLimit = n;
      break;
    case 'SecRequestBodyInMemoryLimit':
      config.requestBodyInMemoryLimit = n;
      break;
    case 'SecRequestBodyLimitAction':
      config.requestBodyLimitAction = canonical(v, ['Reject', 'ProcessPartial'] as const);
      break;
    case 'SecRequestBodyJsonDepthLimit':
      config.requestBodyJsonDepthLimit = n;
      break;
    case 'SecArgumentsLimit':
      config.argumentsLimit = n;
      break;
    case 'SecResponseBodyAccess':
      config.responseBodyAccess = on(v);
      break;
    case 'SecResponseBodyMimeType':
      config.responseBodyMimeTypes.push(...d.args.map((a) => a.toLowerCase()));
      break;
    case 'SecResponseBodyMimeTypesClear':
      config.responseBodyMimeTypes = [];
      break;
    case 'SecResponseBodyLimit':
      config.responseBodyLimit = n;
      break;
    case 'SecResponseBodyLimitAction':
      config.responseBodyLimitAction = canonical(v, ['Reject', 'ProcessPartial'] as const);
      break;
    case 'SecComponentSignature':
      config.componentSignatures.push(v);
      break;
    case 'SecCollectionTimeout':
      config.collectionTimeout = n;
      break;
    case 'SecArgumentSeparator':
      if (v.length !== 1) return `SecArgumentSeparator takes a single character, got "${v}"`;
      config.argumentSeparator = v;
      break;
    case 'SecCookieFormat':
      config.cookieFormat = v === '1' ? 1 : 0;
      break;
    case 'SecCookiev0Separator':
      if (v.length !== 1) return `SecCookiev0Separator takes a single character, got "${v}"`;
      config.cookieV0Separator = v;
      break;
    case 'SecPcreMatchLimit':
      config.pcreMatchLimit = n;
      break;
    case 'SecPcreMatchLimitRecursion':
      config.pcreMatchLimitRecursion = n;
      break;
    case 'SecUploadFileLimit':
      config.uploadFileLimit = n;
      break;
    case 'SecUploadFileMode':
      config.uploadFileMode = parseInt(v, 8);
      break;
    case 'SecUploadDir':
      config.uploadDir = v;
      break;
    case 'SecUploadKeepFiles':
      config.uploadKeepFiles = canonical(v, ['On', 'Off', 'RelevantOnly'] as const);
      break;
    case 'SecTmpSaveUploadedFiles':
      config.tmpSaveUploadedFiles = on(v);
      break;
    case 'SecTmpDir':
      config.tmpDir = v;
      break;
    case 'SecDataDir':
      config.dataDir = v;
      break;
    case 'SecWebAppId':
      config.webAppId = v;
      break;
    case 'SecSensorId':
      config.sensorId = v;
      break;
    case 'SecUnicodeMapFile':
      config.unicodeMapFile = v;
      if (d.args[1] !== undefined) config.unicodeCodePage = Number(d.args[1]);
      break;
    case 'SecUnicodeCodePage':
      config.unicodeCodePage = n;
      break;
    case 'SecXmlExternalEntity':
      if (on(v)) return 'SecXmlExternalEntity On is refused: Warden never loads external XML entities';
      config.xmlExternalEntity = false;
      break;
    case 'SecParseXmlIntoArgs':
      config.parseXmlIntoArgs = canonical(v, ['On', 'Off', 'OnlyArgs'] as const);
      break;
    case 'SecInterceptOnError':
      config.interceptOnError = on(v);
      break;
    case 'SecCacheTransformations':
      config.cacheTransformations = on(v);
      break;
    case 'SecAuditEngine':
      config.auditEngine = canonical(v, ['On', 'Off', 'RelevantOnly'] as const);
      break;
    case 'SecAuditLog':
      config.auditLog = v;
      break;
    case 'SecAuditLog2':
      config.auditLog2 = v;
      break;
    case 'SecAuditLogParts':
      if (!/^[A-KZ]+$/.test(v)) return `SecAuditLogParts takes part letters A–K and Z, got "${v}"`;
      config.auditLogParts = v;
      break;
    case 'SecAuditLogType':
      config.auditLogType = canonical(v, ['Serial', 'Concurrent', 'HTTPS'] as const);
      break;
    case 'SecAuditLogFormat':
      config.auditLogFormat = canonical(v, ['Native', 'JSON'] as const);
      break;
    case 'SecAuditLogStorageDir':
      config.auditLogStorageDir = v;
      break;
    case 'SecAuditLogRelevantStatus':
      try {
        config.auditLogRelevantStatus = compileRegex(v);
      } catch (err) {
        return `SecAuditLogRelevantStatus: invalid regular expression: ${(err as Error).message}`;
      }
      break;
    case 'SecAuditLogDirMode':
    case 'SecAuditLogFileMode': {
      const mode = v.toLowerCase() === 'default' ? (d.name === 'SecAuditLogDirMode' ? 0o700 : 0o600) : parseInt(v, 8);
      if (Number.isNaN(mode)) return `${d.name} takes an octal mode or "default", got "${v}"`;
      if (d.name === 'SecAuditLogDirMode') config.auditLogDirMode = mode;
      else config.auditLogFileMode = mode;
      break;
    }
    case 'SecDebugLog':
      config.debugLog = v;
      break;
    case 'SecDebugLogLevel':
      config.debugLogLevel = n;
      break;
    default:
      // Accepted-but-ignored directives carry their reason as a warning already.
      break;
  }
  return null;
}
