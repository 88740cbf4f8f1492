/**
 * @module detect/xss
 * XSS detection compatible with libinjection (what ModSecurity's and Coraza's
 * `@detectXSS` run). The input is tokenized as HTML5 five times — as a document, and as
 * if it had been reflected into an unquoted, single-, double- and back-quoted attribute
 * value — and is XSS when any reading shows a dangerous tag (script, iframe, svg …), an
 * event-handler attribute (`on…`), a `javascript:`-like URL in a URL attribute, a style,
 * a doctype, or comments that old browsers execute.
 *
 * The tag, attribute and event names are libinjection's lists (BSD-3-Clause,
 * Copyright (c) 2012-2016 Nick Galbreath; see NOTICE).
 *
 * @example
 * detectXss('<a href="javascript:alert(1)">'); // true
 * detectXss('this is not an XSS'); // false
 */
import {
  ATTR_NAME,
  ATTR_VALUE,
  DOCTYPE,
  START_DATA,
  START_VALUE_BACK_QUOTE,
  START_VALUE_DOUBLE_QUOTE,
  START_VALUE_NO_QUOTE,
  START_VALUE_SINGLE_QUOTE,
  TAG_COMMENT,
  TAG_NAME_OPEN,
  createHtml5State,
  html5Init,
  html5Next,
  type Html5State,
} from './html5.js';

// What an attribute's value means for XSS.
const ATTR_NONE = 0;
/** Always dangerous, whatever the value. */
const ATTR_BLACK = 1;
/** Takes a URL: dangerous with a javascript:, vbscript:, data: or view-source: URL. */
const ATTR_URL = 2;
/** A style: always dangerous (expression(), behaviours, url(javascript:…)). */
const ATTR_STYLE = 3;
/** SVG's attributeName: the value names another attribute. */
const ATTR_INDIRECT = 4;

/** Tags that run code or load content, whatever their attributes. */
const BLACK_TAGS = [
  'APPLET', 'BASE', 'COMMENT', 'EMBED', 'FRAME', 'FRAMESET', 'HANDLER', 'IFRAME', 'IMPORT', 'ISINDEX',
  'LINK', 'LISTENER', 'META', 'NOSCRIPT', 'OBJECT', 'SCRIPT', 'STYLE', 'VMLFRAME', 'XML', 'XSS',
];

/** Attributes by name (compared whole, ASCII case-insensitively, NULs ignored). */
const BLACK_ATTRS: readonly (readonly [string, number])[] = [
  ['ACTION', ATTR_URL], ['ATTRIBUTENAME', ATTR_INDIRECT], ['BY', ATTR_URL], ['BACKGROUND', ATTR_URL],
  ['DATAFORMATAS', ATTR_BLACK], ['DATASRC', ATTR_BLACK], ['DYNSRC', ATTR_URL], ['FILTER', ATTR_STYLE],
  ['FORMACTION', ATTR_URL], ['FOLDER', ATTR_URL], ['FROM', ATTR_URL], ['HANDLER', ATTR_URL],
  ['HREF', ATTR_URL], ['LOWSRC', ATTR_URL], ['POSTER', ATTR_URL], ['SRC', ATTR_URL], ['STYLE', ATTR_STYLE],
  ['TO', ATTR_URL], ['VALUES', ATTR_URL], ['XLINK:HREF', ATTR_URL],
];

/**
 * DOM event names (after `on`), mostly from WebKit's EventNames.h. Each is compared as a
 * prefix of what follows `on`, so `onclickx` counts as `onclick`.
 */
