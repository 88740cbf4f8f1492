/**
 * @module test/reliability/fuzz/targets
 * The parsers a fuzz campaign drives in process, one target each: what inputs it gets
 * (mutated real seeds and inputs built from the format's grammar), how one input is run,
 * and which errors are the parser's documented answer. Anything else a run throws is an
 * escape; so is a broken invariant (an {@link InvariantError}). Hangs and memory are
 * watched from outside (fuzz/runner).
 *
 * Every input is one string (bytes as latin1 chars, or text for rule and filter files);
 * targets that need two things (multipart: Content-Type and body; log lines: filter and
 * line) put the first on the input's first line, so a fixture file replays as it failed.
 */
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseUrlencoded } from '../../../src/bodies/urlencoded.js';
import { parseMultipart } from '../../../src/bodies/multipart.js';
import { parseJson } from '../../../src/bodies/json.js';
import { parseXml } from '../../../src/bodies/xml.js';
import { compileXPath, evaluateXPath, type CompiledXPath } from '../../../src/bodies/xpath.js';
import { collectArguments, type ArgumentSink } from '../../../src/bodies/types.js';
import { parseCookies } from '../../../src/http/cookies.js';
import { parseSecLangText, type RuleSource } from '../../../src/seclang/parser.js';
import { RuleLoadError } from '../../../src/seclang/errors.js';
import { Waf } from '../../../src/engine/waf.js';
import { FilterError, PyRegexError, loadFilter, type Filter } from '../../../src/jail/filter/index.js';
import { COMMON_TOKENS, UNICODE_TOKENS, bytes, seedOrMutated } from './mutate.js';
import * as seeds from './seeds.js';

/** A broken promise of the parser (not an exception of its own): counted as an escape. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

function invariant(ok: boolean, message: string): void {
  if (!ok) throw new InvariantError(message);
}

export interface FuzzTarget {
  readonly name: string;
  /** What is driven, for the report. */
  readonly what: string;
  /** How fixture files hold an input: bytes (latin1) or UTF-8 text. */
  readonly encoding: 'latin1' | 'utf8';
  /** Inputs per run of the long campaign (at least 1,000,000 where the time allows). */
  readonly longCount: number;
  /** Inputs per run of the short (npm test) campaign. */
  readonly shortCount: number;
  /** The real inputs mutations start from (read once, in the runner, and given to each worker). */
  seeds(): string[];
  /** Builds the input generator from those seeds (once per worker). */
  arbitrary(seeds: readonly string[]): fc.Arbitrary<string>;
  /** Runs one input; returns normally for every defined outcome. */
  run(input: string): void;
  /**
   * Set when production runs part of this target behind a time guard (the part `run` wraps
   * in {@link guardedPart}): an input whose time over the slow bound was spent there is the
   * guard's defined answer (the line is skipped), counted as "guarded" and kept as a
   * fixture, which the replay test runs through the real guard. Time outside that part
   * counts as usual.
   */
  readonly guard?: string;
}

/** How a hang inside the guarded part is described (the runner tells the two apart by it). */
export const GUARDED_PART = 'in the part production guards';

let guardProbe: (inside: boolean) => void = () => {};
/** Milliseconds the current input spent in guardedPart (reset by the worker per input). */
export const guardedTime = { ms: 0 };

/** Lets the fuzz worker see (in shared memory) whether an input is in its guarded part. */
export function setGuardProbe(probe: (inside: boolean) => void): void {
  guardProbe = probe;
}

/** Runs the part of a target that production runs behind a time guard. */
function guardedPart<T>(fn: () => T): T {
  const t0 = performance.now();
  guardProbe(true);
  try {
    return fn();
  } finally {
    guardProbe(false);
    guardedTime.ms += performance.now() - t0;
  }
}

function countingSink(): ArgumentSink & { n: number } {
  const s = {
    n: 0,
    add(name: string, value: string): void {
      if (typeof name !== 'string' || typeof value !== 'string') throw new InvariantError('a non-string argument reached the sink');
      s.n++;
    },
  };
  return s;
}

