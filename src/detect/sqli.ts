/**
 * @module detect/sqli
 * SQL injection detection compatible with libinjection (what ModSecurity's and Coraza's
 * `@detectSQLi` run): tokenize the input, fold the tokens into at most five, take their
 * types as a fingerprint, look it up in libinjection's fingerprint set, then apply
 * libinjection's false-positive rules. The input is tried as it is, as if it followed a
 * single quote, and as if it followed a double quote — an injected value usually breaks
 * out of a quoted string in the query it lands in.
 *
 * @example
 * detectSqli("1' and 1=1 union/* foo *\/select load_file('/etc/passwd')--"); // 's&1UE'
 * detectSqli('hello world'); // null
 */
import { FINGERPRINT_TYPE, lookupBytes, startsPhrase } from './sqli-keywords.js';
import {
  FLAG_QUOTE_DOUBLE,
  FLAG_QUOTE_NONE,
  FLAG_QUOTE_SINGLE,
  FLAG_SQL_ANSI,
  FLAG_SQL_MYSQL,
  TOKEN_VALUE_MAX,
  TYPE_BACKSLASH,
  TYPE_BAREWORD,
  TYPE_COLLATE,
  TYPE_COMMA,
  TYPE_COMMENT,
  TYPE_DOT,
  TYPE_EVIL,
  TYPE_EXPRESSION,
  TYPE_FUNCTION,
  TYPE_GROUP,
  TYPE_KEYWORD,
  TYPE_LEFTBRACE,
  TYPE_LEFTPARENS,
  TYPE_LOGIC_OPERATOR,
  TYPE_NUMBER,
  TYPE_OPERATOR,
  TYPE_RIGHTBRACE,
  TYPE_RIGHTPARENS,
  TYPE_SEMICOLON,
  TYPE_SQLTYPE,
  TYPE_STRING,
  TYPE_TSQL,
  TYPE_UNION,
  TYPE_VARIABLE,
  copyToken,
  createSqliState,
  sqliInit,
  sqliReset,
  sqliTokenize,
  tokenIs,
  type SqliState,
  type SqliToken,
} from './sqli-tokenizer.js';

export * from './sqli-tokenizer.js';

/** Folding keeps at most this many tokens: the fingerprint's length limit. */
const MAX_TOKENS = 5;

function tokenAt(st: SqliState, i: number): SqliToken {
  return st.tokens[i] as SqliToken;
}

/** `+ - ! ~ !!` and `NOT`: operators that can stand before a value. */
function isUnaryOp(t: SqliToken): boolean {
  if (t.type !== TYPE_OPERATOR) return false;
  const v = t.val;
  switch (t.len) {
    case 1:
      return v[0] === 0x2b || v[0] === 0x2d || v[0] === 0x21 || v[0] === 0x7e;
    case 2:
      return v[0] === 0x21 && v[1] === 0x21;
    case 3:
      return tokenIs(t, 'NOT');
    default:
      return false;
  }
}

function isArithmeticOp(t: SqliToken): boolean {
  const c = t.val[0];
  return t.type === TYPE_OPERATOR && t.len === 1 && (c === 0x2a || c === 0x2f || c === 0x2d || c === 0x2b || c === 0x25);
}

/** Types that may combine into a phrase of the word table ("UNION" + "ALL"). */
function isWordish(type: number): boolean {
  return (
    type === TYPE_KEYWORD ||
    type === TYPE_BAREWORD ||
    type === TYPE_OPERATOR ||
    type === TYPE_UNION ||
    type === TYPE_FUNCTION ||
    type === TYPE_EXPRESSION ||
    type === TYPE_TSQL ||
    type === TYPE_SQLTYPE
  );
}

/**
 * Merges `a` and `b` into `a` when "a b" is a phrase of the word table (`UNION ALL`,
 * `NOT IN`, `ORDER BY` …), giving `a` the phrase's type.
 */
