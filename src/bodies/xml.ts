/**
 * @module bodies/xml
 * XML request bodies: well-formedness checked by a conforming parser (saxes), and a compact
 * tree for the XML variable (`XML:/*`, `XML://@*`, and the XPath subset of ./xpath.ts),
 * as ModSecurity v2 checks them with libxml2 and reads them with XPath (msc_xml.c,
 * re_variables.c). Names and values in the tree are UTF-8 bytes (a latin1 string of the
 * UTF-8 encoding), as libxml2 hands them to rules, whatever the document's encoding.
 *
 * What is refused, and why:
 * - anything not well-formed (truncated, garbled, two roots, bad characters…) → REQBODY_ERROR
 *   with v2's message "XML parser error: XML: Failed parsing document."; `detail` says why;
 * - nesting deeper than 256 elements, libxml2's own limit without XML_PARSE_HUGE;
 * - a reference to an external entity (`<!ENTITY x SYSTEM "…">`): nothing is ever fetched,
 *   and v2 (SecXmlExternalEntity Off) would silently leave it out; here the body is an error,
 *   so an XXE attempt meets the "request body error" rules instead of passing quietly;
 * - internal entities declared in the DOCTYPE are expanded (nested ones too), but all
 *   expansions together may not exceed 4 × the body + 8 KiB: entity bombs are errors.
 * Namespace mistakes (an unbound prefix) are not fatal, as in libxml2.
 *
 * On error the tree holds what was parsed before the error (v2 hands libxml2's partial
 * document to the rules too), so XML:/* still sees the start of a garbled body.
 * An empty body is not an error and has no tree (v2 never starts its parser).
 */
import { TextDecoder } from 'node:util';
import { SaxesParser, type SaxesTagNS } from 'saxes';

/** Node kinds in {@link XmlDocument.kind}. */
export const XML_DOCUMENT = 0;
export const XML_ELEMENT = 1;
export const XML_TEXT = 2;

/**
 * A parsed document as parallel arrays, nodes in document order (node 0 is the document
 * node). A node's subtree is the index range [node, end[node]): descendants are a range,
 * children are found by jumping `j = end[j]`. Text and CDATA are text nodes; comments and
 * processing instructions are not kept (no XPath here reads them).
 */
export interface XmlDocument {
  readonly kind: readonly number[];
  /** Element local name (UTF-8 bytes), '' for other nodes. */
  readonly local: readonly string[];
  /** Element namespace URI, '' when none. */
  readonly uri: readonly string[];
  /** One past the last node of each node's subtree. */
  readonly end: readonly number[];
  /** Text node content (UTF-8 bytes), '' for other nodes. */
  readonly text: readonly string[];
  /** Index of an element's first attribute in the attr* arrays, and how many it has. */
  readonly attrStart: readonly number[];
  readonly attrCount: readonly number[];
  /** Attributes in document order (namespace declarations are not attributes in XPath). */
  readonly attrOwner: readonly number[];
  readonly attrLocal: readonly string[];
  readonly attrUri: readonly string[];
  readonly attrValue: readonly string[];
}

/** What the engine passes from its configuration. */
export interface XmlOptions {
  /**
   * Deepest element nesting accepted; 256 by default (libxml2's), at most 2048 (libxml2's
   * with XML_PARSE_HUGE): saxes' namespace scopes make very deep nesting cost quadratic time.
   */
  readonly maxDepth?: number;
  /** Characters that entity expansion may add in all; 4 × the body + 8 KiB by default. */
  readonly maxEntityExpansion?: number;
}

/** The outcome of {@link parseXml}. */
export interface XmlResult {
  /** REQBODY_ERROR_MSG when the body is not well-formed, else null. */
  readonly error: string | null;
  /** Why, for the debug and audit logs: `line:column: reason`, or null. */
  readonly detail: string | null;
  /** The tree (partial on error); null for an empty body or one with no element. */
  readonly document: XmlDocument | null;
}

