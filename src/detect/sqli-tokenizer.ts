/**
 * @module detect/sqli-tokenizer
 * The SQL tokenizer of the libinjection-compatible SQL injection detector: it splits a
 * byte string into typed tokens (keyword, bareword, number, string, operator, comment …)
 * the way libinjection does, including its deliberate approximations (a `/*!` MySQL
 * comment is "evil", `--x` is a comment in ANSI mode but two operators in MySQL mode, a
 * token's value keeps at most 31 bytes). Folding and fingerprinting are in ./sqli.ts.
 *
 * Everything here works on one state object that is reset, never reallocated, per input.
 */
import { sqlCharClassNames, sqlCharClassOf } from './sqli-data.js';
import { lookupWord } from './sqli-keywords.js';

// Token types are the characters libinjection writes into a fingerprint.
export const TYPE_NONE = 0;
export const TYPE_KEYWORD = 0x6b; // k
export const TYPE_UNION = 0x55; // U
export const TYPE_GROUP = 0x42; // B
export const TYPE_EXPRESSION = 0x45; // E
export const TYPE_SQLTYPE = 0x74; // t
export const TYPE_FUNCTION = 0x66; // f
export const TYPE_BAREWORD = 0x6e; // n
export const TYPE_NUMBER = 0x31; // 1
export const TYPE_VARIABLE = 0x76; // v
export const TYPE_STRING = 0x73; // s
export const TYPE_OPERATOR = 0x6f; // o
export const TYPE_LOGIC_OPERATOR = 0x26; // &
export const TYPE_COMMENT = 0x63; // c
export const TYPE_COLLATE = 0x41; // A
export const TYPE_LEFTPARENS = 0x28; // (
export const TYPE_RIGHTPARENS = 0x29; // )
export const TYPE_LEFTBRACE = 0x7b; // {
export const TYPE_RIGHTBRACE = 0x7d; // }
export const TYPE_DOT = 0x2e; // .
export const TYPE_COMMA = 0x2c; // ,
export const TYPE_COLON = 0x3a; // :
export const TYPE_SEMICOLON = 0x3b; // ;
export const TYPE_TSQL = 0x54; // T
export const TYPE_UNKNOWN = 0x3f; // ?
export const TYPE_EVIL = 0x58; // X
export const TYPE_BACKSLASH = 0x5c; // \

/** Parsing flags (the same bits as libinjection's). */
export const FLAG_NONE = 0;
export const FLAG_QUOTE_NONE = 1;
export const FLAG_QUOTE_SINGLE = 2;
export const FLAG_QUOTE_DOUBLE = 4;
export const FLAG_SQL_ANSI = 8;
export const FLAG_SQL_MYSQL = 16;

/** A token keeps at most this many bytes of its value (libinjection's 32-byte buffer). */
export const TOKEN_VALUE_MAX = 31;

const SINGLE = 0x27;
const DOUBLE = 0x22;
const TICK = 0x60;
const BACKSLASH = 0x5c;

/** One token. `val[0, len)` is its value (at most 31 bytes), `val[len]` is 0. */
export interface SqliToken {
  type: number;
  /** Offset of the value in the input. */
  pos: number;
  len: number;
  /** For variables: how many `@` opened it (1 or 2). */
  count: number;
  /** Opening / closing quote of a string (0 when absent or simulated). */
  strOpen: number;
  strClose: number;
  readonly val: Uint8Array;
}

export interface SqliState {
  /** The input, one char per byte. */
  s: string;
  slen: number;
  flags: number;
  /** Where the tokenizer continues. */
  pos: number;
  /** Folding keeps up to five tokens and looks at up to three more. */
  readonly tokens: readonly SqliToken[];
  /** The token the tokenizer writes next. */
  current: SqliToken;
  /** Holds the last comment while folding. */
  readonly lastComment: SqliToken;
  /** Token types of the folded tokens (the fingerprint), `fingerprintLength` of them. */
  readonly fingerprint: Uint8Array;
  fingerprintLength: number;
  /** Scratch for merging two words ("UNION" + "ALL"). */
  readonly scratch: Uint8Array;
  /** `--x` comments seen in ANSI mode: MySQL reads them as two operators. */
  statsCommentDdx: number;
  /** `#` seen: a comment for MySQL, an operator for ANSI SQL. */
  statsCommentHash: number;
  statsFolds: number;
  /** Tokens produced by the tokenizer (including ones later folded away). */
  statsTokens: number;
}

