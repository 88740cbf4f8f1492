/**
 * @module bodies/xpath
 * The XPath subset rules use after `XML:`, compiled once when rules load and evaluated
 * against a parsed body ({@link XmlDocument}). Each selected node gives one value: its
 * string value, as ModSecurity v2 takes `xmlNodeGetContent` of every node libxml2's XPath
 * returns (an element gives all its text, an attribute its value, a text node its text).
 *
 * Supported (XPath 1.0 meaning, namespaces as libxml2 treats them):
 * - paths: `/`, `/a/b`, `//a`, `/a//b`, relative `a/b` (from the document, like v2's context);
 * - steps: `name`, `prefix:name`, `*`, `prefix:*`, `@name`, `@*`, `text()`, `node()`, `.`,
 *   and the axes `child::`, `attribute::`, `descendant::`, `descendant-or-self::`, `self::`;
 * - predicates: `[2]`, `[last()]`, `[@id]`, `[@id='x']`, `[name]`, `[name='x']`,
 *   `[text()='x']`, `[.='x']`, and `!=` in place of `=`.
 *
 * An unprefixed name matches only elements in no namespace (so `/methodCall` does not match
 * `<methodCall xmlns="urn:x">`, exactly as in libxml2); a prefix must be declared with the
 * rule's `xmlns:prefix=uri` actions and is given to {@link compileXPath}. Anything else
 * (functions, unions, `..`, other axes or operators) is refused at load time with a reason.
 */
import { XML_ELEMENT, XML_TEXT, type XmlDocument } from './xml.js';

/** A rule's XPath expression is outside the supported subset or malformed. */
export class XPathError extends Error {
  override readonly name = 'XPathError';

  constructor(
    readonly expression: string,
    readonly reason: string,
  ) {
    super(`XPath ${JSON.stringify(expression)}: ${reason}`);
  }
}

type Axis = 'child' | 'attribute' | 'descendant' | 'descendant-or-self' | 'self';

type NodeTest =
  | { readonly kind: 'name'; readonly local: string; readonly uri: string }
  | { readonly kind: 'any'; readonly uri: string | null } // `*` (null: any namespace) or `p:*`
  | { readonly kind: 'text' }
  | { readonly kind: 'node' };

type Predicate =
  | { readonly kind: 'position'; readonly position: number } // 0 = last()
  | { readonly kind: 'has'; readonly step: Step; readonly equals: string | null; readonly negate: boolean };

interface Step {
  readonly axis: Axis;
  readonly test: NodeTest;
  readonly predicates: readonly Predicate[];
}

/** A compiled expression; evaluate it with {@link evaluateXPath}. */
export interface CompiledXPath {
  readonly source: string;
  readonly steps: readonly Step[];
}

const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';

/**
 * Compiles an expression of the supported subset.
 *
 * @param expression the text after `XML:` in a rule, e.g. `/methodCall/methodName/text()`
 * @param namespaces prefix → URI, from the rule's `xmlns` actions
 * @throws {XPathError} with the reason, for anything outside the subset
 *
 * @example
 * const methodName = compileXPath('//methodName');
 * const soapAction = compileXPath('/soap:Envelope/soap:Body/*', { soap: 'http://schemas.xmlsoap.org/soap/envelope/' });
 * compileXPath('count(//a)'); // throws XPathError: … functions are not supported
 */
export function compileXPath(expression: string, namespaces: Readonly<Record<string, string>> = {}): CompiledXPath {
  const parser = new PathParser(expression, namespaces);
  return { source: expression, steps: parser.parsePath() };
}

/**
 * The string values of the nodes an expression selects, in document order.
 *
 * @example
 * const doc = parseXml('<a x="1"><b>hi</b><b>there</b></a>').document!;
 * evaluateXPath(doc, compileXPath('/*'));     // ['hithere']   (XML:/*)
 * evaluateXPath(doc, compileXPath('//@*'));   // ['1']         (XML://@*)
 * evaluateXPath(doc, compileXPath('/a/b[2]')); // ['there']
 */