const MAX_DEPTH_CEILING = 2048;

/** REQBODY_ERROR_MSG for a body that is not well-formed XML, in ModSecurity v2's words. */
export const XML_ERROR_MESSAGE = 'XML parser error: XML: Failed parsing document.';

/**
 * Checks and parses an XML body.
 *
 * @param body the request body, as bytes
 * @param options depth and entity-expansion limits
 * @returns the error (or null), its detail, and the tree for XPath; never throws
 *
 * @example
 * const r = parseXml('<methodCall><methodName>pingback.ping</methodName></methodCall>');
 * evaluateXPath(r.document!, compileXPath('/methodCall/methodName/text()')); // ['pingback.ping']
 * parseXml('<methodCall><methodName>pingback.pi').error; // 'XML parser error: XML: Failed parsing document.'
 */
export function parseXml(body: string, options: XmlOptions = {}): XmlResult {
  if (body.length === 0) return { error: null, detail: null, document: null };
  const decoded = decodeDocument(body);
  if (typeof decoded !== 'string') return fail(decoded.error, null);
  const builder = new TreeBuilder(
    Math.min(options.maxDepth ?? 256, MAX_DEPTH_CEILING),
    options.maxEntityExpansion ?? 4 * body.length + 8192,
  );
  builder.parse(decoded);
  const document = builder.document();
  if (builder.error !== null) return fail(builder.error, document);
  return { error: null, detail: null, document };
}

function fail(detail: string, document: XmlDocument | null): XmlResult {
  return { error: XML_ERROR_MESSAGE, detail, document };
}

// ---------------------------------------------------------------------------------------
// Bytes to text: the encoding comes from a BOM or the XML declaration, as in libxml2

function decodeDocument(body: string): string | { error: string } {
  const b0 = body.charCodeAt(0);
  const b1 = body.charCodeAt(1);
  if (b0 === 0xfe && b1 === 0xff) return decodeWith('utf-16be', body, 2);
  if (b0 === 0xff && b1 === 0xfe) return decodeWith('utf-16le', body, 2);
  if (b0 === 0x00 && b1 === 0x3c) return decodeWith('utf-16be', body, 0);
  if (b0 === 0x3c && b1 === 0x00) return decodeWith('utf-16le', body, 0);
  let start = 0;
  if (b0 === 0xef && b1 === 0xbb && body.charCodeAt(2) === 0xbf) start = 3;
  const declared = declaredEncoding(body, start);
  if (declared === null || declared === 'utf-8' || declared === 'utf8') return decodeUtf8(body, start);
  // Latin-1 bytes are already their own code points: the input string is the text.
  if (declared === 'iso-8859-1' || declared === 'latin1' || declared === 'iso_8859-1' || declared === 'us-ascii' ||
      declared === 'ascii') {
    return start === 0 ? body : body.slice(start);
  }
  return decodeWith(declared, body, start);
}

/** The encoding named in `<?xml … encoding="…"?>`, lower-cased, or null. */
function declaredEncoding(body: string, start: number): string | null {
  if (!body.startsWith('<?xml', start)) return null;
  const close = body.indexOf('?>', start);
  const decl = body.slice(start, close === -1 ? Math.min(body.length, start + 256) : close);
  const m = /\sencoding\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(decl);
  if (m === null) return null;
  return (m[1] ?? m[2] ?? '').toLowerCase();
}

function decodeUtf8(body: string, start: number): string | { error: string } {
  let ascii = true;
  for (let i = start; i < body.length; i++) {
    if (body.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return start === 0 ? body : body.slice(start);
  return decodeWith('utf-8', body, start);
}

function decodeWith(label: string, body: string, start: number): string | { error: string } {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label, { fatal: true, ignoreBOM: true });
  } catch {
    return { error: `unsupported encoding ${label}` };
  }
  try {
    return decoder.decode(Buffer.from(start === 0 ? body : body.slice(start), 'latin1'));
  } catch {
    return { error: `input is not proper ${label}` };
  }
}