/** First line / rest of an input. */
function splitFirstLine(input: string): [string, string] {
  const nl = input.indexOf('\n');
  return nl < 0 ? [input, ''] : [input.slice(0, nl), input.slice(nl + 1)];
}

// ------------------------------------------------------------------- grammars

const percent = fc.oneof(
  fc.nat(255).map((b) => `%${b.toString(16).padStart(2, '0')}`),
  fc.constantFrom('%', '%g', '%2', '%u00e9', '+', '%%'),
);
const urlPiece = fc.array(fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 8 }) }, { weight: 1, arbitrary: percent }, { weight: 1, arbitrary: bytes(4) }), { maxLength: 6 }).map((a) => a.join(''));

const urlencodedGrammar = fc
  .tuple(fc.array(fc.tuple(urlPiece, fc.option(urlPiece, { nil: undefined })), { maxLength: 40 }), fc.constantFrom('&', ';', '&&'))
  .map(([pairs, sep]) => pairs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(sep));

const cookieGrammar = fc
  .tuple(
    fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('$Version', '$Path', '$Domain', '')), fc.option(fc.oneof(fc.string({ maxLength: 12 }), fc.string({ maxLength: 8 }).map((s) => `"${s}"`), bytes(6)), { nil: undefined })), { maxLength: 20 }),
    fc.constantFrom('; ', ';', ', ', ',', ' ;  '),
  )
  .map(([pairs, sep]) => pairs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(sep));

const boundaryArb = fc.oneof(fc.constantFrom('XyZ', '----WebKitFormBoundaryABC', 'a', 'x y', '"quoted"', '--', ''), fc.string({ minLength: 1, maxLength: 70 }));
const partHeader = fc.oneof(
  fc.tuple(fc.string({ maxLength: 12 }), fc.option(fc.string({ maxLength: 12 }), { nil: undefined })).map(([n, f]) => `Content-Disposition: form-data; name="${n}"${f === undefined ? '' : `; filename="${f}"`}`),
  fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })).map(([n, f]) => `Content-Disposition: form-data; name=${n}; filename*=UTF-8''${f}`),
  fc.constantFrom('Content-Type: text/plain', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', ' folded continuation', 'Content-Disposition: attachment', 'X: y'),
  bytes(30),
);
const multipartGrammar = fc
  .tuple(
    boundaryArb,
    fc.array(fc.tuple(fc.array(partHeader, { minLength: 0, maxLength: 4 }), fc.oneof(fc.string({ maxLength: 40 }), bytes(80))), { maxLength: 8 }),
    fc.constantFrom('\r\n', '\n'),
    fc.boolean(),
    fc.constantFrom('', 'preamble\r\n', '\r\n'),
    fc.constantFrom('', 'epilogue', '\r\n--'),
  )
  .map(([b, parts, eol, quoted, pre, post]) => {
    const ct = `multipart/form-data; boundary=${quoted ? `"${b}"` : b}`;
    let body = pre;
    for (const [headers, value] of parts) body += `--${b}${eol}${headers.join(eol)}${eol}${eol}${value}${eol}`;
    body += `--${b}--${eol}${post}`;
    return `${ct}\n${body}`;
  });

const jsonGrammar = fc
  .tuple(fc.jsonValue({ maxDepth: 6 }), fc.constantFrom('', ' ', '\n', '\t', '\v', '\f'), fc.boolean())
  .map(([v, ws, unicode]) => {
    let s = JSON.stringify(v, null, ws === '' ? undefined : ws) ?? 'null';
    if (unicode) s = Buffer.from(s, 'utf8').toString('latin1');
    return s;
  });

