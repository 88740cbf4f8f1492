// Tests of the XML body processor and the XPath subset: the XML-RPC pingback that started
// the project (well-formed, truncated as sent chunked, garbled), XML:/* and XML://@*,
// entities and limits, encodings, and XPath compile errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseXml, XML_ERROR_MESSAGE, type XmlDocument } from '../../src/bodies/xml.js';
import { compileXPath, evaluateXPath, XPathError } from '../../src/bodies/xpath.js';

const PINGBACK = `<?xml version="1.0" encoding="UTF-8"?>
<methodCall>
<methodName>pingback.ping</methodName>
<params>
 <param><value><string>http://spam.example/buy-now</string></value></param>
 <param><value><string>https://blog.example/2024/05/hello-world/</string></value></param>
</params>
</methodCall>
`;

function doc(xml: string): XmlDocument {
  const r = parseXml(xml);
  assert.equal(r.error, null, r.detail ?? '');
  assert.ok(r.document);
  return r.document;
}

const xp = (d: XmlDocument, expr: string, ns?: Record<string, string>) => evaluateXPath(d, compileXPath(expr, ns));

test('xml: the pingback parses and its method name is reachable by XPath', () => {
  const d = doc(PINGBACK);
  assert.deepEqual(xp(d, '/methodCall/methodName/text()'), ['pingback.ping']);
  assert.deepEqual(xp(d, '/methodCall/methodName'), ['pingback.ping']);
  assert.deepEqual(xp(d, '//methodName'), ['pingback.ping']);
  assert.deepEqual(xp(d, 'methodCall/methodName'), ['pingback.ping']);
  assert.deepEqual(xp(d, '//param[1]//string'), ['http://spam.example/buy-now']);
  assert.deepEqual(xp(d, '//param/value/string'), ['http://spam.example/buy-now', 'https://blog.example/2024/05/hello-world/']);
  assert.deepEqual(xp(d, '//param[last()]/value/string/text()'), ['https://blog.example/2024/05/hello-world/']);
  assert.deepEqual(xp(d, "/methodCall[methodName='pingback.ping']/params/param[2]//string"), ['https://blog.example/2024/05/hello-world/']);
  assert.deepEqual(xp(d, "/methodCall[methodName='system.multicall']"), []);
});

test('xml: XML:/* is all text of the document element, whitespace included (libxml2 keeps blanks)', () => {
  assert.deepEqual(xp(doc(PINGBACK), '/*'), [
    '\npingback.ping\n\n http://spam.example/buy-now\n https://blog.example/2024/05/hello-world/\n\n',
  ]);
});

test('xml: every truncation of the pingback (as a chunked body cut short) is an error', () => {
  for (let cut = 1; cut < PINGBACK.trimEnd().length; cut++) {
    const r = parseXml(PINGBACK.slice(0, cut));
    assert.equal(r.error, XML_ERROR_MESSAGE, `cut at ${cut}: ${JSON.stringify(PINGBACK.slice(0, cut))}`);
    assert.ok(r.detail);
  }
});

const malformed: { name: string; body: string; detail: RegExp }[] = [
  { name: 'mismatched close tag', body: '<methodCall><methodName>pingback.ping</methodNam></methodCall>', detail: /unmatched closing tag|unexpected close/ },
  { name: 'garbled chunk in the middle', body: '<methodCall><methodName>pingback.ping</methodName><par\x00ams></params></methodCall>', detail: /disallowed|./ },
  { name: 'chunk-size line leaked into the body', body: '<methodCall>\r\n1f4\r\n<methodName>pingback.ping</methodName></methodCall>\r\n0\r\n\r\n', detail: /text data outside of root node/ },
  { name: 'two roots', body: '<a/><b/>', detail: /only one root/ },
  { name: 'text before the root', body: 'xx<a/>', detail: /text data outside of root node/ },
  { name: 'no root', body: '<?xml version="1.0"?>', detail: /root element/ },
  { name: 'unquoted attribute', body: '<a x=1/>', detail: /unquoted attribute value/ },
  { name: 'duplicate attribute', body: '<a x="1" x="2"/>', detail: /duplicate attribute/ },
  { name: 'undefined entity', body: '<a>&nbsp;</a>', detail: /undefined entity/ },
  { name: 'bare ampersand', body: '<a>fish & chips</a>', detail: /./ },
  { name: 'not XML at all', body: '{"json":true}', detail: /./ },
  { name: 'invalid UTF-8', body: '<a>\xff\xfe</a>', detail: /not proper utf-8/ },
  { name: 'unknown encoding', body: '<?xml version="1.0" encoding="x-made-up"?><a/>', detail: /unsupported encoding/ },
];

for (const c of malformed) {
  test(`xml malformed: ${c.name}`, () => {
    const r = parseXml(c.body);
    assert.equal(r.error, 'XML parser error: XML: Failed parsing document.');
    assert.match(r.detail ?? '', c.detail);
  });
}

