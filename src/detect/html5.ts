/**
 * @module detect/html5
 * The HTML5 tokenizer behind XSS detection, compatible with libinjection's: a reduced
 * version of the HTML5 tokenization state machine that reports tag names, attribute
 * names and values, comments and doctypes, plus the browser quirks that matter for XSS
 * (NUL bytes ignored in tag names, back-quoted attribute values, `<% %>` comments).
 *
 * Input is a byte string (one char per byte). It can start in the data state (a
 * document) or inside an attribute (the value was reflected into one).
 */

export const DATA_TEXT = 0;
export const TAG_NAME_OPEN = 1;
export const TAG_NAME_CLOSE = 2;
export const TAG_NAME_SELFCLOSE = 3;
export const TAG_DATA = 4;
export const TAG_CLOSE = 5;
export const ATTR_NAME = 6;
export const ATTR_VALUE = 7;
export const TAG_COMMENT = 8;
export const DOCTYPE = 9;

/** Token type names as libinjection's test files spell them. */
export const html5TypeNames: readonly string[] = [
  'DATA_TEXT', 'TAG_NAME_OPEN', 'TAG_NAME_CLOSE', 'TAG_NAME_SELFCLOSE', 'TAG_DATA', 'TAG_CLOSE',
  'ATTR_NAME', 'ATTR_VALUE', 'TAG_COMMENT', 'DOCTYPE',
];

/** Where the tokenizer starts: in a document, or in an attribute value of some kind. */
export const START_DATA = 0;
export const START_VALUE_NO_QUOTE = 1;
export const START_VALUE_SINGLE_QUOTE = 2;
export const START_VALUE_DOUBLE_QUOTE = 3;
export const START_VALUE_BACK_QUOTE = 4;

// Tokenizer states (what html5Next runs next).
const S_EOF = 0;
const S_DATA = 1;
const S_TAG_NAME_CLOSE = 2;
const S_BEFORE_ATTRIBUTE_NAME = 3;
const S_SELF_CLOSING_START_TAG = 4;
const S_AFTER_ATTRIBUTE_NAME = 5;
const S_BEFORE_ATTRIBUTE_VALUE = 6;
const S_VALUE_SINGLE_QUOTE = 7;
const S_VALUE_DOUBLE_QUOTE = 8;
const S_VALUE_BACK_QUOTE = 9;
const S_AFTER_ATTRIBUTE_VALUE_QUOTED = 10;
const S_TAG_OPEN = 11;

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const PERCENT = 0x25;
const EQUALS = 0x3d;
const DASH = 0x2d;
const DOUBLE = 0x22;
const SINGLE = 0x27;
const TICK = 0x60;
const RIGHT_BRACKET = 0x5d;

/** What the skip-white-space helper returns at the end of the input. */
const EOF = -1;

export interface Html5State {
  s: string;
  len: number;
  pos: number;
  isClose: boolean;
  state: number;
  /** The current token: `s[tokenStart, tokenStart + tokenLen)` of type `tokenType`. */
  tokenStart: number;
  tokenLen: number;
  tokenType: number;
}

export function createHtml5State(): Html5State {
  return { s: '', len: 0, pos: 0, isClose: false, state: S_EOF, tokenStart: 0, tokenLen: 0, tokenType: DATA_TEXT };
}

/** Points the state at an input, starting in `start` (a START_* value). */
export function html5Init(hs: Html5State, s: string, start: number): void {
  hs.s = s;
  hs.len = s.length;
  hs.pos = 0;
  hs.isClose = false;
  hs.tokenStart = 0;
  hs.tokenLen = 0;
  hs.tokenType = DATA_TEXT;
  switch (start) {
    case START_VALUE_NO_QUOTE:
      hs.state = S_BEFORE_ATTRIBUTE_NAME;
      break;
    case START_VALUE_SINGLE_QUOTE:
      hs.state = S_VALUE_SINGLE_QUOTE;
      break;
    case START_VALUE_DOUBLE_QUOTE:
      hs.state = S_VALUE_DOUBLE_QUOTE;
      break;
    case START_VALUE_BACK_QUOTE:
      hs.state = S_VALUE_BACK_QUOTE;
      break;
    default:
      hs.state = S_DATA;
  }
}