const xmlName = fc.oneof(fc.constantFrom('a', 'methodCall', 'p:b', 'soap:Body', 'x-y', '_z', 'é', '1bad', ''), fc.string({ maxLength: 8 }));
const xmlText = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('&amp;', '&lt;', '&#65;', '&#x10FFFF;', '&#0;', '&undefined;', ']]>', '<![CDATA[x]]>', '<!-- c -->', '<?pi x?>'));
const xmlAttr = fc.tuple(xmlName, fc.string({ maxLength: 10 }), fc.constantFrom('"', "'")).map(([n, v, q]) => ` ${n}=${q}${v}${q}`);
const xmlElement: fc.Arbitrary<string> = fc.letrec<{ el: string }>((tie) => ({
  el: fc
    .tuple(xmlName, fc.array(xmlAttr, { maxLength: 3 }), fc.array(fc.oneof({ depthSize: 'small', withCrossShrink: true }, xmlText, tie('el')), { maxLength: 4 }), fc.boolean())
    .map(([n, attrs, children, ns]) => `<${n}${ns ? ` xmlns${n.includes(':') ? `:${n.split(':')[0]}` : ''}="urn:x"` : ''}${attrs.join('')}>${children.join('')}</${n}>`),
})).el;
const xmlGrammar = fc
  .tuple(fc.constantFrom('', '<?xml version="1.0"?>', '<?xml version="1.0" encoding="ISO-8859-1"?>', '<?xml version="1.1" encoding="UTF-8" standalone="yes"?>', '\xef\xbb\xbf', '<!DOCTYPE a [<!ENTITY e "ee">]>'), xmlElement, fc.constantFrom('', ' ', '<!-- after -->', '<b/>', 'junk'))
  .map(([prolog, root, tail]) => `${prolog}${root}${tail}`);

const ruleVariable = fc.constantFrom('ARGS', 'ARGS:foo', '!ARGS:bar', 'ARGS:/^x/', '&ARGS', 'REQUEST_HEADERS:User-Agent', 'TX:score', 'XML:/*', 'REQUEST_COOKIES|ARGS_NAMES', 'IP:x', 'MATCHED_VARS', 'UNKNOWN');
const ruleOperator = fc.oneof(
  fc.constantFrom('@rx (a+)+$', '@rx (?i)\\A[\\x00-\\x1f]{2,}\\z', '@pm a b c', '@streq x', '@eq 1', '@gt %{tx.x}', '@ipMatch 10.0.0.0/8,::1', '@within GET POST', '@detectSQLi', '@validateByteRange 1-255', '@pmFromFile words.data', '@unknownOp', '!@rx x', ''),
  fc.string({ maxLength: 20 }).map((s) => `@rx ${s}`),
);
const ruleAction = fc.oneof(
  fc.constantFrom('id:1', 'phase:2', 'phase:9', 'deny', 'block', 'pass', 'status:403', "msg:'m %{MATCHED_VAR}'", 't:none', 't:lowercase', 't:urlDecodeUni', 'chain', 'setvar:tx.a=+1', 'setvar:ip.b=%{tx.a}', 'ctl:ruleRemoveById=1-5', 'skipAfter:END', 'capture', "logdata:'%{TX.0}'", 'expirevar:ip.x=60', 'initcol:ip=%{remote_addr}', 'nolog', "tag:'a/b'", 'severity:CRITICAL', 'ver:x', 'unknown:1'),
  fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([k, v]) => `${k}:${v}`),
);
const seclangGrammar = fc
  .tuple(fc.array(
    fc.oneof(
      fc.tuple(fc.array(ruleVariable, { minLength: 1, maxLength: 3 }), ruleOperator, fc.array(ruleAction, { maxLength: 8 })).map(([vars, op, acts]) => `SecRule ${vars.join('|')} "${op}" "${acts.join(',')}"`),
      fc.array(ruleAction, { maxLength: 6 }).map((acts) => `SecAction "${acts.join(',')}"`),
      fc.constantFrom('SecRuleEngine DetectionOnly', 'SecRequestBodyLimit 100', 'SecRequestBodyLimit -1', 'SecMarker END', 'SecDefaultAction "phase:2,deny"', 'SecArgumentSeparator ;;', 'SecCookieFormat 1', 'Include other.conf', 'Include *.conf', 'IncludeOptional missing/*.conf', 'SecComponentSignature x', 'SecUnknown x', 'SecRuleRemoveById 1-3 x', 'SecRuleUpdateTargetById 1 "!ARGS:a"'),
    ),
    { maxLength: 8 },
  ), fc.constantFrom('\n', '\n\n', ' \\\n'))
  .map(([lines, sep]) => lines.join(sep));