function mergeWords(st: SqliState, a: SqliToken, b: SqliToken): boolean {
  if (!isWordish(a.type) || !(isWordish(b.type) || b.type === TYPE_LOGIC_OPERATOR)) return false;
  const n = a.len + 1 + b.len;
  if (n > TOKEN_VALUE_MAX || !startsPhrase(a.val, a.len)) return false;
  const buf = st.scratch;
  for (let i = 0; i < a.len; i++) buf[i] = a.val[i] ?? 0;
  buf[a.len] = 0x20;
  for (let i = 0; i < b.len; i++) buf[a.len + 1 + i] = b.val[i] ?? 0;
  buf[n] = 0;
  const type = lookupBytes(buf, n, -1);
  if (type === 0) return false;
  a.type = type;
  a.len = n;
  a.val.set(buf);
  return true;
}

/** Words that are column names unless a `(` follows: then they are functions. */
const FUNCTION_IF_CALLED = [
  'USER_ID', 'USER_NAME', 'DATABASE', 'PASSWORD', 'USER',
  'CURRENT_USER', 'CURRENT_DATE', 'CURRENT_TIME', 'CURRENT_TIMESTAMP', 'LOCALTIME', 'LOCALTIMESTAMP',
];

function isFunctionIfCalled(t: SqliToken): boolean {
  for (const w of FUNCTION_IF_CALLED) if (tokenIs(t, w)) return true;
  return false;
}

/** The value holds `c` before its first NUL (C's strchr on the value). */
function valueHas(t: SqliToken, c: number): boolean {
  for (let i = 0; i < t.len; i++) {
    const b = t.val[i];
    if (b === 0) return false;
    if (b === c) return true;
  }
  return false;
}

/** Reads one more token into slot `pos`; comments are set aside, not kept in place. */
function pull(st: SqliState, pos: number): { more: boolean; pos: number } {
  // Returned through a reused record: folding runs per value and must not allocate.
  st.current = tokenAt(st, pos);
  const more = sqliTokenize(st);
  if (more) {
    if (st.current.type === TYPE_COMMENT) copyToken(st.lastComment, st.current);
    else {
      st.lastComment.type = 0;
      pos += 1;
    }
  }
  pulled.more = more;
  pulled.pos = pos;
  return pulled;
}
const pulled = { more: false, pos: 0 };

/**
 * The five-token shapes `1,(1)`-like lists and `n)o(n` that fold back to their first
 * token (libinjection's special cases when folding reaches five tokens).
 */
function isFoldableFive(st: SqliState): boolean {
  const t0 = tokenAt(st, 0).type;
  const t1 = tokenAt(st, 1).type;
  const t2 = tokenAt(st, 2).type;
  const t3 = tokenAt(st, 3).type;
  const t4 = tokenAt(st, 4).type;
  return (
    (t0 === TYPE_NUMBER && (t1 === TYPE_OPERATOR || t1 === TYPE_COMMA) && t2 === TYPE_LEFTPARENS &&
      t3 === TYPE_NUMBER && t4 === TYPE_RIGHTPARENS) ||
    (t0 === TYPE_BAREWORD && t1 === TYPE_OPERATOR && t2 === TYPE_LEFTPARENS &&
      (t3 === TYPE_BAREWORD || t3 === TYPE_NUMBER) && t4 === TYPE_RIGHTPARENS) ||
    (t0 === TYPE_NUMBER && t1 === TYPE_RIGHTPARENS && t2 === TYPE_COMMA && t3 === TYPE_LEFTPARENS &&
      t4 === TYPE_NUMBER) ||
    (t0 === TYPE_BAREWORD && t1 === TYPE_RIGHTPARENS && t2 === TYPE_OPERATOR && t3 === TYPE_LEFTPARENS &&
      t4 === TYPE_BAREWORD)
  );
}