const EVENTS = `
ABORT ACTIVATE ACTIVE ADDSOURCEBUFFER ADDSTREAM ADDTRACK AFTERPRINT ANIMATIONCANCEL ANIMATIONEND
ANIMATIONITERATION ANIMATIONSTART AUDIOEND AUDIOPROCESS AUDIOSTART AUTOCOMPLETEERROR AUTOCOMPLETE
BEFOREACTIVATE BEFORECOPY BEFORECUT BEFOREINPUT BEFORELOAD BEFOREPASTE BEFOREPRINT BEFOREUNLOAD
BEGINEVENT BLOCKED BLUR BOUNDARY BUFFEREDAMOUNTLOW CACHED CANCEL CANPLAYTHROUGH CANPLAY CHANGE
CHARGINGCHANGE CHARGINGTIMECHANGE CHECKING CLICK CLOSE COMPLETE COMPOSITIONEND COMPOSITIONSTART
COMPOSITIONUPDATE CONNECTING CONNECTIONSTATECHANGE CONNECT CONTEXTMENU CONTROLLERCHANGE COPY CUECHANGE
CUT DATAAVAILABLE DATACHANNEL DBLCLICK DEVICECHANGE DEVICEMOTION DEVICEORIENTATION
DISCHARGINGTIMECHANGE DISCONNECT DOMACTIVATE DOMCHARACTERDATAMODIFIED DOMCONTENTLOADED DOMFOCUSIN
DOMFOCUSOUT DOMNODEINSERTEDINTODOCUMENT DOMNODEINSERTED DOMNODEREMOVEDFROMDOCUMENT DOMNODEREMOVED
DOMSUBTREEMODIFIED DOWNLOADING DRAGEND DRAGENTER DRAGLEAVE DRAGOVER DRAGSTART DRAG DROP DURATIONCHANGE
EMPTIED ENCRYPTED ENDED ENDEVENT END ENTERPICTUREINPICTURE ENTER ERROR EXIT FETCH FINISH FOCUSIN
FOCUSOUT FOCUS FORMCHANGE FORMINPUT GAMEPADCONNECTED GAMEPADDISCONNECTED GESTURECHANGE GESTUREEND
GESTURESCROLLEND GESTURESCROLLSTART GESTURESCROLLUPDATE GESTURESTART GESTURETAPDOWN GESTURETAP
GOTPOINTERCAPTURE HASHCHANGE ICECANDIDATEERROR ICECANDIDATE ICECONNECTIONSTATECHANGE
ICEGATHERINGSTATECHANGE INACTIVE INPUTSOURCESCHANGE INPUT INSTALL INVALID KEYDOWN KEYPRESS
KEYSTATUSESCHANGE KEYUP LANGUAGECHANGE LEAVEPICTUREINPICTURE LEVELCHANGE LOADEDDATA LOADEDMETADATA
LOADEND LOADINGDONE LOADINGERROR LOADING LOADSTART LOAD LOSTPOINTERCAPTURE MARK MERCHANTVALIDATION
MESSAGEERROR MESSAGE MOUSEDOWN MOUSEENTER MOUSELEAVE MOUSEMOVE MOUSEOUT MOUSEOVER MOUSEUP MOUSEWHEEL
MUTE NEGOTIATIONNEEDED NEXTTRACK NOMATCH NOUPDATE OBSOLETE OFFLINE ONLINE OPEN ORIENTATIONCHANGE
OVERCONSTRAINED OVERFLOWCHANGED PAGEHIDE PAGESHOW PASTE PAUSE PAYERDETAILCHANGE PAYMENTAUTHORIZED
PAYMENTMETHODCHANGE PAYMENTMETHODSELECTED PLAYING PLAY POINTERCANCEL POINTERDOWN POINTERENTER
POINTERLEAVE POINTERLOCKCHANGE POINTERLOCKERROR POINTERMOVE POINTEROUT POINTEROVER POINTERUP POPSTATE
PREVIOUSTRACK PROCESSORERROR PROGRESS PROPERTYCHANGE RATECHANGE READYSTATECHANGE REJECTIONHANDLED
REMOVESOURCEBUFFER REMOVESTREAM REMOVETRACK REMOVE RESET RESIZE RESOURCETIMINGBUFFERFULL RESULT RESUME
SCROLL SEARCH SECURITYPOLICYVIOLATION SEEKED SEEKING SELECTEND SELECTIONCHANGE SELECTSTART SELECT
SHIPPINGADDRESSCHANGE SHIPPINGCONTACTSELECTED SHIPPINGMETHODSELECTED SHIPPINGOPTIONCHANGE SHOW
SIGNALINGSTATECHANGE SLOTCHANGE SOUNDEND SOUNDSTART SOURCECLOSE SOURCEENDED SOURCEOPEN SPEECHEND
SPEECHSTART SQUEEZEEND SQUEEZESTART SQUEEZE STALLED STARTED START STATECHANGE STOP STORAGE SUBMIT
SUCCESS SUSPEND TEXTINPUT TIMEOUT TIMEUPDATE TOGGLE TONECHANGE TOUCHCANCEL TOUCHEND TOUCHFORCECHANGE
TOUCHMOVE TOUCHSTART TRACK TRANSITIONCANCEL TRANSITIONEND TRANSITIONRUN TRANSITIONSTART
UNCAPTUREDERROR UNHANDLEDREJECTION UNLOAD UNMUTE UPDATEEND UPDATEFOUND UPDATEREADY UPDATESTART UPDATE
UPGRADENEEDED VALIDATEMERCHANT VERSIONCHANGE VISIBILITYCHANGE VOLUMECHANGE WAITINGFORKEY WAITING
WEBGLCONTEXTCHANGED WEBGLCONTEXTCREATIONERROR WEBGLCONTEXTLOST WEBGLCONTEXTRESTORED WEBKITANIMATIONEND
WEBKITANIMATIONITERATION WEBKITANIMATIONSTART WEBKITBEFORETEXTINSERTED WEBKITBEGINFULLSCREEN
WEBKITCURRENTPLAYBACKTARGETISWIRELESSCHANGED WEBKITENDFULLSCREEN WEBKITFULLSCREENCHANGE
WEBKITFULLSCREENERROR WEBKITKEYADDED WEBKITKEYERROR WEBKITKEYMESSAGE WEBKITMOUSEFORCECHANGED
WEBKITMOUSEFORCEDOWN WEBKITMOUSEFORCEUP WEBKITMOUSEFORCEWILLBEGIN WEBKITNEEDKEY WEBKITNETWORKINFOCHANGE
WEBKITPLAYBACKTARGETAVAILABILITYCHANGED WEBKITPRESENTATIONMODECHANGED WEBKITREGIONOVERSETCHANGE
WEBKITREMOVESOURCEBUFFER WEBKITSOURCECLOSE WEBKITSOURCEENDED WEBKITSOURCEOPEN WEBKITSPEECHCHANGE
WEBKITTRANSITIONEND WEBKITWILLREVEALBOTTOM WEBKITWILLREVEALLEFT WEBKITWILLREVEALRIGHT
WEBKITWILLREVEALTOP WHEEL WRITEEND WRITESTART WRITE ZOOM
`.trim().split(/\s+/);