/** A fresh token. */
export function createToken(): SqliToken {
  return { type: 0, pos: 0, len: 0, count: 0, strOpen: 0, strClose: 0, val: new Uint8Array(TOKEN_VALUE_MAX + 1) };
}

/** A state to reuse for any number of inputs (see `sqliInit`). */
export function createSqliState(): SqliState {
  const tokens: SqliToken[] = [];
  for (let i = 0; i < 8; i++) tokens.push(createToken());
  return {
    s: '',
    slen: 0,
    flags: FLAG_QUOTE_NONE | FLAG_SQL_ANSI,
    pos: 0,
    tokens,
    current: tokens[0] as SqliToken,
    lastComment: createToken(),
    fingerprint: new Uint8Array(8),
    fingerprintLength: 0,
    scratch: new Uint8Array(TOKEN_VALUE_MAX + 1),
    statsCommentDdx: 0,
    statsCommentHash: 0,
    statsFolds: 0,
    statsTokens: 0,
  };
}

/** Points the state at a new input; flags 0 means "no quote context, ANSI SQL". */
export function sqliInit(st: SqliState, s: string, flags: number): void {
  st.s = s;
  st.slen = s.length;
  sqliReset(st, flags);
}

/** Starts over on the same input with other flags. */
export function sqliReset(st: SqliState, flags: number): void {
  st.flags = flags === 0 ? FLAG_QUOTE_NONE | FLAG_SQL_ANSI : flags;
  st.pos = 0;
  for (const t of st.tokens) clearToken(t);
  clearToken(st.lastComment);
  st.current = st.tokens[0] as SqliToken;
  st.fingerprint.fill(0);
  st.fingerprintLength = 0;
  st.statsCommentDdx = 0;
  st.statsCommentHash = 0;
  st.statsFolds = 0;
  st.statsTokens = 0;
}

/**
 * Empties a token. Only `val[0]` is zeroed: every writer ends the value with a 0 at
 * `val[len]`, and nothing reads a value past that.
 */
export function clearToken(t: SqliToken): void {
  t.type = 0;
  t.pos = 0;
  t.len = 0;
  t.count = 0;
  t.strOpen = 0;
  t.strClose = 0;
  t.val[0] = 0;
}

export function copyToken(to: SqliToken, from: SqliToken): void {
  to.type = from.type;
  to.pos = from.pos;
  to.len = from.len;
  to.count = from.count;
  to.strOpen = from.strOpen;
  to.strClose = from.strClose;
  const a = to.val;
  const b = from.val;
  for (let i = 0; i <= from.len; i++) a[i] = b[i] ?? 0;
}

/** Sets a token to `s[pos, pos+len)`, keeping at most 31 bytes of the value. */
export function assignToken(t: SqliToken, type: number, pos: number, len: number, s: string): void {
  const n = len < TOKEN_VALUE_MAX ? len : TOKEN_VALUE_MAX;
  t.type = type;
  t.pos = pos;
  t.len = n;
  const val = t.val;
  for (let i = 0; i < n; i++) val[i] = s.charCodeAt(pos + i);
  val[n] = 0;
}

function assignByte(t: SqliToken, type: number, pos: number, byte: number): void {
  t.type = type;
  t.pos = pos;
  t.len = 1;
  t.val[0] = byte;
  t.val[1] = 0;
}

/** The token's value as a byte string, cut at the first NUL as libinjection prints it. */
export function tokenValue(t: SqliToken): string {
  let out = '';
  for (let i = 0; i < t.len && t.val[i] !== 0; i++) out += String.fromCharCode(t.val[i] ?? 0);
  return out;
}