/**
 * Tokenizes and folds the input into at most five tokens (`st.tokens[0, n)`), returning
 * n. Folding drops what does not change the shape of a statement — leading comments and
 * parentheses, unary signs, arithmetic between values, repeated strings — and merges
 * multi-word keywords, so that equivalent injections share a fingerprint.
 */
export function sqliFold(st: SqliState): number {
  const last = st.lastComment;
  last.type = 0;

  // Leading comments, `(`, SQL types and unary operators tell nothing: skip them.
  st.current = tokenAt(st, 0);
  let more: boolean;
  for (;;) {
    more = sqliTokenize(st);
    const c = st.current;
    if (!(c.type === TYPE_COMMENT || c.type === TYPE_LEFTPARENS || c.type === TYPE_SQLTYPE || isUnaryOp(c))) break;
  }
  if (!more) return 0;
  // `pos`: where the next token goes; `left`: tokens already final.
  let pos = 1;
  let left = 0;

  for (;;) {
    if (pos >= MAX_TOKENS && isFoldableFive(st)) {
      if (pos > MAX_TOKENS) {
        copyToken(tokenAt(st, 1), tokenAt(st, MAX_TOKENS));
        pos = 2;
      } else {
        pos = 1;
      }
      left = 0;
    }
    if (!more || left >= MAX_TOKENS) {
      left = pos;
      break;
    }

    while (more && pos <= MAX_TOKENS && pos - left < 2) ({ more, pos } = pull(st, pos));
    if (pos - left < 2) {
      left = pos;
      continue;
    }

    const a = tokenAt(st, left);
    const b = tokenAt(st, left + 1);

    // --- two-token rules ---
    if (a.type === TYPE_STRING && b.type === TYPE_STRING) {
      // 'foo' 'bar' is one string in SQL.
      pos -= 1;
      st.statsFolds += 1;
      continue;
    }
    if (a.type === TYPE_SEMICOLON && b.type === TYPE_SEMICOLON) {
      // Engines differ on empty statements; `;;` is just `;`.
      pos -= 1;
      st.statsFolds += 1;
      continue;
    }
    if ((a.type === TYPE_OPERATOR || a.type === TYPE_LOGIC_OPERATOR) && (isUnaryOp(b) || b.type === TYPE_SQLTYPE)) {
      pos -= 1;
      st.statsFolds += 1;
      left = 0;
      continue;
    }
    if (a.type === TYPE_LEFTPARENS && isUnaryOp(b)) {
      pos -= 1;
      st.statsFolds += 1;
      if (left > 0) left -= 1;
      continue;
    }
    if (mergeWords(st, a, b)) {
      pos -= 1;
      st.statsFolds += 1;
      if (left > 0) left -= 1;
      continue;
    }
    if (a.type === TYPE_SEMICOLON && b.type === TYPE_FUNCTION && (b.val[0] === 0x49 || b.val[0] === 0x69) &&
      (b.val[1] === 0x46 || b.val[1] === 0x66)) {
      // After `;`, IF starts a Transact-SQL statement rather than calling a function.
      b.type = TYPE_TSQL;
      continue;
    }
    if ((a.type === TYPE_BAREWORD || a.type === TYPE_VARIABLE) && b.type === TYPE_LEFTPARENS && isFunctionIfCalled(a)) {
      a.type = TYPE_FUNCTION;
      continue;
    }
    if (a.type === TYPE_KEYWORD && (tokenIs(a, 'IN') || tokenIs(a, 'NOT IN'))) {
      // `x IN (…)` compares like an operator; MySQL's `IN BOOLEAN MODE` is no operator.
      a.type = b.type === TYPE_LEFTPARENS ? TYPE_OPERATOR : TYPE_BAREWORD;
      continue;
    }
    if (a.type === TYPE_OPERATOR && (tokenIs(a, 'LIKE') || tokenIs(a, 'NOT LIKE'))) {
      // `LIKE(…)` is the function.
      if (b.type === TYPE_LEFTPARENS) a.type = TYPE_FUNCTION;
    } else if (a.type === TYPE_SQLTYPE && (b.type === TYPE_BAREWORD || b.type === TYPE_NUMBER ||
      b.type === TYPE_SQLTYPE || b.type === TYPE_LEFTPARENS || b.type === TYPE_FUNCTION ||
      b.type === TYPE_VARIABLE || b.type === TYPE_STRING)) {
      // A type name before a value is a cast: keep the value.
      copyToken(a, b);
      pos -= 1;
      st.statsFolds += 1;
      left = 0;
      continue;
    } else if (a.type === TYPE_COLLATE && b.type === TYPE_BAREWORD) {
      // Too many collations to list: a bareword with `_` after COLLATE is one.
      if (valueHas(b, 0x5f)) {
        b.type = TYPE_SQLTYPE;
        left = 0;
      }
    } else if (a.type === TYPE_BACKSLASH) {
      // T-SQL reads `\%1` as `0 % 1` and `\1` as `1`.
      if (isArithmeticOp(b)) a.type = TYPE_NUMBER;
      else {
        copyToken(a, b);
        pos -= 1;
        st.statsFolds += 1;
      }
      left = 0;
      continue;
    } else if ((a.type === TYPE_LEFTPARENS && b.type === TYPE_LEFTPARENS) ||
      (a.type === TYPE_RIGHTPARENS && b.type === TYPE_RIGHTPARENS)) {
      pos -= 1;
      left = 0;
      st.statsFolds += 1;
      continue;
    } else if (a.type === TYPE_LEFTBRACE && b.type === TYPE_BAREWORD) {
      // MySQL's `{ ``.``.id }` cannot be folded in three tokens; an empty name after `{`
      // is rare enough to call evil. Otherwise ODBC's `{foo expr}` is just `expr`.
      if (b.len === 0) {
        b.type = TYPE_EVIL;
        return left + 2;
      }
      left = 0;
      pos -= 2;
      st.statsFolds += 2;
      continue;
    } else if (b.type === TYPE_RIGHTBRACE) {
      pos -= 1;
      left = 0;
      st.statsFolds += 1;
      continue;
    }

    while (more && pos <= MAX_TOKENS && pos - left < 3) ({ more, pos } = pull(st, pos));
    if (pos - left < 3) {
      left = pos;
      continue;
    }

    // --- three-token rules ---
    const c = tokenAt(st, left + 2);
    const at = a.type;
    const bt = b.type;
    const ct = c.type;
    if (at === TYPE_NUMBER && bt === TYPE_OPERATOR && ct === TYPE_NUMBER) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (at === TYPE_OPERATOR && bt !== TYPE_LEFTPARENS && ct === TYPE_OPERATOR) {
      left = 0;
      pos -= 2;
      continue;
    }
    if (at === TYPE_LOGIC_OPERATOR && ct === TYPE_LOGIC_OPERATOR) {
      pos -= 2;
      left = 0;
      continue;
    }
    if (at === TYPE_VARIABLE && bt === TYPE_OPERATOR &&
      (ct === TYPE_VARIABLE || ct === TYPE_NUMBER || ct === TYPE_BAREWORD)) {
      pos -= 2;
      left = 0;
      continue;
    }
    if ((at === TYPE_BAREWORD || at === TYPE_NUMBER) && bt === TYPE_OPERATOR &&
      (ct === TYPE_NUMBER || ct === TYPE_BAREWORD)) {
      pos -= 2;
      left = 0;
      continue;
    }
    if ((at === TYPE_BAREWORD || at === TYPE_NUMBER || at === TYPE_VARIABLE || at === TYPE_STRING) &&
      bt === TYPE_OPERATOR && b.len === 2 && b.val[0] === 0x3a && b.val[1] === 0x3a && ct === TYPE_SQLTYPE) {
      // PostgreSQL cast `x::type`.
      pos -= 2;
      left = 0;
      st.statsFolds += 2;
      continue;
    }
    if ((at === TYPE_BAREWORD || at === TYPE_NUMBER || at === TYPE_STRING || at === TYPE_VARIABLE) &&
      bt === TYPE_COMMA &&
      (ct === TYPE_NUMBER || ct === TYPE_BAREWORD || ct === TYPE_STRING || ct === TYPE_VARIABLE)) {
      pos -= 2;
      left = 0;
      continue;
    }
    if ((at === TYPE_EXPRESSION || at === TYPE_GROUP || at === TYPE_COMMA) && isUnaryOp(b) &&
      ct === TYPE_LEFTPARENS) {
      // `SELECT + (`: drop the sign.
      copyToken(b, c);
      pos -= 1;
      left = 0;
      continue;
    }
    if ((at === TYPE_KEYWORD || at === TYPE_EXPRESSION || at === TYPE_GROUP) && isUnaryOp(b) &&
      (ct === TYPE_NUMBER || ct === TYPE_BAREWORD || ct === TYPE_VARIABLE || ct === TYPE_STRING ||
        ct === TYPE_FUNCTION)) {
      // `SELECT - 1`: drop the sign.
      copyToken(b, c);
      pos -= 1;
      left = 0;
      continue;
    }
    if (at === TYPE_COMMA && isUnaryOp(b) &&
      (ct === TYPE_NUMBER || ct === TYPE_BAREWORD || ct === TYPE_VARIABLE || ct === TYPE_STRING)) {
      // `, -1` is `,1`, and back up so that `1,-1` can fold to `1`.
      copyToken(b, c);
      left = 0;
      pos -= 3;
      continue;
    }
    if (at === TYPE_COMMA && isUnaryOp(b) && ct === TYPE_FUNCTION) {
      // `1,-sin(1)` is `1,sin(1)`.
      copyToken(b, c);
      pos -= 1;
      left = 0;
      continue;
    }
    if (at === TYPE_BAREWORD && bt === TYPE_DOT && ct === TYPE_BAREWORD) {
      // database.table
      pos -= 2;
      left = 0;
      continue;
    }
    if (at === TYPE_EXPRESSION && bt === TYPE_DOT && ct === TYPE_BAREWORD) {
      // select . `foo` is select `foo`
      copyToken(b, c);
      pos -= 1;
      left = 0;
      continue;
    }
    if (at === TYPE_FUNCTION && bt === TYPE_LEFTPARENS && ct !== TYPE_RIGHTPARENS) {
      // USER() takes no argument: USER(x) is no call of it.
      if (tokenIs(a, 'USER')) a.type = TYPE_BAREWORD;
    }
    // Nothing folded: the leftmost token is final.
    left += 1;
  }

  // A trailing comment comes back if there is room for it.
  if (left < MAX_TOKENS && last.type === TYPE_COMMENT) {
    copyToken(tokenAt(st, left), last);
    left += 1;
  }
  // A sixth token may have been read to decide about the fifth.
  return left > MAX_TOKENS ? MAX_TOKENS : left;
}

