/**
 * @module test/reliability/fuzz/seeds
 * Real inputs the fuzz campaigns start from, read in place (never copied): the CRS v4
 * regression requests (as go-ftw sends them) and the parts of them each parser sees, the
 * CRS and Warden rule files, the SecRules language tests' operator and transformation
 * cases, fail2ban's filter files and sample logs, Warden's filters and sample logs. Each
 * list is sorted, so a campaign's seed number names the same inputs on every machine.
 * Outside CI an absent suite leaves its list shorter (the hand-written seeds remain).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { findTestFiles, readTestFile } from '../../conformance/ftw/suite.js';
import { buildRequest } from '../../conformance/ftw/request.js';
import { projectRoot, sharedSuite } from '../../support/shared.js';

/** One HTTP request as sent on the wire, split the way the body processors see it. */
export interface SplitRequest {
  readonly raw: string;
  readonly query: string;
  readonly cookies: readonly string[];
  readonly contentType: string;
  readonly body: string;
}

function splitRequest(raw: string): SplitRequest {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const body = end < 0 ? '' : raw.slice(end + 4);
  const lines = head.split('\r\n');
  const target = (lines[0] ?? '').split(' ')[1] ?? '';
  const q = target.indexOf('?');
  const cookies: string[] = [];
  let contentType = '';
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    if (c < 0) continue;
    const name = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    if (name === 'cookie') cookies.push(value);
    else if (name === 'content-type') contentType = value;
  }
  return { raw, query: q < 0 ? '' : target.slice(q + 1), cookies, contentType, body };
}

let crsCache: SplitRequest[] | null = null;
let quick = false;

/**
 * Reads only every 25th CRS test file from now on (the short campaigns in npm test: all
 * 5,000 regression tests take 10–20 s to read, a fifth of a second per file is enough).
 */
export function useQuickSeeds(): void {
  quick = true;
  crsCache = null;
}

/** Every stage of the CRS v4 regression suite, as the bytes go-ftw sends (sorted by test). */
export function crsRequests(): readonly SplitRequest[] {
  if (crsCache !== null) return crsCache;
  const out: SplitRequest[] = [];
  const dir = sharedSuite('crs/tests/regression/tests');
  const files = dir === null ? [] : findTestFiles(dir).filter((_, i) => !quick || i % 25 === 0);
  for (const file of files) {
    for (const t of readTestFile(file)) {
      for (const stage of t.stages) {
        try {
          out.push(splitRequest(buildRequest(stage.input)));
        } catch {
          // A stage whose data template Warden's test client refuses is not a seed.
        }
      }
    }
  }
  crsCache = out;
  return out;
}

function unique(list: Iterable<string>): string[] {
  return [...new Set(list)].filter((s) => s !== '').sort();
}

const HAND_URLENCODED = ['a=1&b=2', 'q=caf%C3%A9+au+lait&x=%zz&flag', 'a&&b', '=', '&&&', 'a=%', 'a=%2', '%41%42=%43', 'id=1%27%20or%201=1--', 'x[]=1&x[]=2&y[a][b]=3'];

/** Query strings and urlencoded bodies of the CRS requests, and a few by hand. */
export function urlencodedSeeds(): string[] {
  const list = [...HAND_URLENCODED];
  for (const r of crsRequests()) {
    if (r.query !== '') list.push(r.query);
    if (/x-www-form-urlencoded/i.test(r.contentType) && r.body !== '') list.push(r.body);
  }
  return unique(list);
}

const HAND_COOKIES = ['SID=31d4d96e407aad42; lang=en-US; theme', '$Version=1; a="b;c"; $Path=/', 'a=1, b=2', ';;;=x; =; a', 'a="unterminated; b=2'];

export function cookieSeeds(): string[] {
  return unique([...HAND_COOKIES, ...crsRequests().flatMap((r) => r.cookies)]);
}

const HAND_MULTIPART = [
  'multipart/form-data; boundary=XyZ\n--XyZ\r\nContent-Disposition: form-data; name="comment"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name="up"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n--XyZ--\r\n',
  'multipart/form-data; boundary="a b"\n--a b\nContent-Disposition: form-data; name=x\n\nvalue\n--a b--\n',
  'multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW\n------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name="f"; filename*=UTF-8\'\'%e2%82%ac.txt\r\n\r\n\x00\x01\x02\r\n------WebKitFormBoundary7MA4YWxkTrZu0gW--',
];

/** `Content-Type` + "\n" + body of the multipart requests. */
export function multipartSeeds(): string[] {
  const list = [...HAND_MULTIPART];
  for (const r of crsRequests()) if (/multipart\//i.test(r.contentType)) list.push(`${r.contentType}\n${r.body}`);
  return unique(list);
}

const HAND_JSON = ['{"a":{"b":[1,2,{"c":null}]},"d":"\\u00e9\\ud83d\\ude00","e":-1.5e+10}', '[]', '{}', '"x"', '[[[[[[[[[[1]]]]]]]]]]', '{"":""}', '{"a":1,"a":2}', '\v{"a" :\f true }'];

export function jsonSeeds(): string[] {
  const list = [...HAND_JSON];
  for (const r of crsRequests()) if (/json/i.test(r.contentType) || /^\s*[[{]/.test(r.body)) list.push(r.body);
  return unique(list);
}

const HAND_XML = [
  '<?xml version="1.0"?><methodCall><methodName>pingback.ping</methodName><params><param><value><string>http://a/</string></value></param></params></methodCall>',
  '<?xml version="1.0" encoding="ISO-8859-1"?><a xmlns="urn:x" xmlns:p="urn:p"><p:b attr="1&amp;2">t&#233;&#x41;<![CDATA[<raw>]]></p:b><!-- c --><?pi x?></a>',
  '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>',
  '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>',
  '<?xml version="1.0" encoding="UTF-16"?><a/>',
  '\xef\xbb\xbf<a b="c" d=\'e\'/>',
  '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><m:Get xmlns:m="urn:m"><m:id>1</m:id></m:Get></soap:Body></soap:Envelope>',
];

export function xmlSeeds(): string[] {
  const list = [...HAND_XML];
  for (const r of crsRequests()) if (/xml/i.test(r.contentType) || /^\s*</.test(r.body)) list.push(r.body);
  return unique(list);
}

/** Whole requests as sent: the HTTP framing campaign's seeds. */
export function rawRequestSeeds(): string[] {
  return unique(crsRequests().map((r) => r.raw.replace(/\r\nConnection: close\r\n/i, '\r\n')));
}

function filesUnder(dir: string, test: (name: string) => boolean): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p, test));
    else if (test(e.name)) out.push(p);
  }
  return out.sort();
}