export function evaluateXPath(doc: XmlDocument, xpath: CompiledXPath): string[] {
  let nodes: number[] = [0];
  for (const step of xpath.steps) {
    nodes = applyStep(doc, nodes, step);
    if (nodes.length === 0) break;
  }
  const values: string[] = new Array<string>(nodes.length);
  for (let i = 0; i < nodes.length; i++) values[i] = stringValue(doc, nodes[i] ?? 0);
  return values;
}

// Node ids: tree nodes are their index (0 = document); attribute k is -(k + 1), which keeps
// one number per node and lets a sort put attributes right after their element.

function stringValue(doc: XmlDocument, node: number): string {
  if (node < 0) return doc.attrValue[-node - 1] ?? '';
  if (doc.kind[node] === XML_TEXT) return doc.text[node] ?? '';
  const end = doc.end[node] ?? node;
  let out = '';
  for (let j = node + 1; j < end; j++) if (doc.kind[j] === XML_TEXT) out += doc.text[j] ?? '';
  return out;
}

function matches(doc: XmlDocument, node: number, test: NodeTest, axis: Axis): boolean {
  if (node < 0) {
    const k = -node - 1;
    switch (test.kind) {
      case 'node': return true;
      case 'text': return false;
      case 'any': return axis === 'attribute' && (test.uri === null || doc.attrUri[k] === test.uri);
      case 'name': return axis === 'attribute' && doc.attrLocal[k] === test.local && doc.attrUri[k] === test.uri;
    }
  }
  const kind = doc.kind[node];
  switch (test.kind) {
    case 'node': return true;
    case 'text': return kind === XML_TEXT;
    case 'any': return kind === XML_ELEMENT && (test.uri === null || doc.uri[node] === test.uri);
    case 'name': return kind === XML_ELEMENT && doc.local[node] === test.local && doc.uri[node] === test.uri;
  }
}

/** The nodes one step selects from one context node, before predicates. */
function axisNodes(doc: XmlDocument, context: number, axis: Axis, test: NodeTest, out: number[]): void {
  if (axis === 'self') {
    if (matches(doc, context, test, axis)) out.push(context);
    return;
  }
  if (context < 0) return; // attributes have no children or attributes
  if (axis === 'attribute') {
    if (doc.kind[context] !== XML_ELEMENT) return;
    const first = doc.attrStart[context] ?? 0;
    const count = doc.attrCount[context] ?? 0;
    for (let k = first; k < first + count; k++) if (matches(doc, -k - 1, test, axis)) out.push(-k - 1);
    return;
  }
  const end = doc.end[context] ?? context + 1;
  if (axis === 'child') {
    for (let j = context + 1; j < end; j = doc.end[j] ?? end) if (matches(doc, j, test, axis)) out.push(j);
    return;
  }
  if (axis === 'descendant-or-self' && matches(doc, context, test, axis)) out.push(context);
  for (let j = context + 1; j < end; j++) if (matches(doc, j, test, axis)) out.push(j);
}

function applyPredicates(doc: XmlDocument, candidates: number[], predicates: readonly Predicate[]): number[] {
  let list = candidates;
  for (const p of predicates) {
    if (p.kind === 'position') {
      const index = p.position === 0 ? list.length - 1 : p.position - 1;
      const kept = list[index];
      list = kept === undefined ? [] : [kept];
      continue;
    }
    const kept: number[] = [];
    const scratch: number[] = [];
    for (const node of list) {
      scratch.length = 0;
      axisNodes(doc, node, p.step.axis, p.step.test, scratch);
      let ok = false;
      for (const found of scratch) {
        if (p.equals === null || (stringValue(doc, found) === p.equals) !== p.negate) {
          ok = true;
          break;
        }
      }
      if (ok) kept.push(node);
    }
    list = kept;
  }
  return list;
}