/** Upper-case ASCII `word` equals the token value (ASCII case-insensitive, exact length). */
export function tokenIs(t: SqliToken, word: string): boolean {
  if (t.len !== word.length) return false;
  for (let i = 0; i < t.len; i++) {
    let c = t.val[i] ?? 0;
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== word.charCodeAt(i)) return false;
  }
  return true;
}

// --- byte classes -----------------------------------------------------------------

const classIndex = (name: string): number => {
  const i = sqlCharClassNames.indexOf(name);
  if (i < 0) throw new Error(`SQL byte class ${name} missing from sqli-data`);
  return i;
};
const C_WHITE = classIndex('CHAR_WHITE');
const C_BANG = classIndex('CHAR_BANG');
const C_STR = classIndex('CHAR_STR');
const C_HASH = classIndex('CHAR_HASH');
const C_MONEY = classIndex('CHAR_MONEY');
const C_OP1 = classIndex('CHAR_OP1');
const C_OP2 = classIndex('CHAR_OP2');
const C_LEFTPARENS = classIndex('CHAR_LEFTPARENS');
const C_RIGHTPARENS = classIndex('CHAR_RIGHTPARENS');
const C_UNARY = classIndex('CHAR_UNARY');
const C_COMMA = classIndex('CHAR_COMMA');
const C_DASH = classIndex('CHAR_DASH');
const C_NUM = classIndex('CHAR_NUM');
const C_SLASH = classIndex('CHAR_SLASH');
const C_SEMICOLON = classIndex('CHAR_SEMICOLON');
const C_OTHER = classIndex('CHAR_OTHER');
const C_VAR = classIndex('CHAR_VAR');
const C_WORD = classIndex('CHAR_WORD');
const C_BSTRING = classIndex('CHAR_BSTRING');
const C_ESTRING = classIndex('CHAR_ESTRING');
const C_NQSTRING = classIndex('CHAR_NQSTRING');
const C_QSTRING = classIndex('CHAR_QSTRING');
const C_USTRING = classIndex('CHAR_USTRING');
const C_XSTRING = classIndex('CHAR_XSTRING');
const C_BWORD = classIndex('CHAR_BWORD');
const C_BACK = classIndex('CHAR_BACK');
const C_TICK = classIndex('CHAR_TICK');
const C_LEFTBRACE = classIndex('CHAR_LEFTBRACE');
const C_RIGHTBRACE = classIndex('CHAR_RIGHTBRACE');

const charClass = Uint8Array.from(sqlCharClassOf);

/** A 256-entry membership table for a set of bytes. */
function byteSet(chars: string): Uint8Array {
  const set = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) set[chars.charCodeAt(i)] = 1;
  return set;
}

// libinjection scans these sets with C's strchr, which also "finds" the NUL byte: NUL
// always ends a word or variable name, and is always accepted inside digit runs.
const WORD_END = byteSet(' []{}<>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r"\xa0\0');
const VAR_END = byteSet(' <>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r`"\0');
const WHITE = byteSet(' \t\n\v\f\r\xa0\0');
const DIGITS_MONEY = byteSet('0123456789.,\0');
const LETTERS_MONEY = byteSet('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\0');
const DIGITS_HEX = byteSet('0123456789ABCDEFabcdef\0');
const DIGITS_BIN = byteSet('01\0');

function isWhite(c: number): boolean {
  return WHITE[c] === 1;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Length of the run of bytes in `set` starting at `from`. */
function spanIn(s: string, from: number, end: number, set: Uint8Array): number {
  let i = from;
  while (i < end && set[s.charCodeAt(i)] === 1) i++;
  return i - from;
}

/** Length of the run of bytes not in `set` starting at `from`. */
function spanNotIn(s: string, from: number, end: number, set: Uint8Array): number {
  let i = from;
  while (i < end && set[s.charCodeAt(i)] !== 1) i++;
  return i - from;
}

/** One-char strings for String#indexOf (V8 keeps them in a table: no allocation). */
const CHARS: readonly string[] = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));