/** Reads the next token into the state; false at the end. */
export function html5Next(hs: Html5State): boolean {
  switch (hs.state) {
    case S_DATA:
      return dataState(hs);
    case S_TAG_OPEN:
      return tagOpen(hs);
    case S_TAG_NAME_CLOSE:
      return tagNameClose(hs);
    case S_BEFORE_ATTRIBUTE_NAME:
      return beforeAttributeName(hs);
    case S_SELF_CLOSING_START_TAG:
      return selfClosingStartTag(hs);
    case S_AFTER_ATTRIBUTE_NAME:
      return afterAttributeName(hs);
    case S_BEFORE_ATTRIBUTE_VALUE:
      return beforeAttributeValue(hs);
    case S_VALUE_SINGLE_QUOTE:
      return quotedValue(hs, SINGLE);
    case S_VALUE_DOUBLE_QUOTE:
      return quotedValue(hs, DOUBLE);
    case S_VALUE_BACK_QUOTE:
      return quotedValue(hs, TICK);
    case S_AFTER_ATTRIBUTE_VALUE_QUOTED:
      return afterAttributeValueQuoted(hs);
    default:
      return false;
  }
}

function emit(hs: Html5State, type: number, start: number, len: number): true {
  hs.tokenType = type;
  hs.tokenStart = start;
  hs.tokenLen = len;
  return true;
}

/** White space for HTML5, and NUL too (libinjection finds it with strchr). */
function isWhite(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0;
}

/**
 * Skips white space (NUL, and IE's vertical tab, count too) and returns the byte found,
 * or EOF. The byte comes back as a C `char`: 0xFF reads as EOF, as in libinjection.
 */
function skipWhite(hs: Html5State): number {
  while (hs.pos < hs.len) {
    const c = hs.s.charCodeAt(hs.pos);
    if (c === 0 || c === 0x20 || (c >= 0x09 && c <= 0x0d)) {
      hs.pos += 1;
      continue;
    }
    return c === 0xff ? EOF : c;
  }
  return EOF;
}

/** One-char strings for String#indexOf (V8 keeps them in a table: no allocation). */
const CHARS: readonly string[] = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));

function indexOfByte(hs: Html5State, c: number, from: number): number {
  return hs.s.indexOf(CHARS[c] as string, from);
}

function isAsciiLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

/** Text up to the next `<`. */
function dataState(hs: Html5State): boolean {
  const lt = indexOfByte(hs, LT, hs.pos);
  if (lt < 0) {
    emit(hs, DATA_TEXT, hs.pos, hs.len - hs.pos);
    hs.state = S_EOF;
    return hs.tokenLen > 0;
  }
  emit(hs, DATA_TEXT, hs.pos, lt - hs.pos);
  hs.pos = lt + 1;
  hs.state = S_TAG_OPEN;
  return hs.tokenLen === 0 ? tagOpen(hs) : true;
}

/** Just after `<`. */
function tagOpen(hs: Html5State): boolean {
  if (hs.pos >= hs.len) return false;
  const c = hs.s.charCodeAt(hs.pos);
  if (c === BANG) {
    hs.pos += 1;
    return markupDeclarationOpen(hs);
  }
  if (c === SLASH) {
    hs.pos += 1;
    hs.isClose = true;
    return endTagOpen(hs);
  }
  if (c === QUESTION) {
    hs.pos += 1;
    return bogusComment(hs);
  }
  if (c === PERCENT) {
    // `<% … %>`: not HTML5, but old IE and Safari read it as a comment.
    hs.pos += 1;
    return percentComment(hs);
  }
  // IE ignores NUL bytes, also at the start of a tag name.
  if (isAsciiLetter(c) || c === 0) return tagName(hs);
  if (hs.pos === 0) return dataState(hs);
  // A `<` that starts nothing is text.
  hs.state = S_DATA;
  return emit(hs, DATA_TEXT, hs.pos - 1, 1);
}