/** Document order: a node, then its attributes, then its children. */
function orderKey(node: number, doc: XmlDocument): number {
  return node >= 0 ? node * 2 : (doc.attrOwner[-node - 1] ?? 0) * 2 + 1;
}

function applyStep(doc: XmlDocument, context: readonly number[], step: Step): number[] {
  const out: number[] = [];
  const perContext: number[] = [];
  for (const node of context) {
    perContext.length = 0;
    axisNodes(doc, node, step.axis, step.test, perContext);
    const kept = step.predicates.length === 0 ? perContext : applyPredicates(doc, perContext, step.predicates);
    for (const k of kept) out.push(k);
  }
  // Results from nested context nodes interleave: restore document order, drop duplicates.
  let sorted = true;
  for (let i = 1; i < out.length && sorted; i++) {
    if (orderKey(out[i - 1] ?? 0, doc) >= orderKey(out[i] ?? 0, doc)) sorted = false;
  }
  if (sorted) return out;
  const keyed = out.map((node) => ({ node, key: orderKey(node, doc) }));
  // Attributes of one element share a key; their ids are negative, so the later one is smaller.
  keyed.sort((a, b) => a.key - b.key || b.node - a.node);
  const unique: number[] = [];
  for (let i = 0; i < keyed.length; i++) {
    const k = keyed[i];
    if (k !== undefined && (i === 0 || keyed[i - 1]?.node !== k.node)) unique.push(k.node);
  }
  return unique;
}

// ---------------------------------------------------------------------------------------
// The compiler

class PathParser {
  private pos = 0;

  constructor(
    private readonly src: string,
    private readonly namespaces: Readonly<Record<string, string>>,
  ) {}