test('xml: the partial tree before an error is kept (v2 hands libxml2 partial document to rules)', () => {
  const r = parseXml('<methodCall><methodName>pingback.ping</methodName><params><param>');
  assert.equal(r.error, XML_ERROR_MESSAGE);
  assert.ok(r.document);
  assert.deepEqual(evaluateXPath(r.document, compileXPath('//methodName')), ['pingback.ping']);
});

test('xml: empty body is no error and no tree', () => {
  assert.deepEqual(parseXml(''), { error: null, detail: null, document: null });
});

test('xml: XML://@* gives every attribute value, not namespace declarations', () => {
  const d = doc('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:app" id="1"><soap:Body><op x="a&amp;b" y=\'&lt;script&gt;\'/></soap:Body></soap:Envelope>');
  assert.deepEqual(xp(d, '//@*'), ['1', 'a&b', '<script>']);
  assert.deepEqual(xp(d, '//@x'), ['a&b']);
});

test('xml: namespaces as libxml2 treats them', () => {
  const soap = { soap: 'http://schemas.xmlsoap.org/soap/envelope/', app: 'urn:app' };
  const d = doc('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><op xmlns="urn:app"><arg>v</arg></op></soap:Body></soap:Envelope>');
  assert.deepEqual(xp(d, '/soap:Envelope/soap:Body/*', soap), ['v']);
  assert.deepEqual(xp(d, '//app:arg', soap), ['v']);
  assert.deepEqual(xp(d, '//arg'), [], 'an unprefixed name does not match a namespaced element');
  assert.deepEqual(xp(d, '/*/*/app:*', soap), ['v']);
  const unbound = parseXml('<a><p:b>t</p:b></a>');
  assert.equal(unbound.error, null, 'an unbound prefix is a namespace error, not a well-formedness one');
});

test('xml: text, CDATA and entities', () => {
  const d = doc('<a>x<![CDATA[<b>y</b>]]>&lt;&#65;&#x42;</a>');
  assert.deepEqual(xp(d, '/*'), ['x<b>y</b><AB']);
  assert.deepEqual(xp(d, '/a/text()'), ['x', '<b>y</b>', '<AB']);
});

test('xml: internal entities are expanded, nested ones too', () => {
  const d = doc('<!DOCTYPE a [<!ENTITY f "F"><!ENTITY e "E&f;&#38;amp;"><!ENTITY % p "x">]><a k="&e;">[&e;]</a>');
  assert.deepEqual(xp(d, '/*'), ['[EF&]']);
  assert.deepEqual(xp(d, '//@k'), ['EF&']);
});

test('xml: entity bombs are errors', () => {
  const lol = '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' +
    ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((n, i) => `<!ENTITY ${n} "${`&${'abcdefgh'[i]};`.repeat(10)}">`).join('') + ']><l>&i;</l>';
  const r = parseXml(lol);
  assert.equal(r.error, XML_ERROR_MESSAGE);
  assert.match(r.detail ?? '', /entity expansion exceeds the limit/);
  const quadratic = `<!DOCTYPE l [<!ENTITY a "${'x'.repeat(50_000)}">]><l>${'&a;'.repeat(50_000)}</l>`;
  assert.match(parseXml(quadratic).detail ?? '', /entity expansion exceeds the limit/);
  const loop = parseXml('<!DOCTYPE l [<!ENTITY a "&b;"><!ENTITY b "&a;">]><l>&a;</l>');
  assert.match(loop.detail ?? '', /references itself/);
});

test('xml: external entities are never loaded: a reference is an error (XXE)', () => {
  const r = parseXml('<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodCall><methodName>&xxe;</methodName></methodCall>');
  assert.equal(r.error, XML_ERROR_MESSAGE);
  assert.match(r.detail ?? '', /external entity xxe/);
  assert.equal(parseXml('<!DOCTYPE foo SYSTEM "http://dtd.example/foo.dtd"><foo/>').error, null, 'an external DTD is not fetched, and not an error');
});

test('xml: depth limit (libxml2: 256)', () => {
  assert.equal(parseXml('<a>'.repeat(256) + '</a>'.repeat(256)).error, null);
  const r = parseXml('<a>'.repeat(257) + '</a>'.repeat(257));
  assert.match(r.detail ?? '', /excessive depth/);
  const start = Date.now();
  const huge = parseXml('<a>'.repeat(100_000) + '</a>'.repeat(100_000), { maxDepth: Infinity });
  assert.match(huge.detail ?? '', /excessive depth in document: 2048/, 'the depth option is capped at 2048');
  assert.ok(Date.now() - start < 2000, 'and stops early');
  assert.equal(parseXml('<a>'.repeat(2048) + '</a>'.repeat(2048), { maxDepth: 5000 }).error, null);
});