// ------------------------------------------------------------------- targets

const MB = 1 << 20;

/** An in-memory rule source: two include files, nothing else (the fuzzed rules never read the disk). */
function fuzzRuleSource(dir: string): RuleSource {
  const files = new Map<string, string>([
    [join(dir, 'other.conf'), 'SecRule ARGS "@rx b" "id:900,phase:2,pass"\n'],
    [join(dir, 'self.conf'), 'Include self.conf\n'],
  ]);
  const enoent = (p: string): Error => Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
  return {
    readFile(path) {
      const t = files.get(path);
      if (t === undefined) throw enoent(path);
      return t;
    },
    glob(pattern) {
      const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
      return [...files.keys()].filter((f) => re.test(f)).sort();
    },
    isDirectory: (path) => path === dir,
    listDirectory: (path) => (path === dir ? [...files.keys()].map((f) => f.slice(dir.length + 1)) : []),
  };
}

let ruleDir: string | null = null;
function fuzzRuleDir(): string {
  if (ruleDir !== null) return ruleDir;
  ruleDir = mkdtempSync(join(tmpdir(), 'warden-fuzz-rules-'));
  writeFileSync(join(ruleDir, 'words.data'), 'alpha\nbeta\n# comment\n\ngamma\n');
  writeFileSync(join(ruleDir, 'ips.data'), '10.0.0.0/8\n::1\n');
  return ruleDir;
}

/**
 * Rule text is cut at 8 KiB: compiling rules is load-time work that grows with the rules
 * (40 KiB of CRS rules take about a second), and a campaign of a million inputs needs
 * each to be small; one directive with the longest CRS regex fits.
 */
const SECLANG_MAX_LENGTH = 8192;

const seclang: FuzzTarget = {
  name: 'seclang',
  what: 'SecLang rule text: parser, then the engine compiles it (RuleLoadError is the defined answer)',
  encoding: 'utf8',
  longCount: 1_000_000,
  shortCount: 1500,
  seeds: () => seeds.seclangSeeds(),
  arbitrary: (list) => fc.oneof({ weight: 3, arbitrary: seedOrMutated(list, [...COMMON_TOKENS, ...UNICODE_TOKENS, 'Sec', 'Include ', '@rx ', '"', ' \\\n', 'chain', 'id:', ',', '%{', '}'], SECLANG_MAX_LENGTH) }, { weight: 1, arbitrary: seclangGrammar }),
  run(input) {
    const dir = fuzzRuleDir();
    const file = join(dir, 'fuzz.conf');
    const source = fuzzRuleSource(dir);
    const parsed = parseSecLangText(input, file, source);
    for (const e of parsed.errors) {
      invariant(e.location.line >= 1 && e.location.column >= 1, `error without a position: ${e.message}`);
    }
    if (parsed.errors.length > 0) return;
    try {
      Waf.fromText(input, { file, source });
    } catch (err) {
      if (err instanceof RuleLoadError) {
        invariant(err.errors.length > 0 && err.errors.every((e) => e.location.line >= 1), 'RuleLoadError without positions');
        return;
      }
      throw err;
    }
  },
};

const urlencoded: FuzzTarget = {
  name: 'urlencoded',
  what: 'query strings and application/x-www-form-urlencoded bodies (never throws)',
  encoding: 'latin1',
  longCount: 1_000_000,
  shortCount: 3000,
  seeds: () => seeds.urlencodedSeeds(),
  arbitrary: (list) => fc.tuple(fc.oneof({ weight: 2, arbitrary: seedOrMutated(list) }, { weight: 1, arbitrary: urlencodedGrammar }), fc.constantFrom('&', '&', ';'), fc.constantFrom(Infinity, 1000, 3, 0)).map(([s, sep, limit]) => `${sep}${limit}\n${s}`),
  run(input) {
    const [opts, body] = splitFirstLine(input);
    const sep = opts.slice(0, 1) || '&';
    const limit = Number(opts.slice(1)) || (opts.slice(1) === '0' ? 0 : Infinity);
    const sink = countingSink();
    const r = parseUrlencoded(body, sink, sep, limit);
    invariant(r.count === sink.n, `count ${r.count} but ${sink.n} arguments given`);
    invariant(r.count <= limit, `count ${r.count} over the limit ${limit}`);
    invariant(r.invalidEncodings >= 0 && (r.error === null || typeof r.error === 'string'), 'bad result shape');
  },
};