/** Just after `</`. */
function endTagOpen(hs: Html5State): boolean {
  if (hs.pos >= hs.len) return false;
  const c = hs.s.charCodeAt(hs.pos);
  if (c === GT) return dataState(hs);
  if (isAsciiLetter(c)) return tagName(hs);
  hs.isClose = false;
  return bogusComment(hs);
}

/** The `>` that ends a start tag, as its own token. */
function tagNameClose(hs: Html5State): boolean {
  hs.isClose = false;
  emit(hs, TAG_NAME_CLOSE, hs.pos, 1);
  hs.pos += 1;
  hs.state = hs.pos < hs.len ? S_DATA : S_EOF;
  return true;
}

function tagName(hs: Html5State): boolean {
  const start = hs.pos;
  for (let i = start; i < hs.len; i++) {
    const c = hs.s.charCodeAt(i);
    // NUL bytes inside a tag name are skipped (old browsers ignore them).
    if (c === 0) continue;
    if (isWhite(c)) {
      emit(hs, TAG_NAME_OPEN, start, i - start);
      hs.pos = i + 1;
      hs.state = S_BEFORE_ATTRIBUTE_NAME;
      return true;
    }
    if (c === SLASH) {
      emit(hs, TAG_NAME_OPEN, start, i - start);
      hs.pos = i + 1;
      hs.state = S_SELF_CLOSING_START_TAG;
      return true;
    }
    if (c === GT) {
      if (hs.isClose) {
        emit(hs, TAG_CLOSE, start, i - start);
        hs.pos = i + 1;
        hs.isClose = false;
        hs.state = S_DATA;
      } else {
        emit(hs, TAG_NAME_OPEN, start, i - start);
        hs.pos = i;
        hs.state = S_TAG_NAME_CLOSE;
      }
      return true;
    }
  }
  emit(hs, TAG_NAME_OPEN, start, hs.len - start);
  hs.state = S_EOF;
  return true;
}

function beforeAttributeName(hs: Html5State): boolean {
  for (;;) {
    const c = skipWhite(hs);
    if (c === EOF) return false;
    if (c === SLASH) {
      hs.pos += 1;
      // `/` not followed by `>` is ignored here: keep looking for an attribute.
      if (hs.pos < hs.len && hs.s.charCodeAt(hs.pos) !== GT) continue;
      return selfClosingStartTag(hs);
    }
    if (c === GT) {
      hs.state = S_DATA;
      emit(hs, TAG_NAME_CLOSE, hs.pos, 1);
      hs.pos += 1;
      return true;
    }
    return attributeName(hs);
  }
}

function attributeName(hs: Html5State): boolean {
  const start = hs.pos;
  // The first byte belongs to the name whatever it is.
  for (let i = start + 1; i < hs.len; i++) {
    const c = hs.s.charCodeAt(i);
    let next = -1;
    if (isWhite(c)) next = S_AFTER_ATTRIBUTE_NAME;
    else if (c === SLASH) next = S_SELF_CLOSING_START_TAG;
    else if (c === EQUALS) next = S_BEFORE_ATTRIBUTE_VALUE;
    else if (c === GT) next = S_TAG_NAME_CLOSE;
    if (next >= 0) {
      emit(hs, ATTR_NAME, start, i - start);
      hs.state = next;
      // `>` stays to be read as the tag's end.
      hs.pos = c === GT ? i : i + 1;
      return true;
    }
  }
  emit(hs, ATTR_NAME, start, hs.len - start);
  hs.state = S_EOF;
  hs.pos = hs.len;
  return true;
}