/** Index of byte `c` in `s` at or after `from`, or -1. */
function findByte(s: string, from: number, c: number): number {
  return s.indexOf(CHARS[c] as string, from);
}

/** Index of the pair `c0 c1` in `s[from, end)` (both bytes inside), or -1. */
function findPair(s: string, from: number, end: number, c0: number, c1: number): number {
  for (let i = from; i + 1 < end; i++) {
    if (s.charCodeAt(i) === c0 && s.charCodeAt(i + 1) === c1) return i;
  }
  return -1;
}

// --- the parsers: each reads at st.pos, may fill st.current, returns the next position --

function parseEolComment(st: SqliState): number {
  const { s, slen, pos } = st;
  const nl = findByte(s, pos, 0x0a);
  if (nl < 0) {
    assignToken(st.current, TYPE_COMMENT, pos, slen - pos, s);
    return slen;
  }
  assignToken(st.current, TYPE_COMMENT, pos, nl - pos, s);
  return nl + 1;
}

/** `#` is an end-of-line comment in MySQL and an operator in ANSI SQL. */
function parseHash(st: SqliState): number {
  st.statsCommentHash += 1;
  if (st.flags & FLAG_SQL_MYSQL) {
    st.statsCommentHash += 1;
    return parseEolComment(st);
  }
  assignByte(st.current, TYPE_OPERATOR, st.pos, 0x23);
  return st.pos + 1;
}

/**
 * `--` then white space or the end is a comment everywhere; `--x` is a comment in ANSI
 * SQL but two unary minus signs in MySQL; a lone `-` is an operator.
 */
function parseDash(st: SqliState): number {
  const { s, slen, pos } = st;
  const dashDash = pos + 1 < slen && s.charCodeAt(pos + 1) === 0x2d;
  if (dashDash && (pos + 2 === slen || isWhite(s.charCodeAt(pos + 2)))) return parseEolComment(st);
  if (dashDash && st.flags & FLAG_SQL_ANSI) {
    st.statsCommentDdx += 1;
    return parseEolComment(st);
  }
  assignByte(st.current, TYPE_OPERATOR, pos, 0x2d);
  return pos + 1;
}

/**
 * `/` or a C comment. A comment holding another `/*` (PostgreSQL nests them, the others
 * do not) and MySQL's executable `/*!` comments cannot be parsed one way for every
 * database, so they are "evil" and make the input SQLi outright.
 */
function parseSlash(st: SqliState): number {
  const { s, slen, pos } = st;
  if (pos + 1 === slen || s.charCodeAt(pos + 1) !== 0x2a) {
    assignByte(st.current, TYPE_OPERATOR, pos, 0x2f);
    return pos + 1;
  }
  const close = findPair(s, pos + 2, slen, 0x2a, 0x2f);
  const len = close < 0 ? slen - pos : close + 2 - pos;
  let type = TYPE_COMMENT;
  if (close >= 0 && findPair(s, pos + 2, close + 1, 0x2f, 0x2a) >= 0) type = TYPE_EVIL;
  else if (pos + 2 < slen && s.charCodeAt(pos + 2) === 0x21) type = TYPE_EVIL;
  assignToken(st.current, type, pos, len, s);
  return pos + len;
}

/** MySQL reads `\N` as NULL; any other backslash is its own token. */
function parseBackslash(st: SqliState): number {
  const { s, slen, pos } = st;
  if (pos + 1 < slen && s.charCodeAt(pos + 1) === 0x4e) {
    assignToken(st.current, TYPE_NUMBER, pos, 2, s);
    return pos + 2;
  }
  assignByte(st.current, TYPE_BACKSLASH, pos, BACKSLASH);
  return pos + 1;
}