const multipart: FuzzTarget = {
  name: 'multipart',
  what: 'multipart/form-data bodies with their Content-Type (never throws; REQBODY_ERROR is the answer)',
  encoding: 'latin1',
  longCount: 1_000_000,
  shortCount: 2000,
  seeds: () => seeds.multipartSeeds(),
  arbitrary: (list) => fc.oneof({ weight: 2, arbitrary: seedOrMutated(list, [...COMMON_TOKENS, '--', 'boundary=', 'Content-Disposition: form-data; name="', 'filename="', '\r\n\r\n', '; ', '"']) }, { weight: 1, arbitrary: multipartGrammar }),
  run(input) {
    const [contentType, body] = splitFirstLine(input);
    const sink = countingSink();
    const r = parseMultipart(body, contentType, sink, { fileLimit: 3, argumentsLimit: 50 });
    invariant(r.error === null || typeof r.error === 'string', 'bad error');
    invariant(!r.flags.error || r.error !== null, 'the error flag without a message');
    invariant(r.flags.crlfLfLines === (r.flags.crlfLine && r.flags.lfLine), 'MULTIPART_CRLF_LF_LINES is not CRLF_LINE and LF_LINE');
    invariant(sink.n <= 50, `arguments over the limit: ${sink.n}`);
    invariant(r.filesCombinedSize >= 0 && r.noFilesLength >= 0, 'negative sizes');
  },
};