/**
 * Computes the fingerprint of the input in one context (flags: a FLAG_QUOTE_* and a
 * FLAG_SQL_* bit) into `st.fingerprint[0, st.fingerprintLength)`.
 */
export function sqliFingerprint(st: SqliState, flags: number): void {
  sqliReset(st, flags);
  const n = sqliFold(st);
  // PHP-style unterminated empty backtick at the end: a comment.
  if (n > 2) {
    const t = tokenAt(st, n - 1);
    if (t.type === TYPE_BAREWORD && t.strOpen === 0x60 && t.len === 0 && t.strClose === 0) t.type = TYPE_COMMENT;
  }
  const fp = st.fingerprint;
  let len = 0;
  let evil = false;
  while (len < n) {
    const type = tokenAt(st, len).type;
    if (type === 0) break;
    if (type === TYPE_EVIL) evil = true;
    fp[len++] = type;
  }
  fp[len] = 0;
  st.fingerprintLength = len;
  if (evil) {
    // Unparsable consistently for every database (nested or MySQL `/*!` comments …).
    fp.fill(0);
    fp[0] = TYPE_EVIL;
    st.fingerprintLength = 1;
    const t0 = tokenAt(st, 0);
    t0.type = TYPE_EVIL;
    t0.val.fill(0);
    t0.val[0] = TYPE_EVIL;
    tokenAt(st, 1).type = 0;
  }
}