test('xml: encodings give UTF-8 bytes', () => {
  assert.deepEqual(xp(doc('<?xml version="1.0" encoding="ISO-8859-1"?><a>caf\xe9</a>'), '/*'), ['caf\xc3\xa9']);
  assert.deepEqual(xp(doc('<a>caf\xc3\xa9</a>'), '/*'), ['caf\xc3\xa9']);
  assert.deepEqual(xp(doc('\xef\xbb\xbf<a>x</a>'), '/*'), ['x']);
  const utf16 = '\xff\xfe' + Buffer.from('<a>\u20ac</a>', 'utf16le').toString('latin1');
  assert.deepEqual(xp(doc(utf16), '/*'), ['\xe2\x82\xac']);
  assert.deepEqual(xp(doc('<\xc3\xa9l \xc3\xa0="1">v</\xc3\xa9l>'), '/\xc3\xa9l/@\xc3\xa0'), ['1']);
});

test('xpath: steps, axes and predicates', () => {
  const d = doc('<r><a id="1">x<b>1</b><b>2</b></a><a id="2"><b>3</b><c><b>4</b></c></a></r>');
  const cases: [string, string[]][] = [
    ['/', ['x1234']],
    ['/r/a', ['x12', '34']],
    ['/r/a/@id', ['1', '2']],
    ['/r/a[@id="2"]/b', ['3']],
    ["/r/a[@id!='2']/b", ['1', '2']],
    ['/r/a[@id]', ['x12', '34']],
    ['/r/a[c]', ['34']],
    ['//b', ['1', '2', '3', '4']],
    ['//b[1]', ['1', '3', '4']],
    ['(//b)[1]'.slice(1, -4) + '[2]', ['2']],
    ['/r//b', ['1', '2', '3', '4']],
    ['//a//b', ['1', '2', '3', '4']],
    ['/r/*/b', ['1', '2', '3']],
    ['//a/text()', ['x']],
    ["//b[text()='4']", ['4']],
    ["//b[.='2']", ['2']],
    ['/r/a[2]/descendant::b', ['3', '4']],
    ['/r/child::a/attribute::id', ['1', '2']],
    ['/r/a/self::a/@id', ['1', '2']],
    ['//a/node()', ['x', '1', '2', '3', '4']],
    ['/r/a/./b', ['1', '2', '3']],
    ['//nothing', []],
    ['@id', []],
    ['text()', []],
    ['*', ['x1234']],
    ['//@*', ['1', '2']],
  ];
  for (const [expr, values] of cases) assert.deepEqual(xp(d, expr), values, expr);
});

test('xpath: expressions outside the subset fail at load time with a reason', () => {
  const refused: [string, RegExp][] = [
    ['', /empty/],
    ['count(//a)', /functions are not supported/],
    ['//a | //b', /unions/],
    ['/a/..', /parent steps/],
    ['/following-sibling::a', /following-sibling axis/],
    ['/soap:Envelope', /undefined namespace prefix "soap"/],
    ['//a[contains(., "x")]', /functions are not supported|not supported/],
    ['//a[b/c="x"]', /paths inside predicates/],
    ['//a[@x>1]', /only = and !=/],
    ['//a[@x=1]', /quoted string/],
    ['//a[1', /not closed/],
    ['/a/', /ends where a step is expected/],
    ['/a b', /unexpected "b"/],
    ['//a[0]', /positions start at 1/],
    ['/a/last()', /not supported/],
  ];
  for (const [expr, reason] of refused) {
    assert.throws(() => compileXPath(expr), (e: unknown) => e instanceof XPathError && reason.test(e.message), expr);
  }
});

const byte = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b));
const xmlish = fc.array(fc.oneof(byte, fc.constantFrom('<a>', '</a>', '<b x="1">', '</b>', '<!DOCTYPE a [<!ENTITY e "ee">]>', '&e;', '&amp;', '<![CDATA[', ']]>', '<?xml version="1.0"?>', '<!--', '-->', ' ', '"')), { maxLength: 25 }).map((a) => a.join(''));

test('xml property: any body gives a tree or an error, never an exception', () => {
  const all = compileXPath('/*');
  const attrs = compileXPath('//@*');
  fc.assert(fc.property(xmlish, (body) => {
    const r = parseXml(body);
    assert.ok(r.error === null || r.error === XML_ERROR_MESSAGE);
    assert.equal(r.error === null, r.detail === null);
    if (r.error === null && body.length > 0) assert.ok(r.document);
    if (r.document) {
      evaluateXPath(r.document, all);
      evaluateXPath(r.document, attrs);
    }
  }), { numRuns: 3000 });
});

test('xpath property: compile either succeeds or throws XPathError', () => {
  const token = fc.constantFrom('/', '//', 'a', 'b:c', '*', '@', '@x', 'text()', 'node()', '[', ']', '1', '=', "'v'", '.', '..', '(', ')', '|', ' ', 'child::', 'x::');
  fc.assert(fc.property(fc.array(token, { maxLength: 12 }).map((a) => a.join('')), (expr) => {
    try {
      compileXPath(expr, { b: 'urn:b' });
    } catch (e) {
      assert.ok(e instanceof XPathError, String(e));
    }
  }), { numRuns: 3000 });
});