/** Whether a byte string is valid UTF-8 (where JSON.parse and yajl can be compared). */
function isUtf8(bytesText: string): boolean {
  const b = Buffer.from(bytesText, 'latin1');
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

const json: FuzzTarget = {
  name: 'json',
  what: 'JSON bodies (never throws; for valid UTF-8 without yajl-only whitespace, accepts exactly what JSON.parse accepts)',
  encoding: 'latin1',
  longCount: 1_000_000,
  shortCount: 3000,
  seeds: () => seeds.jsonSeeds(),
  arbitrary: (list) => fc.oneof({ weight: 2, arbitrary: seedOrMutated(list, [...COMMON_TOKENS, '{', '}', '[', ']', '"', ':', ',', 'true', 'null', '\\u', '\\ud800', '1e', '-0', '01']) }, { weight: 1, arbitrary: jsonGrammar }),
  run(input) {
    const sink = countingSink();
    const r = parseJson(input, sink, { depthLimit: 512, argumentsLimit: 1000 });
    invariant(r.count === sink.n, `count ${r.count} but ${sink.n} arguments given`);
    if (input.length === 0 || /[\v\f]/.test(input) || !isUtf8(input)) return;
    if (r.error !== null && /limit|More than|keys|depth|too long|names/i.test(r.error)) return;
    let accepted = true;
    try {
      JSON.parse(Buffer.from(input, 'latin1').toString('utf8'));
    } catch {
      accepted = false;
    }
    invariant(accepted === (r.error === null), `JSON.parse ${accepted ? 'accepts' : 'refuses'} it, Warden ${r.error === null ? 'accepts' : `refuses (${r.error})`}`);
  },
};

let xpaths: CompiledXPath[] | null = null;
const xml: FuzzTarget = {
  name: 'xml',
  what: 'XML bodies, then XPath selections on the tree (never throws; REQBODY_ERROR is the answer)',
  encoding: 'latin1',
  longCount: 1_000_000,
  shortCount: 2000,
  seeds: () => seeds.xmlSeeds(),
  arbitrary: (list) => fc.oneof({ weight: 2, arbitrary: seedOrMutated(list, [...COMMON_TOKENS, '<', '</', '/>', '<!DOCTYPE a [', '<!ENTITY e "', '&e;', ']>', '<![CDATA[', ']]>', '<?', '?>', 'xmlns:p="', '&#x', '&#']) }, { weight: 1, arbitrary: xmlGrammar }),
  run(input) {
    xpaths ??= ['/*', '//*', '/methodCall/methodName/text()', '//*[@attr]/@*', '//text()', '/a//p:b', "//p:*[.='x']", '//node()[last()]'].map((x) => compileXPath(x, { p: 'urn:p' }));
    const r = parseXml(input, { maxDepth: 256 });
    invariant(r.error === null || typeof r.error === 'string', 'bad error');
    if (r.document === null) return;
    for (const x of xpaths) {
      const values = evaluateXPath(r.document, x);
      invariant(Array.isArray(values) && values.every((v) => typeof v === 'string'), 'XPath gave non-strings');
    }
  },
};

const cookies: FuzzTarget = {
  name: 'cookies',
  what: 'Cookie header values, SecCookieFormat 0 and 1 (never throws)',
  encoding: 'latin1',
  longCount: 1_000_000,
  shortCount: 3000,
  seeds: () => seeds.cookieSeeds(),
  arbitrary: (list) => fc.tuple(fc.oneof({ weight: 2, arbitrary: seedOrMutated(list) }, { weight: 1, arbitrary: cookieGrammar }), fc.constantFrom('0', '1', '0,', '0;')).map(([c, f]) => `${f}\n${c}`),
  run(input) {
    const [opts, header] = splitFirstLine(input);
    const sink = countingSink();
    const n = parseCookies(header, sink, opts.startsWith('1') ? 1 : 0, opts.length > 1 ? opts.slice(1) : undefined);
    invariant(n === sink.n, `returned ${n} but ${sink.n} cookies given`);
    const all = collectArguments();
    parseCookies(header, all, opts.startsWith('1') ? 1 : 0, opts.length > 1 ? opts.slice(1) : undefined);
    invariant(all.names.every((name) => name !== ''), 'a cookie with an empty name');
  },
};

let filterDir: string | null = null;
/** A folder with fail2ban's and Warden's filter files linked in (for `[INCLUDES]`), where the fuzzed file is written. */
function fuzzFilterDir(): string {
  if (filterDir !== null) return filterDir;
  filterDir = mkdtempSync(join('/dev/shm', 'warden-fuzz-filters-'));
  const { fail2ban, warden } = seeds.filterDirs();
  for (const dir of [warden, fail2ban]) {
    if (dir === null) continue;
    for (const f of readdirSync(dir)) {
      try {
        symlinkSync(join(dir, f), join(filterDir, f));
      } catch {
        // A name both folders have: the first (Warden's) stays.
      }
    }
  }
  return filterDir;
}

/** Writes a filter-files input where its `[INCLUDES]` find fail2ban's files; returns its path. */
export function writeFuzzFilter(input: string): string {
  const path = join(fuzzFilterDir(), 'zz-fuzz.conf');
  writeFileSync(path, input);
  return path;
}

/** The line a filter-files input is matched against. */
export const PROBE_LINE = 'Jan  1 00:00:00 host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2';

/** Filter files are cut at 16 KiB (the largest stock filter is about 6 KiB). */
const FILTER_MAX_LENGTH = 16384;


const filterFiles: FuzzTarget = {
  name: 'filter-files',
  what: 'fail2ban filter files: INI, includes, interpolation, tags, Python regex translation (FilterError / PyRegexError are the defined answers), then one line matched',
  encoding: 'utf8',
  guard: "matching only: the ban engine matches lines in GuardedFilter (a file's own regex can backtrack exponentially, as fail2ban's would); loading the file is not guarded and counts",
  longCount: 1_000_000,
  shortCount: 300,
  seeds: () => seeds.filterFileSeeds(),
  arbitrary: (list) => seedOrMutated(list, [...COMMON_TOKENS, ...UNICODE_TOKENS, '%(', ')s', '<HOST>', '<ADDR>', '<F-USER>', '</F-USER>', '(?P<', '(?:', '(?=', '(?(', '\\d', '\\s+', '[Definition]', '[INCLUDES]', '[Init]', 'before = ', 'failregex = ', '\n    ', '%%', '<', '>', '{', '}'], FILTER_MAX_LENGTH),
  run(input) {
    const path = writeFuzzFilter(input);
    let filter: Filter;
    try {
      filter = loadFilter(path, { timeZone: 'UTC', now: () => 1_700_000_000 });
    } catch (err) {
      if (err instanceof FilterError || err instanceof PyRegexError) return;
      throw err;
    }
    guardedPart(() => filter.match(PROBE_LINE));
  },
};

const LOG_LINE_LIMIT = 16384; // GuardedFilter's default maxLineLength: lines are cut there before matching
const filters = new Map<string, Filter | null>();
let filterNames: string[] | null = null;

/**
 * The filter and the line a log-lines input names: a mutated filter name picks a filter by
 * its hash, so the input still runs somewhere; the line is cut at the guard's limit and
 * decoded as UTF-8 (as log sources read files).
 */
export function logLineCase(input: string): { filter: string; line: string } {
  const [nameIn, rest] = splitFirstLine(input);
  filterNames ??= [...new Set(seeds.logLineSeeds().map((s) => splitFirstLine(s)[0]))].sort();
  const names = filterNames;
  let name = nameIn;
  if (!names.includes(name)) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    name = names[h % Math.max(1, names.length)] ?? 'sshd';
  }
  const nl = rest.indexOf('\n');
  return { filter: name, line: Buffer.from((nl < 0 ? rest : rest.slice(0, nl)).slice(0, LOG_LINE_LIMIT), 'latin1').toString('utf8') };
}