/** URL schemes that run code or show attacker-chosen content (`JAVA` covers javascript:). */
const BLACK_SCHEMES = ['DATA', 'VIEW-SOURCE', 'JAVA', 'VBSCRIPT'];

/** Byte at `i`, or 0 past the end (ModSecurity's values are NUL-terminated). */
function byteAt(s: string, i: number): number {
  return i < s.length ? s.charCodeAt(i) : 0;
}

/**
 * `word` (upper case) equals the `n` bytes at `at`, ASCII case-insensitively, skipping
 * NUL bytes in the input. Like libinjection, bytes past the input's end read as NUL.
 */
function equalsIgnoringNul(word: string, s: string, at: number, n: number): boolean {
  let w = 0;
  for (let i = 0; i < n; i++) {
    let c = byteAt(s, at + i);
    if (c === 0) continue;
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (w >= word.length || word.charCodeAt(w) !== c) return false;
    w++;
  }
  return w === word.length;
}

/** Upper-case hex digit values; 256 = not a digit. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return 256;
}

/** Result of `decodeCharAt`: the code point and how many bytes it took. */
const decoded = { value: 0, consumed: 0 };

/**
 * Decodes one character of an HTML attribute value at `at` (`n` bytes left): a numeric
 * character reference (`&#106;`, `&#x6A`, with or without `;`) or a plain byte. Named
 * references are left alone (`&` stays `&`), as libinjection does.
 */
