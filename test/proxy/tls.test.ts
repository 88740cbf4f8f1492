/**
 * TLS termination: a listener with a certificate and key (made here with openssl), the
 * upstream told X-Forwarded-Proto https, the certificate replaced by a reload without
 * closing the listener, and a bad certificate refused by a reload that then changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { once } from 'node:events';
import { Agent } from 'undici';
import { Waf } from '../../src/engine/waf.js';
import { echoHandler, makeConfig, rawExchange, send, startProxy, startUpstream, upstreamConfig } from './support.js';

function makeCert(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

async function peerName(port: number): Promise<string> {
  const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await once(s, 'secureConnect');
  const cn = s.getPeerCertificate().subject.CN;
  s.destroy();
  return String(cn);
}

test('TLS termination, certificate reload, and a bad certificate refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tls-'));
  const first = makeCert(dir, 'first.example');
  const second = makeCert(dir, 'second.example');
  const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
  copyFileSync(first.cert, live.cert);
  copyFileSync(first.key, live.key);
  const up = await startUpstream(echoHandler);
  const config = makeConfig({
    upstreams: [upstreamConfig('app', up.url)],
    listeners: [{ name: 'tls', host: '127.0.0.1', port: 0, tls: live, routes: [{ host: null, pathPrefix: '/', upstream: 'app' }] }],
  });
  const rules = 'SecRuleEngine On\nSecRule ARGS:q "@streq no" "id:1,phase:1,deny,status:403"\n';
  const p = await startProxy(config, rules);
  const client = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const url = `https://127.0.0.1:${p.port}`;
    const r = await send(`${url}/secure`, { dispatcher: client });
    assert.equal(r.status, 200);
    const e = JSON.parse(r.body) as { headers: string[] };
    assert.equal(e.headers[e.headers.indexOf('x-forwarded-proto') + 1], 'https');
    assert.equal((await send(`${url}/?q=no`, { dispatcher: client })).status, 403);
    assert.equal(await peerName(p.port), 'first.example');

    // New files, then reload: new handshakes get the new certificate.
    copyFileSync(second.cert, live.cert);
    copyFileSync(second.key, live.key);
    const report = p.proxy.reload(config, Waf.fromText(rules), p.logs);
    assert.deepEqual(report.tlsReloaded, ['tls']);
    assert.equal(await peerName(p.port), 'second.example');
    assert.equal((await send(`${url}/again`, { dispatcher: client })).status, 200);

    // A key that does not belong to the certificate: the reload is refused, nothing changes.
    copyFileSync(first.key, live.key);
    assert.throws(() => p.proxy.reload(config, Waf.fromText(rules), p.logs), { code: 'WARDEN_TLS' });
    assert.equal(await peerName(p.port), 'second.example');

    // Malformed requests over TLS get their answer too.
    const bad = await rawExchange(p.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', { tls: true });
    assert.equal(bad.status, 400);
  } finally {
    await client.close();
    await p.close();
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