/** Two-byte operators from the word table, `<=>`, or else a one-byte operator. */
function parseOperator2(st: SqliState): number {
  const { s, slen, pos } = st;
  const c = s.charCodeAt(pos);
  if (pos + 1 < slen) {
    if (pos + 2 < slen && c === 0x3c && s.charCodeAt(pos + 1) === 0x3d && s.charCodeAt(pos + 2) === 0x3e) {
      assignToken(st.current, TYPE_OPERATOR, pos, 3, s);
      return pos + 3;
    }
    const type = lookupWord(s, pos, 2);
    if (type !== 0) {
      assignToken(st.current, type, pos, 2, s);
      return pos + 2;
    }
    if (c === 0x3a) {
      assignByte(st.current, TYPE_COLON, pos, c);
      return pos + 1;
    }
  }
  assignByte(st.current, TYPE_OPERATOR, pos, c);
  return pos + 1;
}

/** An odd run of backslashes ending at `end` (going back no further than `start`). */
function backslashEscaped(s: string, end: number, start: number): boolean {
  let i = end;
  while (i >= start && s.charCodeAt(i) === BACKSLASH) i--;
  return ((end - i) & 1) === 1;
}

/**
 * A string whose opening quote is at `pos` (`offset` bytes of prefix and quote to skip),
 * or, with offset 0, a string that started before the input (the quote contexts). The
 * quote is escaped by a backslash or by doubling it.
 */
function parseStringCore(s: string, slen: number, pos: number, t: SqliToken, delim: number, offset: number): number {
  const start = pos + offset;
  t.strOpen = offset > 0 ? delim : 0;
  let q = findByte(s, start, delim);
  for (;;) {
    if (q < 0) {
      assignToken(t, TYPE_STRING, start, slen - start, s);
      t.strClose = 0;
      return slen;
    }
    if (backslashEscaped(s, q - 1, start)) {
      q = findByte(s, q + 1, delim);
    } else if (q + 1 < slen && s.charCodeAt(q + 1) === delim) {
      q = findByte(s, q + 2, delim);
    } else {
      assignToken(t, TYPE_STRING, start, q - start, s);
      t.strClose = delim;
      return q + 1;
    }
  }
}

function parseString(st: SqliState): number {
  return parseStringCore(st.s, st.slen, st.pos, st.current, st.s.charCodeAt(st.pos), 1);
}

/** `E'…'` (PostgreSQL escaped string) and `N'…'` (national character set). */
function parseEstring(st: SqliState): number {
  const { s, slen, pos } = st;
  if (pos + 2 >= slen || s.charCodeAt(pos + 1) !== SINGLE) return parseWord(st);
  return parseStringCore(s, slen, pos, st.current, SINGLE, 2);
}

/** `U&'…'` (unicode string). */
function parseUstring(st: SqliState): number {
  const { s, slen, pos } = st;
  if (pos + 2 < slen && s.charCodeAt(pos + 1) === 0x26 && s.charCodeAt(pos + 2) === SINGLE) {
    st.pos += 2;
    const next = parseString(st);
    st.current.strOpen = 0x75;
    if (st.current.strClose === SINGLE) st.current.strClose = 0x75;
    return next;
  }
  return parseWord(st);
}

/** Oracle's `q'X…X'` with a chosen delimiter (brackets close with their mate). */
function parseQstringAt(st: SqliState, offset: number): number {
  const { s, slen } = st;
  const pos = st.pos + offset;
  const q = s.charCodeAt(pos);
  if (pos >= slen || (q !== 0x71 && q !== 0x51) || pos + 2 >= slen || s.charCodeAt(pos + 1) !== SINGLE) {
    return parseWord(st);
  }
  let close = s.charCodeAt(pos + 2);
  // libinjection's char is signed: bytes 128-255 are "below 33" too.
  if (close < 33 || close > 127) return parseWord(st);
  if (close === 0x28) close = 0x29;
  else if (close === 0x5b) close = 0x5d;
  else if (close === 0x7b) close = 0x7d;
  else if (close === 0x3c) close = 0x3e;
  const end = findPair(s, pos + 3, slen, close, SINGLE);
  const t = st.current;
  if (end < 0) {
    assignToken(t, TYPE_STRING, pos + 3, slen - pos - 3, s);
    t.strOpen = 0x71;
    t.strClose = 0;
    return slen;
  }
  assignToken(t, TYPE_STRING, pos + 3, end - pos - 3, s);
  t.strOpen = 0x71;
  t.strClose = 0x71;
  return end + 2;
}