function decodeCharAt(s: string, at: number, n: number): void {
  decoded.consumed = 1;
  const c = byteAt(s, at);
  if (c !== 0x26 || n < 2) {
    decoded.value = c;
    return;
  }
  decoded.value = 0x26;
  if (byteAt(s, at + 1) !== 0x23) return;
  const hex = (byteAt(s, at + 2) | 0x20) === 0x78;
  let i = hex ? 3 : 2;
  let value = hex ? hexValue(byteAt(s, at + 3)) : byteAt(s, at + 2) - 0x30;
  if (hex ? value === 256 : value < 0 || value > 9) return;
  // Overlong references (beyond 0x1000FF) decode to nothing useful: keep the `&`.
  for (i += 1; i < n; i++) {
    const d = byteAt(s, at + i);
    if (d === 0x3b) {
      decoded.value = value;
      decoded.consumed = i + 1;
      return;
    }
    const digit = hex ? hexValue(d) : d >= 0x30 && d <= 0x39 ? d - 0x30 : 256;
    if (digit === 256) {
      decoded.value = value;
      decoded.consumed = i;
      return;
    }
    value = value * (hex ? 16 : 10) + digit;
    if (value > 0x1000ff) return;
  }
  decoded.value = value;
  decoded.consumed = i;
}

/**
 * The HTML-encoded value `s[at, at+n)` starts with `prefix` (upper case), ignoring
 * leading white space and control characters, NULs and newlines anywhere, and case.
 * Decoded characters are compared by their low byte, as libinjection's `char` does.
 */
function htmlStartsWith(prefix: string, s: string, at: number, n: number): boolean {
  let p = 0;
  let leading = true;
  while (n > 0) {
    if (p === prefix.length) return true;
    decodeCharAt(s, at, n);
    at += decoded.consumed;
    n -= decoded.consumed;
    let c = decoded.value;
    if (leading && c <= 32) continue;
    leading = false;
    if (c === 0 || c === 10) continue;
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (prefix.charCodeAt(p) !== (c & 0xff)) return false;
    p++;
  }
  return p === prefix.length;
}

function isBlackTag(s: string, at: number, n: number): boolean {
  if (n < 3) return false;
  for (const tag of BLACK_TAGS) if (equalsIgnoringNul(tag, s, at, n)) return true;
  const c0 = s.charCodeAt(at) | 0x20;
  const c1 = s.charCodeAt(at + 1) | 0x20;
  const c2 = s.charCodeAt(at + 2) | 0x20;
  // Anything SVG, anything XSL(T).
  return (c0 === 0x73 && c1 === 0x76 && c2 === 0x67) || (c0 === 0x78 && c1 === 0x73 && c2 === 0x6c);
}

/** Names grouped by their first letter (A-Z), so a lookup compares only candidates. */
function byFirstLetter<T>(items: readonly T[], name: (item: T) => string): T[][] {
  const groups: T[][] = Array.from({ length: 26 }, () => []);
  for (const item of items) groups[name(item).charCodeAt(0) - 0x41]?.push(item);
  return groups;
}

const EVENTS_BY_LETTER = byFirstLetter(EVENTS, (e) => e);
const ATTRS_BY_LETTER = byFirstLetter(BLACK_ATTRS, ([name]) => name);
const LONGEST_EVENT = Math.max(...EVENTS.map((e) => e.length));
const NO_EVENTS: readonly string[] = [];
const NO_ATTRS: typeof BLACK_ATTRS = [];

/**
 * Index (0-25) of the upper-cased letter that a NUL-skipping comparison of at most `n`
 * bytes at `at` starts with, or -1 when that is no letter (then no name can match).
 */
function firstLetter(s: string, at: number, n: number): number {
  for (let i = 0; i < n; i++) {
    const c = byteAt(s, at + i);
    if (c === 0) continue;
    const l = (c | 0x20) - 0x61;
    return l >= 0 && l < 26 ? l : -1;
  }
  return -1;
}