function afterAttributeName(hs: Html5State): boolean {
  const c = skipWhite(hs);
  if (c === EOF) return false;
  if (c === SLASH) {
    hs.pos += 1;
    return selfClosingStartTag(hs);
  }
  if (c === EQUALS) {
    hs.pos += 1;
    return beforeAttributeValue(hs);
  }
  if (c === GT) return tagNameClose(hs);
  return attributeName(hs);
}

function beforeAttributeValue(hs: Html5State): boolean {
  const c = skipWhite(hs);
  if (c === EOF) {
    hs.state = S_EOF;
    return false;
  }
  if (c === DOUBLE || c === SINGLE || c === TICK) return quotedValue(hs, c); // back quote: IE
  return unquotedValue(hs);
}

/**
 * A quoted value up to its closing quote. At offset 0 the input started inside the value
 * (a reflected attribute): there is no opening quote to skip.
 */
function quotedValue(hs: Html5State, quote: number): boolean {
  if (hs.pos > 0) hs.pos += 1;
  const close = indexOfByte(hs, quote, hs.pos);
  if (close < 0) {
    emit(hs, ATTR_VALUE, hs.pos, hs.len - hs.pos);
    hs.state = S_EOF;
    return true;
  }
  emit(hs, ATTR_VALUE, hs.pos, close - hs.pos);
  hs.state = S_AFTER_ATTRIBUTE_VALUE_QUOTED;
  hs.pos = close + 1;
  return true;
}

function unquotedValue(hs: Html5State): boolean {
  const start = hs.pos;
  for (let i = start; i < hs.len; i++) {
    const c = hs.s.charCodeAt(i);
    if (isWhite(c)) {
      emit(hs, ATTR_VALUE, start, i - start);
      hs.pos = i + 1;
      hs.state = S_BEFORE_ATTRIBUTE_NAME;
      return true;
    }
    if (c === GT) {
      emit(hs, ATTR_VALUE, start, i - start);
      hs.pos = i;
      hs.state = S_TAG_NAME_CLOSE;
      return true;
    }
  }
  hs.state = S_EOF;
  return emit(hs, ATTR_VALUE, start, hs.len - start);
}

function afterAttributeValueQuoted(hs: Html5State): boolean {
  if (hs.pos >= hs.len) return false;
  const c = hs.s.charCodeAt(hs.pos);
  if (isWhite(c)) {
    hs.pos += 1;
    return beforeAttributeName(hs);
  }
  if (c === SLASH) {
    hs.pos += 1;
    return selfClosingStartTag(hs);
  }
  if (c === GT) {
    emit(hs, TAG_NAME_CLOSE, hs.pos, 1);
    hs.pos += 1;
    hs.state = S_DATA;
    return true;
  }
  // No white space after the quote: the next attribute starts right here.
  return beforeAttributeName(hs);
}

/** Just after a `/` inside a tag: `/>` closes it. */
function selfClosingStartTag(hs: Html5State): boolean {
  if (hs.pos >= hs.len) return false;
  if (hs.s.charCodeAt(hs.pos) === GT) {
    emit(hs, TAG_NAME_SELFCLOSE, hs.pos - 1, 2);
    hs.state = S_DATA;
    hs.pos += 1;
    return true;
  }
  return beforeAttributeName(hs);
}

/** `<?…>`, `</ …>` and other malformed markup: a comment up to the next `>`. */
function bogusComment(hs: Html5State): boolean {
  const gt = indexOfByte(hs, GT, hs.pos);
  if (gt < 0) {
    emit(hs, TAG_COMMENT, hs.pos, hs.len - hs.pos);
    hs.pos = hs.len;
    hs.state = S_EOF;
  } else {
    emit(hs, TAG_COMMENT, hs.pos, gt - hs.pos);
    hs.pos = gt + 1;
    hs.state = S_DATA;
  }
  return true;
}