function parseQstring(st: SqliState): number {
  return parseQstringAt(st, 0);
}

/** `N'…'`, or Oracle's `nq'X…X'`. */
function parseNqstring(st: SqliState): number {
  if (st.pos + 2 < st.slen && st.s.charCodeAt(st.pos + 1) === SINGLE) return parseEstring(st);
  return parseQstringAt(st, 1);
}

/** `b'0101'` and `x'CAFE'` literals are numbers; anything else is a word. */
function parseDigitString(st: SqliState, digits: Uint8Array): number {
  const { s, slen, pos } = st;
  if (pos + 2 >= slen || s.charCodeAt(pos + 1) !== SINGLE) return parseWord(st);
  const n = spanIn(s, pos + 2, slen, digits);
  if (pos + 2 + n >= slen || s.charCodeAt(pos + 2 + n) !== SINGLE) return parseWord(st);
  assignToken(st.current, TYPE_NUMBER, pos, n + 3, s);
  return pos + n + 3;
}

function parseBstring(st: SqliState): number {
  return parseDigitString(st, DIGITS_BIN);
}

function parseXstring(st: SqliState): number {
  return parseDigitString(st, DIGITS_HEX);
}

/** SQL Server's `[bracketed name]`. */
function parseBword(st: SqliState): number {
  const { s, slen, pos } = st;
  const end = findByte(s, pos, 0x5d);
  if (end < 0) {
    assignToken(st.current, TYPE_BAREWORD, pos, slen - pos, s);
    return slen;
  }
  assignToken(st.current, TYPE_BAREWORD, pos, end - pos + 1, s);
  return end + 1;
}

/**
 * A word: its type comes from the word table (keyword, function, operator …), else it
 * is a bareword. `SELECT.1` and ``SELECT`col` `` split after a known word.
 */
function parseWord(st: SqliState): number {
  const { s, slen, pos } = st;
  const t = st.current;
  const wlen = spanNotIn(s, pos, slen, WORD_END);
  assignToken(t, TYPE_BAREWORD, pos, wlen, s);
  for (let i = 0; i < t.len; i++) {
    const c = t.val[i];
    if (c === 0x2e || c === TICK) {
      const type = lookupWord(s, pos, i);
      if (type !== TYPE_NONE && type !== TYPE_BAREWORD) {
        clearToken(t);
        assignToken(t, type, pos, i, s);
        return pos + i;
      }
    }
  }
  if (wlen <= TOKEN_VALUE_MAX) {
    const type = lookupWord(s, pos, wlen);
    t.type = type === 0 ? TYPE_BAREWORD : type;
  }
  return pos + wlen;
}

/** MySQL's `` `name` ``: a function if the table says so, else a bareword. */
function parseTick(st: SqliState): number {
  const next = parseStringCore(st.s, st.slen, st.pos, st.current, TICK, 1);
  const t = st.current;
  t.type = lookupWord(st.s, t.pos, t.len) === TYPE_FUNCTION ? TYPE_FUNCTION : TYPE_BAREWORD;
  return next;
}

/** `@name`, `@@name`, and MySQL's ``@`name` `` / `@'name'`. */
function parseVar(st: SqliState): number {
  const { s, slen } = st;
  const t = st.current;
  let pos = st.pos + 1;
  if (pos < slen && s.charCodeAt(pos) === 0x40) {
    pos += 1;
    t.count = 2;
  } else {
    t.count = 1;
  }
  if (pos < slen) {
    const c = s.charCodeAt(pos);
    if (c === TICK || c === SINGLE || c === DOUBLE) {
      st.pos = pos;
      const next = c === TICK ? parseTick(st) : parseString(st);
      t.type = TYPE_VARIABLE;
      return next;
    }
  }
  const n = spanNotIn(s, pos, slen, VAR_END);
  assignToken(t, TYPE_VARIABLE, pos, n, s);
  return pos + n;
}