/** Where the log-lines target finds filters: Warden's, then fail2ban's. */
export function logLineSearchPath(): string[] {
  const { warden, fail2ban } = seeds.filterDirs();
  return fail2ban === null ? [warden] : [warden, fail2ban];
}

const logLines: FuzzTarget = {
  name: 'log-lines',
  what: "log lines through the stock filter of their sample log (fail2ban's and Warden's), cut at the guard's 16 KiB",
  encoding: 'latin1',
  guard: 'GuardedFilter (jail/filter/guard): a line running over lineTimeoutMs (1 s) is skipped',
  longCount: 1_000_000,
  shortCount: 3000,
  seeds: () => seeds.logLineSeeds(),
  arbitrary: (list) => {
    filterNames = [...new Set(list.map((s) => splitFirstLine(s)[0]))].sort();
    return seedOrMutated(list, [...COMMON_TOKENS, ' from ', ' port ', '192.0.2.1', '::ffff:1.2.3.4', '[', ']', 'user ', 'Failed password for ', 'Jan  1 00:00:00 ', '2024-01-01T00:00:00Z ']);
  },
  run(input) {
    const { filter: name, line } = logLineCase(input);
    let filter = filters.get(name);
    if (filter === undefined) {
      try {
        filter = loadFilter(name, { searchPath: logLineSearchPath(), timeZone: 'UTC', now: () => 1_700_000_000 });
      } catch (err) {
        if (!(err instanceof FilterError)) throw err;
        filter = null;
      }
      filters.set(name, filter);
    }
    if (filter === null) return;
    const m = guardedPart(() => (filter as Filter).match(line));
    if (m !== null) invariant(typeof m.id === 'string' && m.id !== '', 'a match without an id');
  },
};

/** Removes the temporary folders the targets made (rules, filters). */
export function removeTargetFolders(): void {
  for (const d of [ruleDir, filterDir]) if (d !== null) rmSync(d, { recursive: true, force: true });
  ruleDir = null;
  filterDir = null;
  filters.clear();
}

/** Every in-process target, in report order. */
export const targets: readonly FuzzTarget[] = [seclang, urlencoded, multipart, json, xml, cookies, filterFiles, logLines];

export function targetNamed(name: string): FuzzTarget {
  const t = targets.find((x) => x.name === name);
  if (t === undefined) throw new Error(`unknown fuzz target ${name}; targets: ${targets.map((x) => x.name).join(', ')}`);
  return t;
}

/** Heap a worker may use before its input counts as a memory escape. */
export const WORKER_HEAP_MB = 768;
export const BYTES_PER_MB = MB;