/** Rule files cut into their blocks (a directive with its comment; a whole CRS file is too slow to compile a million times). */
function ruleChunks(text: string): string[] {
  return text.split(/\n\s*\n/).filter((c) => /^\s*Sec/m.test(c));
}

/** SecLang: CRS and Warden rule files (in pieces), operators and transformations of the SecRules language tests. */
export function seclangSeeds(): string[] {
  const list: string[] = [
    'SecRuleEngine On\nSecRequestBodyAccess On\nSecRule ARGS "@rx a" "id:1,phase:2,deny,status:403,msg:\'x\'"',
    'SecRule REQUEST_HEADERS:User-Agent|!REQUEST_HEADERS:Referer "@pm a b c" \\\n  "id:2,phase:1,t:none,t:lowercase,chain,block"\n  SecRule &ARGS "@gt 0" "setvar:tx.score=+5,ctl:ruleRemoveById=3"',
    'SecMarker END\nSecAction "id:3,phase:1,nolog,pass,skipAfter:END"\nSecDefaultAction "phase:2,log,auditlog,pass"',
    "SecRule XML:/*[local-name()='a']/@b \"@streq x\" \"id:4,phase:2,deny\"",
    'SecRuleUpdateTargetById 942100 "!ARGS:password"\nSecRuleRemoveByTag "attack-sqli"\nSecRuleUpdateActionById 1 "t:none"',
  ];
  const crs = sharedSuite('crs');
  const files = [
    ...(crs === null ? [] : [join(crs, 'crs-setup.conf.example'), ...filesUnder(join(crs, 'rules'), (n) => n.endsWith('.conf'))]),
    ...filesUnder(join(projectRoot, 'rules'), (n) => n.endsWith('.conf')),
  ];
  for (const f of files) list.push(...ruleChunks(readFileSync(f, 'utf8')));
  const lang = sharedSuite('secrules-language-tests');
  if (lang !== null) {
    for (const f of filesUnder(join(lang, 'operators'), (n) => n.endsWith('.json'))) {
      for (const c of JSON.parse(readFileSync(f, 'utf8')) as Array<{ name?: string; param?: string }>) {
        if (typeof c.name === 'string') list.push(`SecRule ARGS "@${c.name} ${String(c.param ?? '').replace(/(["\\])/g, '\\$1')}" "id:10,phase:2,pass,log"`);
      }
    }
    for (const f of filesUnder(join(lang, 'transformations'), (n) => n.endsWith('.json'))) {
      for (const c of JSON.parse(readFileSync(f, 'utf8')) as Array<{ name?: string }>) {
        if (typeof c.name === 'string') list.push(`SecRule ARGS "@rx ." "id:11,phase:2,pass,t:${c.name}"`);
      }
    }
  }
  return unique(list);
}

/** fail2ban's filter.d (in ../shared) and Warden's filters/. */
export function filterDirs(): { fail2ban: string | null; warden: string } {
  return { fail2ban: sharedSuite('fail2ban/config/filter.d'), warden: join(projectRoot, 'filters') };
}

/** Filter files' text: fail2ban's stock filters and Warden's own. */
export function filterFileSeeds(): string[] {
  const { fail2ban, warden } = filterDirs();
  const files = [...(fail2ban === null ? [] : filesUnder(fail2ban, (n) => n.endsWith('.conf'))), ...filesUnder(warden, (n) => n.endsWith('.conf'))];
  return unique(files.map((f) => readFileSync(f, 'utf8')));
}

/**
 * `filter name` + "\n" + one line of its sample log: fail2ban's tests/files/logs (the
 * log of the same name as the filter) and Warden's test/fixtures/logs.
 */
export function logLineSeeds(): string[] {
  const out: string[] = [];
  const { fail2ban, warden } = filterDirs();
  const sources: Array<[string, string]> = [];
  const f2bLogs = sharedSuite('fail2ban/fail2ban/tests/files/logs');
  if (f2bLogs !== null && fail2ban !== null) for (const f of filesUnder(f2bLogs, () => true)) sources.push([f, fail2ban]);
  for (const f of filesUnder(join(projectRoot, 'test/fixtures/logs'), () => true)) sources.push([f, warden]);
  for (const [file, dir] of sources) {
    const name = file.split('/').pop() as string;
    if (!existsSync(join(dir, `${name}.conf`))) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '' || line.startsWith('#')) continue;
      out.push(`${name}\n${line}`);
    }
  }
  return unique(out);
}