/** Index of `s[needle, needle+n)` in `s[from, end)`, or -1. */
function findRun(s: string, from: number, end: number, needle: number, n: number): number {
  outer: for (let i = from; i + n <= end; i++) {
    for (let j = 0; j < n; j++) if (s.charCodeAt(i + j) !== s.charCodeAt(needle + j)) continue outer;
    return i;
  }
  return -1;
}

/** `$1,000.00` money, PostgreSQL `$$…$$` and `$tag$…$tag$` strings, else a lone `$`. */
function parseMoney(st: SqliState): number {
  const { s, slen, pos } = st;
  const t = st.current;
  if (pos + 1 === slen) {
    assignByte(t, TYPE_BAREWORD, pos, 0x24);
    return slen;
  }
  let n = spanIn(s, pos + 1, slen, DIGITS_MONEY);
  if (n === 1 && s.charCodeAt(pos + 1) === 0x2e) return parseWord(st);
  if (n > 0) {
    assignToken(t, TYPE_NUMBER, pos, 1 + n, s);
    return pos + 1 + n;
  }
  if (s.charCodeAt(pos + 1) === 0x24) {
    const end = findPair(s, pos + 2, slen, 0x24, 0x24);
    t.strOpen = 0x24;
    if (end < 0) {
      assignToken(t, TYPE_STRING, pos + 2, slen - pos - 2, s);
      t.strClose = 0;
      return slen;
    }
    assignToken(t, TYPE_STRING, pos + 2, end - pos - 2, s);
    t.strClose = 0x24;
    return end + 2;
  }
  n = spanIn(s, pos + 1, slen, LETTERS_MONEY);
  if (n === 0 || pos + n + 1 === slen || s.charCodeAt(pos + n + 1) !== 0x24) {
    assignByte(t, TYPE_BAREWORD, pos, 0x24);
    return pos + 1;
  }
  // $tag$ … $tag$
  const body = pos + n + 2;
  const end = findRun(s, body, slen, pos, n + 2);
  t.strOpen = 0x24;
  if (end < 0) {
    assignToken(t, TYPE_STRING, body, slen - body, s);
    t.strClose = 0;
    return slen;
  }
  assignToken(t, TYPE_STRING, body, end - body, s);
  t.strClose = 0x24;
  return end + n + 2;
}

/**
 * Numbers: `0x1F`, `0b101`, `12`, `1.5`, `.5`, `1e10`, and Oracle's `1.5f` / `2d`.
 * A lone `.` is a dot; `1e` without exponent digits is a word.
 */
