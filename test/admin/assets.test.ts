/**
 * The dashboard's static files as the admin listener serves them: every file the page
 * loads is Warden's own (no CDN), gzipped for a client that accepts it (and the same bytes
 * once unzipped), plain for one that does not or refuses gzip with q=0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { RecentEvents } from '../../src/admin/events.js';
import { History } from '../../src/admin/history.js';
import { AdminMetrics } from '../../src/admin/metrics.js';
import { startAdminServer } from '../../src/admin/server.js';
import { BanManager } from '../../src/jail/ban-manager.js';
import { createMemoryStore } from '../../src/store/memory.js';

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const r = await request(url, { headers });
  return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
}

test('dashboard files: all local, gzipped when accepted, identical once unzipped', async () => {
  const store = createMemoryStore();
  const manager = new BanManager({ store });
  await manager.start();
  const server = await startAdminServer(
    { host: '127.0.0.1', port: 0, enabled: true, token: null, basicAuth: null, tls: null },
    { manager, metrics: new AdminMetrics({ manager }), history: new History(store), events: new RecentEvents(), explain: async () => null, status: () => ({}) },
  );
  try {
    const page = await get(server.url);
    assert.equal(page.status, 200);
    const html = page.body.toString('utf8');
    // Every script and style sheet the page names is served here, none from elsewhere.
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string).filter((r) => !r.startsWith('data:'));
    assert.deepEqual(refs.sort(), ['/assets/dashboard.css', '/assets/dashboard.js', '/assets/uplot.css', '/assets/uplot.js']);
    const uplot = readFileSync(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
    for (const ref of refs) {
      const plain = await get(new URL(ref, server.url).href);
      assert.equal(plain.status, 200, ref);
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.headers.vary, 'Accept-Encoding');
      const zipped = await get(new URL(ref, server.url).href, { 'accept-encoding': 'gzip, deflate, br' });
      assert.equal(zipped.headers['content-encoding'], 'gzip', ref);
      assert.ok(zipped.body.length < plain.body.length, `${ref} is smaller gzipped (${zipped.body.length} < ${plain.body.length})`);
      assert.deepEqual(gunzipSync(zipped.body), plain.body, `${ref} unzips to the same bytes`);
      if (ref === '/assets/uplot.js') assert.deepEqual(plain.body, uplot);
    }
    assert.equal((await get(new URL('/assets/uplot.js', server.url).href, { 'accept-encoding': 'gzip;q=0, identity' })).headers['content-encoding'], undefined);
    const zippedPage = await get(server.url, { 'accept-encoding': 'gzip' });
    assert.equal(zippedPage.headers['content-encoding'], 'gzip');
    assert.match(String(zippedPage.headers['content-security-policy']), /default-src 'self'/);
  } finally {
    await server.close();
    await manager.stop();
  }
});