function blackAttrType(s: string, at: number, n: number): number {
  if (n < 2) return ATTR_NONE;
  if (n >= 5) {
    if ((s.charCodeAt(at) | 0x20) === 0x6f && (s.charCodeAt(at + 1) | 0x20) === 0x6e) {
      // on + an event name, compared as a prefix of the rest — reading on past the
      // attribute name when it is shorter than the event, as libinjection does.
      const letter = firstLetter(s, at + 2, LONGEST_EVENT);
      for (const ev of EVENTS_BY_LETTER[letter] ?? NO_EVENTS) {
        if (equalsIgnoringNul(ev, s, at + 2, ev.length)) return ATTR_BLACK;
      }
    }
    // xmlns can create arbitrary tags; xlink:* can hold URLs.
    if (equalsIgnoringNul('XMLNS', s, at, 5) || equalsIgnoringNul('XLINK', s, at, 5)) return ATTR_BLACK;
  }
  for (const [name, type] of ATTRS_BY_LETTER[firstLetter(s, at, n)] ?? NO_ATTRS) {
    if (equalsIgnoringNul(name, s, at, n)) return type;
  }
  return ATTR_NONE;
}

function isBlackUrl(s: string, at: number, n: number): boolean {
  // Leading white space, control bytes and non-ASCII bytes (Opera skips UTF-8 spaces).
  while (n > 0) {
    const c = s.charCodeAt(at);
    if (c > 32 && c < 127) break;
    at++;
    n--;
  }
  for (const scheme of BLACK_SCHEMES) if (htmlStartsWith(scheme, s, at, n)) return true;
  return false;
}

/** A comment that old browsers act on: `` ` `` ends a tag in IE, conditional comments, `<?import`, XML entities. */
function isBlackComment(s: string, at: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (s.charCodeAt(at + i) === 0x60) return true;
  if (n > 3) {
    const c0 = s.charCodeAt(at);
    const c1 = s.charCodeAt(at + 1) | 0x20;
    const c2 = s.charCodeAt(at + 2) | 0x20;
    if (c0 === 0x5b && c1 === 0x69 && c2 === 0x66) return true; // [if
    if ((c0 | 0x20) === 0x78 && c1 === 0x6d && c2 === 0x6c) return true; // xml
  }
  if (n > 5 && (equalsIgnoringNul('IMPORT', s, at, 6) || equalsIgnoringNul('ENTITY', s, at, 6))) return true;
  return false;
}

const shared: Html5State = createHtml5State();

/** XSS in one reading of the input (`start` is a START_* value of ./html5.js). */
export function isXssIn(s: string, start: number, hs: Html5State = shared): boolean {
  html5Init(hs, s, start);
  let attr = ATTR_NONE;
  let found = false;
  while (!found && html5Next(hs)) {
    const type = hs.tokenType;
    const at = hs.tokenStart;
    const n = hs.tokenLen;
    if (type !== ATTR_VALUE) attr = ATTR_NONE;
    if (type === DOCTYPE) found = true;
    else if (type === TAG_NAME_OPEN) found = isBlackTag(s, at, n);
    else if (type === ATTR_NAME) attr = blackAttrType(s, at, n);
    else if (type === ATTR_VALUE) {
      if (attr === ATTR_BLACK || attr === ATTR_STYLE) found = true;
      else if (attr === ATTR_URL) found = isBlackUrl(s, at, n);
      else if (attr === ATTR_INDIRECT) found = blackAttrType(s, at, n) !== ATTR_NONE;
      attr = ATTR_NONE;
    } else if (type === TAG_COMMENT) found = isBlackComment(s, at, n);
  }
  html5Init(hs, '', START_DATA); // do not keep the caller's data alive
  return found;
}

/**
 * Detects XSS in a byte string (one char per byte): true when any of the five readings
 * (document; unquoted, single-, double-, back-quoted attribute value) is dangerous.
 */
export function detectXss(input: string): boolean {
  return (
    isXssIn(input, START_DATA) ||
    isXssIn(input, START_VALUE_NO_QUOTE) ||
    isXssIn(input, START_VALUE_SINGLE_QUOTE) ||
    isXssIn(input, START_VALUE_DOUBLE_QUOTE) ||
    isXssIn(input, START_VALUE_BACK_QUOTE)
  );
}