/** A JS string as the latin1 string of its UTF-8 bytes (ASCII passes through untouched). */
function toUtf8Bytes(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, 'utf8').toString('latin1');
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// The tree

/** Thrown from saxes' handlers to stop at the first fatal error; caught in `parse`. */
const STOP = Symbol('stop');

// Namespace errors leave a document well-formed for libxml2; saxes reports them as errors.
const NAMESPACE_ERRORS = ['unbound namespace prefix', 'undefine prefix', 'prefix must be bound', 'default namespace may not',
  'may not assign the xml namespace', 'may not have "xmlns" as prefix'];

// A class: the builder's arrays, open-element stack and entity budget are real state
// shared by the saxes callbacks.
class TreeBuilder {
  error: string | null = null;
  private readonly kind: number[] = [XML_DOCUMENT];
  private readonly local: string[] = [''];
  private readonly uri: string[] = [''];
  private readonly end: number[] = [0];
  private readonly text: string[] = [''];
  private readonly attrStart: number[] = [0];
  private readonly attrCount: number[] = [0];
  private readonly attrOwner: number[] = [];
  private readonly attrLocal: string[] = [];
  private readonly attrUri: string[] = [];
  private readonly attrValue: string[] = [];
  private readonly open: number[] = [];
  private readonly parser = new SaxesParser({ xmlns: true, position: true });
  private readonly entities = new EntityTable(this);
  private sawElement = false;

  constructor(
    private readonly maxDepth: number,
    private expansionBudget: number,
  ) {
    const p = this.parser;
    p.on('error', (e) => this.onError(e.message));
    p.on('doctype', (d) => this.onDoctype(d));
    p.on('opentag', (t) => this.onOpenTag(t));
    p.on('closetag', () => this.onCloseTag());
    p.on('text', (t) => this.onText(t));
    p.on('cdata', (t) => this.onText(t));
  }