function parseNumber(st: SqliState): number {
  const { s, slen } = st;
  const t = st.current;
  const start = st.pos;
  let pos = start;
  if (s.charCodeAt(pos) === 0x30 && pos + 1 < slen) {
    const x = s.charCodeAt(pos + 1) | 0x20;
    const digits = x === 0x78 ? DIGITS_HEX : x === 0x62 ? DIGITS_BIN : null;
    if (digits !== null) {
      const n = spanIn(s, pos + 2, slen, digits);
      assignToken(t, n === 0 ? TYPE_BAREWORD : TYPE_NUMBER, pos, n + 2, s);
      return pos + n + 2;
    }
  }
  while (pos < slen && isDigit(s.charCodeAt(pos))) pos++;
  if (pos < slen && s.charCodeAt(pos) === 0x2e) {
    pos++;
    while (pos < slen && isDigit(s.charCodeAt(pos))) pos++;
    if (pos - start === 1) {
      assignByte(t, TYPE_DOT, start, 0x2e);
      return pos;
    }
  }
  let hasE = false;
  let hasExponent = false;
  if (pos < slen && (s.charCodeAt(pos) | 0x20) === 0x65) {
    hasE = true;
    pos++;
    if (pos < slen && (s.charCodeAt(pos) === 0x2b || s.charCodeAt(pos) === 0x2d)) pos++;
    while (pos < slen && isDigit(s.charCodeAt(pos))) {
      hasExponent = true;
      pos++;
    }
  }
  if (pos < slen) {
    const suffix = s.charCodeAt(pos) | 0x20;
    if (suffix === 0x64 || suffix === 0x66) {
      // `1.2f` ends the number only before the end, white space, `;`, or `u` (so that
      // `1fUNION` reads as `1f UNION`); `123FROM` stays `123`.
      if (pos + 1 === slen) pos++;
      else {
        const next = s.charCodeAt(pos + 1);
        if (isWhite(next) || next === 0x3b || (next | 0x20) === 0x75) pos++;
      }
    }
  }
  assignToken(t, hasE && !hasExponent ? TYPE_BAREWORD : TYPE_NUMBER, start, pos - start, s);
  return pos;
}

/** Runs the parser for the byte at st.pos; returns the next position. */
function parseAt(st: SqliState, c: number): number {
  const cls = charClass[c] ?? C_WORD;
  switch (cls) {
    case C_WHITE:
      return st.pos + 1;
    case C_OP1:
    case C_UNARY:
      assignByte(st.current, TYPE_OPERATOR, st.pos, c);
      return st.pos + 1;
    case C_OP2:
    case C_BANG:
      return parseOperator2(st);
    case C_STR:
      return parseString(st);
    case C_HASH:
      return parseHash(st);
    case C_MONEY:
      return parseMoney(st);
    case C_LEFTPARENS:
    case C_RIGHTPARENS:
    case C_COMMA:
    case C_SEMICOLON:
    case C_LEFTBRACE:
    case C_RIGHTBRACE:
      // These bytes are their own token type.
      assignByte(st.current, c, st.pos, c);
      return st.pos + 1;
    case C_DASH:
      return parseDash(st);
    case C_NUM:
      return parseNumber(st);
    case C_SLASH:
      return parseSlash(st);
    case C_OTHER:
      assignByte(st.current, TYPE_UNKNOWN, st.pos, c);
      return st.pos + 1;
    case C_VAR:
      return parseVar(st);
    case C_BSTRING:
      return parseBstring(st);
    case C_ESTRING:
      return parseEstring(st);
    case C_NQSTRING:
      return parseNqstring(st);
    case C_QSTRING:
      return parseQstring(st);
    case C_USTRING:
      return parseUstring(st);
    case C_XSTRING:
      return parseXstring(st);
    case C_BWORD:
      return parseBword(st);
    case C_BACK:
      return parseBackslash(st);
    case C_TICK:
      return parseTick(st);
    default:
      return parseWord(st);
  }
}

/**
 * Reads the next token into `st.current`. Returns false at the end of the input. In a
 * quote context the input is read as if a quote came before it: the first token is the
 * rest of that string.
 */
export function sqliTokenize(st: SqliState): boolean {
  const slen = st.slen;
  if (slen === 0) return false;
  const t = st.current;
  clearToken(t);
  if (st.pos === 0 && st.flags & (FLAG_QUOTE_SINGLE | FLAG_QUOTE_DOUBLE)) {
    const delim = st.flags & FLAG_QUOTE_SINGLE ? SINGLE : DOUBLE;
    st.pos = parseStringCore(st.s, slen, 0, t, delim, 0);
    st.statsTokens += 1;
    return true;
  }
  while (st.pos < slen) {
    const at = st.pos;
    const next = parseAt(st, st.s.charCodeAt(at));
    // Every parser consumes at least one byte; the guard keeps that true for any input.
    st.pos = next > at ? next : at + 1;
    if (t.type !== TYPE_NONE) {
      st.statsTokens += 1;
      return true;
    }
  }
  return false;
}