  private fail(reason: string): never {
    throw new XPathError(this.src, reason);
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && /\s/.test(this.src.charAt(this.pos))) this.pos++;
  }

  private peek(text: string): boolean {
    this.skipSpace();
    return this.src.startsWith(text, this.pos);
  }

  private eat(text: string): boolean {
    if (!this.peek(text)) return false;
    this.pos += text.length;
    return true;
  }

  parsePath(): Step[] {
    const steps: Step[] = [];
    this.skipSpace();
    if (this.pos >= this.src.length) this.fail('empty expression');
    const descendantOrSelf: Step = { axis: 'descendant-or-self', test: { kind: 'node' }, predicates: [] };
    if (this.eat('//')) {
      steps.push(descendantOrSelf);
    } else if (this.eat('/')) {
      this.skipSpace();
      if (this.pos >= this.src.length) return steps; // `/`: the document itself
    }
    for (;;) {
      steps.push(this.parseStep());
      this.skipSpace();
      if (this.pos >= this.src.length) break;
      if (this.eat('//')) steps.push(descendantOrSelf);
      else if (!this.eat('/')) this.unexpected();
    }
    return steps;
  }

  private unexpected(): never {
    if (this.pos >= this.src.length) this.fail('the expression ends where a step is expected');
    const c = this.src.charAt(this.pos);
    if (c === '|') this.fail('unions (|) are not supported');
    if (c === '(') this.fail('functions are not supported');
    if (c === '[') this.fail('a predicate must follow a step');
    if ('=!<>+-'.includes(c)) this.fail('operators are only supported inside predicates (=, !=)');
    this.fail(`unexpected ${JSON.stringify(c)} at offset ${this.pos}`);
  }

  private parseStep(): Step {
    this.skipSpace();
    if (this.eat('..')) this.fail('parent steps (..) are not supported');
    if (this.eat('.')) return { axis: 'self', test: { kind: 'node' }, predicates: this.parsePredicates() };
    let axis: Axis = 'child';
    if (this.eat('@')) {
      axis = 'attribute';
    } else {
      const m = /^([a-z-]+)\s*::/.exec(this.src.slice(this.pos));
      if (m !== null) {
        const name = m[1] ?? '';
        if (name !== 'child' && name !== 'attribute' && name !== 'descendant' && name !== 'descendant-or-self' && name !== 'self') {
          this.fail(`the ${name} axis is not supported`);
        }
        axis = name;
        this.pos += m[0].length;
      }
    }
    const test = this.parseNodeTest();
    return { axis, test, predicates: this.parsePredicates() };
  }

  private parseNodeTest(): NodeTest {
    this.skipSpace();
    if (this.eat('*')) return { kind: 'any', uri: null };
    const name = this.parseName();
    if (name === '') this.unexpected();
    if (this.peek('(')) {
      this.eat('(');
      if (!this.eat(')')) this.fail('functions are not supported');
      if (name === 'text') return { kind: 'text' };
      if (name === 'node') return { kind: 'node' };
      this.fail(`${name}() is not supported (only text() and node())`);
    }
    if (this.src.charAt(this.pos) === ':' && this.src.charAt(this.pos + 1) !== ':') {
      this.pos++;
      const uri = this.resolvePrefix(name);
      if (this.eat('*')) return { kind: 'any', uri };
      const local = this.parseName();
      if (local === '') this.fail(`a name must follow "${name}:"`);
      return { kind: 'name', local, uri };
    }
    return { kind: 'name', local: name, uri: '' };
  }

  private resolvePrefix(prefix: string): string {
    if (prefix === 'xml') return XML_NAMESPACE;
    const uri = this.namespaces[prefix];
    if (uri === undefined) this.fail(`undefined namespace prefix "${prefix}" (declare it with xmlns:${prefix}=…)`);
    return uri;
  }

  /** An NCName (letters, digits, `_`, `-`, `.`, and any non-ASCII byte of a UTF-8 name). */
  private parseName(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.src.length) {
      const c = this.src.charCodeAt(this.pos);
      const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80 ||
        (this.pos > start && ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e));
      if (!ok) break;
      this.pos++;
    }
    return this.src.slice(start, this.pos);
  }

  private parsePredicates(): Predicate[] {
    const predicates: Predicate[] = [];
    while (this.eat('[')) {
      predicates.push(this.parsePredicate());
      if (!this.eat(']')) this.fail('predicate not closed with ]');
    }
    return predicates;
  }

  private parsePredicate(): Predicate {
    this.skipSpace();
    const num = /^\d+/.exec(this.src.slice(this.pos));
    if (num !== null) {
      this.pos += num[0].length;
      const position = Number(num[0]);
      if (position < 1) this.fail('positions start at 1');
      return { kind: 'position', position };
    }
    if (this.eat('last()')) return { kind: 'position', position: 0 };
    let step: Step;
    if (this.eat('.')) {
      step = { axis: 'self', test: { kind: 'node' }, predicates: [] };
    } else {
      const axis: Axis = this.eat('@') ? 'attribute' : 'child';
      const test = this.parseNodeTest();
      step = { axis, test, predicates: [] };
    }
    this.skipSpace();
    let negate = false;
    if (this.eat('!=')) negate = true;
    else if (!this.eat('=')) {
      if (this.peek(']')) return { kind: 'has', step, equals: null, negate: false };
      if (this.peek('/')) this.fail('paths inside predicates are not supported (one step only)');
      this.fail('only = and != comparisons are supported in predicates');
    }
    return { kind: 'has', step, equals: this.parseLiteral(), negate };
  }

  private parseLiteral(): string {
    this.skipSpace();
    const q = this.src.charAt(this.pos);
    if (q !== '"' && q !== "'") this.fail('a comparison needs a quoted string');
    const close = this.src.indexOf(q, this.pos + 1);
    if (close === -1) this.fail('unterminated string');
    const value = this.src.slice(this.pos + 1, close);
    this.pos = close + 1;
    return value;
  }
}