  parse(text: string): void {
    try {
      this.parser.write(text).close();
    } catch (e) {
      if (e !== STOP) this.error = `parser failure: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (this.error === null && !this.sawElement) this.error = 'document must contain a root element.';
  }

  document(): XmlDocument | null {
    if (!this.sawElement) return null;
    const total = this.kind.length;
    for (const node of this.open) this.end[node] = total; // unclosed after an error
    this.end[0] = total;
    return {
      kind: this.kind,
      local: this.local,
      uri: this.uri,
      end: this.end,
      text: this.text,
      attrStart: this.attrStart,
      attrCount: this.attrCount,
      attrOwner: this.attrOwner,
      attrLocal: this.attrLocal,
      attrUri: this.attrUri,
      attrValue: this.attrValue,
    };
  }

  /** Records the first fatal error and unwinds out of saxes. */
  private stop(reason: string): never {
    this.error = reason;
    throw STOP;
  }

  /** A fatal error found outside saxes (entities, limits), placed at the parser's position. */
  stopWith(reason: string): never {
    return this.stop(`${this.position()}: ${reason}`);
  }

  /** Charged by the entity table for every expansion; going over the budget stops the parse. */
  charge(size: number): void {
    this.expansionBudget -= size;
    if (this.expansionBudget < 0) this.stopWith('entity expansion exceeds the limit.');
  }

  private onError(message: string): void {
    for (const ns of NAMESPACE_ERRORS) if (message.includes(ns)) return;
    this.stop(message);
  }

  private onDoctype(doctype: string): void {
    const problem = this.entities.declare(doctype, this.parser);
    if (problem !== null) this.stop(problem);
  }

  private onOpenTag(tag: SaxesTagNS): void {
    if (this.open.length >= this.maxDepth) this.stopWith(`excessive depth in document: ${this.maxDepth}.`);
    this.sawElement = true;
    const node = this.kind.length;
    const unbound = tag.prefix !== '' && this.parser.resolve(tag.prefix) === undefined;
    this.kind.push(XML_ELEMENT);
    this.local.push(toUtf8Bytes(unbound ? tag.name : tag.local));
    this.uri.push(unbound ? '' : toUtf8Bytes(tag.uri));
    this.end.push(node + 1);
    this.text.push('');
    this.attrStart.push(this.attrLocal.length);
    let count = 0;
    for (const name in tag.attributes) {
      const a = tag.attributes[name];
      if (a === undefined || a.name === 'xmlns' || a.prefix === 'xmlns') continue;
      const attrUnbound = a.prefix !== '' && this.parser.resolve(a.prefix) === undefined;
      this.attrOwner.push(node);
      this.attrLocal.push(toUtf8Bytes(attrUnbound ? a.name : a.local));
      this.attrUri.push(attrUnbound ? '' : toUtf8Bytes(a.uri));
      this.attrValue.push(toUtf8Bytes(a.value));
      count++;
    }
    this.attrCount.push(count);
    if (tag.isSelfClosing) return; // saxes still sends closetag; keep the stack symmetric
    this.open.push(node);
  }

  private onCloseTag(): void {
    const node = this.open.pop();
    if (node !== undefined) this.end[node] = this.kind.length;
  }

  private onText(t: string): void {
    if (this.open.length === 0 || t.length === 0) return; // whitespace around the root
    const node = this.kind.length;
    this.kind.push(XML_TEXT);
    this.local.push('');
    this.uri.push('');
    this.end.push(node + 1);
    this.text.push(toUtf8Bytes(t));
    this.attrStart.push(0);
    this.attrCount.push(0);
  }

  private position(): string {
    return `${this.parser.line}:${this.parser.column}`;
  }
}

// ---------------------------------------------------------------------------------------
// Internal entities from the DOCTYPE's internal subset

interface EntityDecl {
  /** The replacement text with character references already replaced, or null if external. */
  readonly literal: string | null;
  /** The fully expanded text, computed on first use. */
  expanded: string | null;
  expanding: boolean;
}

const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

// Holds the declared entities and hands saxes their expansions through getters, so every
// use is charged against the builder's budget before the text exists.
class EntityTable {
  private readonly decls = new Map<string, EntityDecl>();

  constructor(private readonly builder: TreeBuilder) {}

  /** Reads `<!ENTITY …>` declarations; returns an error message or null. */
  declare(doctype: string, parser: SaxesParser): string | null {
    const subsetStart = doctype.indexOf('[');
    if (subsetStart === -1) return null;
    const s = doctype;
    let i = subsetStart + 1;
    const n = s.length;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x5d /* ] */) break;
      if (s.startsWith('<!--', i)) {
        const e = s.indexOf('-->', i + 4);
        i = e === -1 ? n : e + 3;
      } else if (s.startsWith('<?', i)) {
        const e = s.indexOf('?>', i + 2);
        i = e === -1 ? n : e + 2;
      } else if (s.startsWith('<!ENTITY', i)) {
        i = this.readEntity(s, i + 8);
        if (i < 0) return 'malformed entity declaration in DOCTYPE.';
      } else if (s.startsWith('<!', i)) {
        i = skipMarkup(s, i + 2);
      } else {
        i++; // whitespace, parameter-entity references
      }
    }
    for (const [name, decl] of this.decls) {
      Object.defineProperty(parser.ENTITIES, name, {
        configurable: true,
        enumerable: true,
        get: () => this.use(name, decl),
      });
    }
    return null;
  }

  private readEntity(s: string, i: number): number {
    const n = s.length;
    i = skipSpace(s, i);
    let parameter = false;
    if (s.charCodeAt(i) === 0x25 /* % */) {
      parameter = true;
      i = skipSpace(s, i + 1);
    }
    const nameStart = i;
    while (i < n && !isXmlSpace(s.charCodeAt(i)) && s.charCodeAt(i) !== 0x3e) i++;
    const name = s.slice(nameStart, i);
    i = skipSpace(s, i);
    let literal: string | null = null;
    const q = s.charCodeAt(i);
    if (q === 0x22 || q === 0x27) {
      const close = s.indexOf(String.fromCharCode(q), i + 1);
      if (close === -1) return -1;
      literal = replaceCharRefs(s.slice(i + 1, close));
      i = close + 1;
    }
    i = skipMarkup(s, i);
    // The first declaration of a name wins (XML 1.0 §4.2); parameter entities are not ours.
    if (!parameter && name !== '' && !this.decls.has(name) && PREDEFINED[name] === undefined) {
      this.decls.set(name, { literal, expanded: null, expanding: false });
    }
    return i;
  }

  /** The expansion saxes inserts for `&name;`. */
  private use(name: string, decl: EntityDecl): string {
    const text = this.expand(name, decl);
    this.builder.charge(text.length);
    return text;
  }

  private expand(name: string, decl: EntityDecl): string {
    const builder = this.builder;
    if (decl.expanded !== null) return decl.expanded;
    if (decl.literal === null) return builder.stopWith(`reference to external entity ${name}: not loaded.`);
    if (decl.expanding) return builder.stopWith(`entity ${name} references itself.`);
    decl.expanding = true;
    const lit = decl.literal;
    let out = '';
    let run = 0;
    let i = lit.indexOf('&');
    while (i !== -1) {
      const semi = lit.indexOf(';', i + 1);
      if (semi === -1) return builder.stopWith(`malformed reference in entity ${name}.`);
      const ref = lit.slice(i + 1, semi);
      let piece: string;
      if (ref.charCodeAt(0) === 0x23 /* # */) {
        piece = replaceCharRefs(lit.slice(i, semi + 1));
      } else {
        const predefined = PREDEFINED[ref];
        const inner = this.decls.get(ref);
        if (predefined !== undefined) piece = predefined;
        else if (inner !== undefined) piece = this.expand(ref, inner);
        else return builder.stopWith(`undefined entity ${ref} in entity ${name}.`);
      }
      out += lit.slice(run, i) + piece;
      // Nested expansion grows before anything is inserted: charge it as it is built.
      builder.charge(piece.length);
      run = semi + 1;
      i = lit.indexOf('&', run);
    }
    out += lit.slice(run);
    decl.expanding = false;
    decl.expanded = out;
    return out;
  }
}

function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && isXmlSpace(s.charCodeAt(i))) i++;
  return i;
}

/** Past the `>` that ends a markup declaration, stepping over quoted literals. */
function skipMarkup(s: string, i: number): number {
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x3e) return i + 1;
    if (c === 0x22 || c === 0x27) {
      const close = s.indexOf(String.fromCharCode(c), i + 1);
      if (close === -1) return n;
      i = close + 1;
    } else {
      i++;
    }
  }
  return n;
}

/** Replaces `&#NN;` / `&#xHH;` (entity literals have them replaced when declared). */
function replaceCharRefs(text: string): string {
  let i = text.indexOf('&#');
  if (i === -1) return text;
  let out = '';
  let run = 0;
  while (i !== -1) {
    const semi = text.indexOf(';', i + 2);
    if (semi === -1) break;
    const hex = text.charCodeAt(i + 2) === 0x78;
    const digits = text.slice(i + (hex ? 3 : 2), semi);
    const cp = digits.length > 0 && digits.length <= 8 ? parseInt(digits, hex ? 16 : 10) : NaN;
    if (Number.isInteger(cp) && cp > 0 && cp <= 0x10ffff && /^[0-9a-fA-F]+$/.test(digits) && (hex || /^[0-9]+$/.test(digits))) {
      out += text.slice(run, i) + String.fromCodePoint(cp);
      run = semi + 1;
    }
    i = text.indexOf('&#', semi + 1);
  }
  return out + text.slice(run);
}
