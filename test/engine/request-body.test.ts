/**
 * Request data wired into the engine: body processors chosen by Content-Type or ctl, their
 * variables, and the limits. The project's seed case first: a malformed, chunked XML-RPC
 * pingback answered 400 by a rule on REQBODY_ERROR, as ModSecurity's recommended rule 200002.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Waf } from '../../src/engine/index.js';
import { dechunk } from '../../src/http/raw-request.js';
import { runRequest } from '../support/request.js';

const baseline = `
SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
`;

const xmlrpc = (body: string) => ({
  method: 'POST',
  uri: '/xmlrpc.php',
  headers: [['Host', 'blog.example.com'], ['User-Agent', 'PHP/5.2.10'], ['Content-Type', 'text/xml'], ['Transfer-Encoding', 'chunked']] as Array<[string, string]>,
  body,
});

test('a malformed chunked XML-RPC pingback is answered 400 with REQBODY_ERROR set', async () => {
  // As the spam arrived: chunked, and cut off in the middle of the document.
  const chunk = (s: string): string => `${s.length.toString(16)}\r\n${s}\r\n`;
  const chunked = `${chunk('<?xml version="1.0"?><methodCall><methodName>pi')}${chunk('ngback.ping</met')}0\r\n\r\n`;
  const body = dechunk(chunked);
  const r = await runRequest(Waf.fromText(baseline), xmlrpc(body));
  assert.equal(r.interruption?.status, 400);
  assert.equal(r.interruption?.ruleId, 200002);
  assert.equal(r.tx.reqbodyError, true);
  assert.equal(r.tx.matches[0]?.data, 'XML parser error: XML: Failed parsing document.');
});

test('a well-formed pingback passes and XPath selectors reach the method name', async () => {
  const waf = Waf.fromText(`${baseline}
SecRule XML:/methodCall/methodName/text() "@streq pingback.ping" "id:300,phase:2,pass,log,msg:'pingback'"
SecRule XML:/* "@contains other.example.org" "id:301,phase:2,pass,log"
SecRule XML://@* "@unconditionalMatch" "id:302,phase:2,pass,log"`);
  const ok = '<?xml version="1.0"?><methodCall><methodName>pingback.ping</methodName><params><param><value><string>https://other.example.org/a</string></value></param></params></methodCall>';
  const r = await runRequest(waf, xmlrpc(ok));
  assert.equal(r.interruption, null);
  assert.deepEqual(r.logged, [300, 301]);
  assert.equal(r.tx.matches[0]?.variable, 'XML:/methodCall/methodName/text()');
});

test('an XPath outside the supported subset is a load error at the selector', () => {
  assert.throws(() => Waf.fromText('SecRule XML:count(//a) "@eq 1" "id:1,deny"', { file: 'x.conf' }), /x\.conf:1:13: invalid XPath expression "count\(\/\/a\)"/);
});

test('JSON bodies become ARGS_POST named as ModSecurity v3 names them', async () => {
  const r = await runRequest(Waf.fromText(`${baseline}\nSecRule ARGS:json.user.tags.array_1 "@streq b" "id:1,phase:2,deny,status:409"`), {
    method: 'POST',
    uri: '/api',
    headers: [['Host', 'a'], ['Content-Type', 'application/json']],
    body: '{"user":{"name":"ann","tags":["a","b"]},"ok":true}',
  });
  assert.equal(r.tx.reqbodyProcessor, 'JSON');
  assert.deepEqual(r.tx.argsPost.map((e) => e.key), ['json.user.name', 'json.user.tags.array_0', 'json.user.tags.array_1', 'json.ok']);
  assert.equal(r.interruption?.status, 409);
  const bad = await runRequest(Waf.fromText(baseline), { method: 'POST', uri: '/api', headers: [['Content-Type', 'application/json']], body: '{"a":' });
  assert.equal(bad.interruption?.status, 400);
});

test('multipart: fields, files and strictness flags', async () => {
  const waf = Waf.fromText(`${baseline}
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:200003,phase:2,deny,status:400"
SecRule FILES "@endsWith .php" "id:10,phase:2,deny,status:415"`);
  const body = (filename: string, extra = '') =>
    `--XyZ\r\nContent-Disposition: form-data; name="comment"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name="up"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n--XyZ--\r\n${extra}`;
  const headers: Array<[string, string]> = [['Host', 'a'], ['Content-Type', 'multipart/form-data; boundary=XyZ']];
  const ok = await runRequest(waf, { method: 'POST', uri: '/upload', headers, body: body('a.txt') });
  assert.equal(ok.interruption, null);
  assert.deepEqual(ok.tx.argsPost.map((e) => [e.key, e.value]), [['comment', 'hello']]);
  assert.deepEqual(ok.tx.files.map((e) => [e.key, e.value]), [['up', 'a.txt']]);
  assert.equal(ok.tx.multipartFlags?.get('MULTIPART_STRICT_ERROR'), '0');
  assert.equal((await runRequest(waf, { method: 'POST', uri: '/upload', headers, body: body('shell.php') })).interruption?.status, 415);
  const after = await runRequest(waf, { method: 'POST', uri: '/upload', headers, body: body('a.txt', 'trailing junk') });
  assert.equal(after.tx.multipartFlags?.get('MULTIPART_DATA_AFTER'), '1');
  assert.equal(after.interruption?.ruleId, 200003);
});

test('REQUEST_BODY: present for URLENCODED, and without a processor only when forced', async () => {
  const rules = (force: string) => `${baseline}
SecRule REQUEST_HEADERS:Content-Type "@beginsWith text/plain" "id:5,phase:1,pass,nolog${force}"
SecRule REQUEST_BODY "@contains secret" "id:6,phase:2,deny,status:403"`;
  const plain = { method: 'POST', uri: '/', headers: [['Content-Type', 'text/plain']] as Array<[string, string]>, body: 'a secret' };
  assert.equal((await runRequest(Waf.fromText(rules('')), plain)).interruption, null);
  assert.equal((await runRequest(Waf.fromText(rules(',ctl:forceRequestBodyVariable=On')), plain)).interruption?.status, 403);
  const form = { method: 'POST', uri: '/', headers: [['Content-Type', 'application/x-www-form-urlencoded']] as Array<[string, string]>, body: 'a=secret' };
  assert.equal((await runRequest(Waf.fromText(rules('')), form)).interruption?.status, 403);
});

test('body limits: Reject answers 413; ProcessPartial inspects up to the limit', async () => {
  const big = `a=${'x'.repeat(200)}&b=attack`;
  const req = { method: 'POST', uri: '/', headers: [['Content-Type', 'application/x-www-form-urlencoded']] as Array<[string, string]>, body: big };
  const reject = await runRequest(Waf.fromText(`${baseline}\nSecRequestBodyLimit 100`), req);
  assert.equal(reject.interruption?.status, 413);
  const partial = await runRequest(
    Waf.fromText(`${baseline}\nSecRequestBodyLimit 100\nSecRequestBodyLimitAction ProcessPartial\nSecRule ARGS:b "@streq attack" "id:7,phase:2,deny"`),
    req,
  );
  assert.equal(partial.interruption, null);
  assert.equal(partial.tx.inboundDataError, true);
  assert.equal(partial.tx.argsPost.length, 1);
  // DetectionOnly never refuses: the body is inspected up to the limit, as with ProcessPartial.
  const detection = await runRequest(Waf.fromText(`${baseline}\nSecRuleEngine DetectionOnly\nSecRequestBodyLimit 100`), req);
  assert.equal(detection.interruption, null);
  assert.equal(detection.tx.inboundDataError, true);
  assert.equal(detection.tx.argsPost.length, 1);
  const noFiles = await runRequest(Waf.fromText(`${baseline}\nSecRuleEngine DetectionOnly\nSecRequestBodyNoFilesLimit 100`), req);
  assert.equal(noFiles.interruption, null);
  assert.equal(noFiles.tx.inboundDataError, true);
});

test('cookies and repeated headers reach REQUEST_COOKIES and REQUEST_HEADERS in order', async () => {
  const r = await runRequest(Waf.fromText('SecRuleEngine On\nSecRule &REQUEST_HEADERS:X-Forwarded-For "@eq 2" "id:1,phase:1,pass,nolog"'), {
    headers: [['Host', 'a'], ['Cookie', 'a=1; b="two"'], ['X-Forwarded-For', '1.1.1.1'], ['Cookie', 'c=3'], ['X-Forwarded-For', '2.2.2.2']],
  });
  assert.deepEqual(r.tx.requestCookies.map((e) => [e.key, e.value]), [['a', '1'], ['b', '"two"'], ['c', '3']]);
  assert.deepEqual(r.matched, [1]);
});

test('response bodies: inspected only for SecResponseBodyMimeType types, within SecResponseBodyLimit', async () => {
  const rules = (extra: string) => `SecRuleEngine On
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html
${extra}
SecRule RESPONSE_BODY "@contains SQL syntax" "id:951,phase:4,deny,status:502"`;
  const leak = 'You have an error in your SQL syntax near';
  const html = await runRequest(Waf.fromText(rules('')), { response: { status: 200, headers: [['Content-Type', 'text/html; charset=utf-8']], body: leak } });
  assert.equal(html.interruption?.status, 502);
  const image = await runRequest(Waf.fromText(rules('')), { response: { status: 200, headers: [['Content-Type', 'image/png']], body: leak } });
  assert.equal(image.interruption, null);
  assert.equal(image.tx.responseBodyChunks.length, 0);
  const big = `${'x'.repeat(100)}${leak}`;
  const reject = await runRequest(Waf.fromText(rules('SecResponseBodyLimit 64\nSecResponseBodyLimitAction Reject')), { response: { status: 200, headers: [['Content-Type', 'text/plain']], body: big } });
  assert.equal(reject.interruption?.status, 500);
  const partial = await runRequest(Waf.fromText(rules('SecResponseBodyLimit 64\nSecResponseBodyLimitAction ProcessPartial')), { response: { status: 200, headers: [['Content-Type', 'text/plain']], body: big } });
  assert.equal(partial.interruption, null);
  assert.equal(partial.tx.outboundDataError, true);
  assert.equal(partial.tx.responseBody?.value.length, 64);
});

test('a request body over the limit is not kept whole', () => {
  const tx = Waf.fromText('SecRequestBodyLimit 1000').newTransaction();
  for (let i = 0; i < 100; i++) tx.appendRequestBody('x'.repeat(1000));
  assert.equal(tx.requestBodyChunks.join('').length, 1000);
  assert.equal(tx.requestBodyLength, 100_000);
  assert.equal(tx.requestBodyExceeded, true);
});

test('REQBODY_PROCESSOR and REQBODY_ERROR_MSG exist, empty, without a processor (CRS 901340 forces REQUEST_BODY with !@rx on it)', async () => {
  const waf = Waf.fromText(`SecRule REQBODY_PROCESSOR "!@rx (?:URLENCODED|MULTIPART|XML|JSON)" "id:901340,phase:1,pass,nolog,ctl:forceRequestBodyVariable=On"
SecRule REQBODY_ERROR_MSG "@streq " "id:2,phase:2,pass,log"
SecRule REQUEST_BODY "@contains com.opensymphony.xwork2" "id:944130,phase:2,pass,log"`);
  const r = await runRequest(waf, { method: 'POST', headers: [['Host', 'a'], ['Content-Type', 'text/plain']], body: 'test=com.opensymphony.xwork2' });
  assert.deepEqual(r.logged, [2, 944130]);
});

test('a JSON body is in REQUEST_BODY too (v3), so a key whose value is an array is still seen at the end of a name (CRS 934210)', async () => {
  const waf = Waf.fromText(`${baseline}
SecRule ARGS_NAMES|REQUEST_BODY "@rx __contained_by(?:$|\\"[\\s\\x0b]*:)" "id:934210,phase:2,deny,status:403"`);
  const r = await runRequest(waf, { method: 'POST', headers: [['Host', 'a'], ['Content-Type', 'application/json']], body: '{"roles__contained_by":["admin","user"]}' });
  assert.equal(r.interruption?.ruleId, 934210);
  assert.equal(r.tx.requestBody?.value, '{"roles__contained_by":["admin","user"]}');
});