/** The fingerprint is in libinjection's set. */
export function sqliBlacklisted(st: SqliState): boolean {
  const n = st.fingerprintLength;
  if (n < 1) return false;
  return lookupBytes(st.fingerprint, n, 0x30) === FINGERPRINT_TYPE;
}

function fingerprintIs(st: SqliState, fp: string): boolean {
  if (st.fingerprintLength !== fp.length) return false;
  for (let i = 0; i < fp.length; i++) if (st.fingerprint[i] !== fp.charCodeAt(i)) return false;
  return true;
}

/**
 * libinjection's second opinion on a blacklisted fingerprint: short fingerprints look a
 * lot like ordinary text, so they need more evidence. True means SQLi.
 */
export function sqliNotWhitelisted(st: SqliState): boolean {
  const n = st.fingerprintLength;
  const fp = st.fingerprint;
  const t0 = tokenAt(st, 0);
  const t1 = tokenAt(st, 1);
  // SQL Server keeps statements mentioning sp_password out of its audit log.
  if (n > 1 && fp[n - 1] === TYPE_COMMENT && st.s.indexOf('sp_password') >= 0) return true;

  if (n === 2) {
    if (fp[1] === TYPE_UNION) {
      // "1 union" is common text; only with folding or comments around it.
      return st.statsTokens !== 2;
    }
    // `#` comments: too many false positives.
    if (t1.val[0] === 0x23) return false;
    // A bareword and a comment: only a C comment counts.
    if (t0.type === TYPE_BAREWORD && t1.type === TYPE_COMMENT && t1.val[0] !== 0x2f) return false;
    if (t0.type === TYPE_NUMBER && t1.type === TYPE_COMMENT) {
      if (t1.val[0] === 0x2f) return true;
      // Folding happened: likely SQLi.
      if (st.statsTokens > 2) return true;
      // Otherwise the number must really end where the comment starts (not
      // "1234-ABCD--"): look at the input right after the number, as libinjection does
      // (by the token's length, and with C's signed char, so bytes >= 128 count as space).
      const s = st.s;
      const ch = s.charCodeAt(t0.len) || 0;
      if (ch <= 32 || ch >= 128) return true;
      const ch2 = s.charCodeAt(t0.len + 1) || 0;
      if (ch === 0x2f && ch2 === 0x2a) return true;
      if (ch === 0x2d && ch2 === 0x2d) return true;
      return false;
    }
    // "1--" is a scan, "1-- foo" is text.
    if (t1.len > 2 && t1.val[0] === 0x2d) return false;
    return true;
  }

  if (n === 3) {
    if (fingerprintIs(st, 'sos') || fingerprintIs(st, 's&s')) {
      // ...foo" + "bar...: no opening or closing quote, and the inner quotes match.
      const t2 = tokenAt(st, 2);
      return t0.strOpen === 0 && t2.strClose === 0 && t0.strClose === t2.strOpen;
    }
    if (fingerprintIs(st, 's&n') || fingerprintIs(st, 'n&1') || fingerprintIs(st, '1&1') ||
      fingerprintIs(st, '1&v') || fingerprintIs(st, '1&s')) {
      // 'sexy and 17' is text, 'sexy and 17<18' is not.
      return st.statsTokens !== 3;
    }
    if (t1.type === TYPE_KEYWORD) {
      // Only INTO OUTFILE / INTO DUMPFILE.
      return t1.len >= 5 && tokenStartsWith(t1, 'INTO');
    }
  }
  return true;
}