/** `<% … %>`. */
function percentComment(hs: Html5State): boolean {
  let from = hs.pos;
  for (;;) {
    const pct = indexOfByte(hs, PERCENT, from);
    if (pct < 0 || pct + 1 >= hs.len) {
      emit(hs, TAG_COMMENT, hs.pos, hs.len - hs.pos);
      hs.pos = hs.len;
      hs.state = S_EOF;
      return true;
    }
    if (hs.s.charCodeAt(pct + 1) !== GT) {
      from = pct + 1;
      continue;
    }
    emit(hs, TAG_COMMENT, hs.pos, pct - hs.pos);
    hs.pos = pct + 2;
    hs.state = S_DATA;
    return true;
  }
}

/** Matches `word` (upper case) at `at`, ASCII case-insensitively. */
function hasWordAt(hs: Html5State, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    let c = hs.s.charCodeAt(at + i);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== word.charCodeAt(i)) return false;
  }
  return true;
}

/** Just after `<!`: a doctype, CDATA, a comment, or a bogus comment. */
function markupDeclarationOpen(hs: Html5State): boolean {
  const remaining = hs.len - hs.pos;
  if (remaining >= 7 && hasWordAt(hs, hs.pos, 'DOCTYPE')) return doctype(hs);
  // `[CDATA[` must be upper case.
  if (remaining >= 7 && hs.s.startsWith('[CDATA[', hs.pos)) {
    hs.pos += 7;
    return cdata(hs);
  }
  if (remaining >= 2 && hs.s.charCodeAt(hs.pos) === DASH && hs.s.charCodeAt(hs.pos + 1) === DASH) {
    hs.pos += 2;
    return comment(hs);
  }
  return bogusComment(hs);
}

/** A comment ends at the end of the input, or at `-->` or `-!>` (NULs after the first `-` ignored). */
function comment(hs: Html5State): boolean {
  const { s, len } = hs;
  let from = hs.pos;
  for (;;) {
    const dash = indexOfByte(hs, DASH, from);
    if (dash < 0 || dash > len - 3) break;
    let i = dash + 1;
    while (i < len && s.charCodeAt(i) === 0) i++;
    if (i === len) break;
    const c = s.charCodeAt(i);
    if (c !== DASH && c !== BANG) {
      from = dash + 1;
      continue;
    }
    i += 1;
    if (i === len) break;
    if (s.charCodeAt(i) !== GT) {
      from = dash + 1;
      continue;
    }
    emit(hs, TAG_COMMENT, hs.pos, dash - hs.pos);
    hs.pos = i + 1;
    hs.state = S_DATA;
    return true;
  }
  emit(hs, TAG_COMMENT, hs.pos, len - hs.pos);
  hs.state = S_EOF;
  return true;
}

/** `<![CDATA[ … ]]>` is text. */
function cdata(hs: Html5State): boolean {
  const { s, len } = hs;
  let from = hs.pos;
  for (;;) {
    const rb = indexOfByte(hs, RIGHT_BRACKET, from);
    if (rb < 0 || rb > len - 3) {
      emit(hs, DATA_TEXT, hs.pos, len - hs.pos);
      hs.state = S_EOF;
      return true;
    }
    if (s.charCodeAt(rb + 1) === RIGHT_BRACKET && s.charCodeAt(rb + 2) === GT) {
      emit(hs, DATA_TEXT, hs.pos, rb - hs.pos);
      hs.pos = rb + 3;
      hs.state = S_DATA;
      return true;
    }
    from = rb + 1;
  }
}

/** `<!DOCTYPE …>` */
function doctype(hs: Html5State): boolean {
  const gt = indexOfByte(hs, GT, hs.pos);
  if (gt < 0) {
    emit(hs, DOCTYPE, hs.pos, hs.len - hs.pos);
    hs.state = S_EOF;
  } else {
    emit(hs, DOCTYPE, hs.pos, gt - hs.pos);
    hs.pos = gt + 1;
    hs.state = S_DATA;
  }
  return true;
}