function tokenStartsWith(t: SqliToken, prefix: string): boolean {
  for (let i = 0; i < prefix.length; i++) {
    let c = t.val[i] ?? 0;
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

/** Blacklisted and not excused: SQLi in this context. */
export function sqliCheckFingerprint(st: SqliState): boolean {
  return sqliBlacklisted(st) && sqliNotWhitelisted(st);
}

/** Saw `--x` or `#`: a MySQL reading of the input may differ, so try that too. */
function mysqlMayDiffer(st: SqliState): boolean {
  return st.statsCommentDdx > 0 || st.statsCommentHash > 0;
}

/**
 * The whole decision on the input `sqliInit` gave the state: as is, then after a single
 * quote, then after a double quote. The fingerprint of the context that matched stays
 * in `st.fingerprint`.
 */
export function sqliIsSqli(st: SqliState): boolean {
  if (st.slen === 0) return false;
  sqliFingerprint(st, FLAG_QUOTE_NONE | FLAG_SQL_ANSI);
  if (sqliCheckFingerprint(st)) return true;
  if (mysqlMayDiffer(st)) {
    sqliFingerprint(st, FLAG_QUOTE_NONE | FLAG_SQL_MYSQL);
    if (sqliCheckFingerprint(st)) return true;
  }
  if (st.s.indexOf("'") >= 0) {
    sqliFingerprint(st, FLAG_QUOTE_SINGLE | FLAG_SQL_ANSI);
    if (sqliCheckFingerprint(st)) return true;
    if (mysqlMayDiffer(st)) {
      sqliFingerprint(st, FLAG_QUOTE_SINGLE | FLAG_SQL_MYSQL);
      if (sqliCheckFingerprint(st)) return true;
    }
  }
  if (st.s.indexOf('"') >= 0) {
    sqliFingerprint(st, FLAG_QUOTE_DOUBLE | FLAG_SQL_MYSQL);
    if (sqliCheckFingerprint(st)) return true;
  }
  return false;
}

// Fingerprint strings are interned so that a detection allocates nothing once its
// fingerprint has been seen (there are a few thousand at most). The key packs each token
// type into 5 bits, which keeps it a small integer (no boxed number per lookup).
const TYPE_CODES = new Uint8Array(256);
'kUBEtfn1vso&cA(){}.,:;T?X\\'.split('').forEach((c, i) => {
  TYPE_CODES[c.charCodeAt(0)] = i + 1;
});
const fingerprintStrings = new Map<number, string>();

function buildFingerprint(st: SqliState): string {
  let s = '';
  for (let i = 0; i < st.fingerprintLength; i++) s += String.fromCharCode(st.fingerprint[i] ?? 0);
  return s;
}

/** The state's fingerprint as a string (interned). */
export function sqliFingerprintString(st: SqliState): string {
  const n = st.fingerprintLength;
  let key = n;
  for (let i = 0; i < n; i++) {
    const code = TYPE_CODES[st.fingerprint[i] ?? 0] ?? 0;
    if (code === 0) return buildFingerprint(st); // a type outside the alphabet: not interned
    key = (key << 5) | code;
  }
  let s = fingerprintStrings.get(key);
  if (s === undefined) {
    s = buildFingerprint(st);
    fingerprintStrings.set(key, s);
  }
  return s;
}

const shared = createSqliState();

/**
 * Detects SQL injection in a byte string (one char per byte). Returns libinjection's
 * fingerprint of the injection (e.g. `s&1UE`), or null when the input is not SQLi.
 */
export function detectSqli(input: string): string | null {
  sqliInit(shared, input, 0);
  const found = sqliIsSqli(shared);
  const fp = found ? sqliFingerprintString(shared) : null;
  sqliInit(shared, '', 0); // do not keep the caller's data alive
  return fp;
}

/** True when the byte string is SQL injection (see `detectSqli`). */
export function isSqli(input: string): boolean {
  return detectSqli(input) !== null;
}
