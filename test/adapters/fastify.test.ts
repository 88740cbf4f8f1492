/**
 * The middleware contract on Fastify (adapters/fastify), with Fastify's own content-type
 * parsing reading the body after Warden did, and replies sent the Fastify way (strings,
 * Buffers, streams).
 */
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { wardenFastify } from '../../src/adapters/index.js';
import { bigPage, runContract } from './contract.js';

runContract({
  name: 'fastify',
  async start(options, gate) {
    const app = Fastify({ bodyLimit: 10 * 1024 * 1024 });
    await app.register(wardenFastify, options);
    // Every body as the exact bytes received, whatever its type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.post('/echo', async (request, reply) => {
      return reply.type('application/octet-stream').send(request.body as Buffer);
    });
    app.get('/page', async (request, reply) => {
      const leak = (request.query as Record<string, string>).leak === '1';
      if (leak) reply.header('set-cookie', 'session=abc');
      return reply.type('text/html').send(`<html><body><h1>Welcome</h1>${leak ? '<p>SECRET-LEAK</p>' : ''}</body></html>`);
    });
    app.get('/leaky', async (_request, reply) => reply.header('x-powered-by', 'LeakyServer/1.0').send('ok'));
    app.get('/big', async (request, reply) => {
      const q = request.query as Record<string, string>;
      return reply.type('text/html').send(bigPage(Number(q.kb), q.leak === '1'));
    });
    app.get('/cut', async (_request, reply) => {
      const body = new PassThrough();
      body.write('part\n');
      setImmediate(() => body.end('rest\n'));
      return reply.type('application/octet-stream').header('x-cut', '1').send(body);
    });
    app.get('/late', async (_request, reply) => reply.header('x-late', '1').send({ ok: true }));
    app.get('/stream', async (_request, reply) => {
      const body = new PassThrough();
      body.write('first\n');
      void gate.wait().then(() => body.end('second\n'));
      return reply.type('application/octet-stream').send(body);
    });
    app.get('/hello', async (_request, reply) => reply.type('text/plain').send('hello'));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      port: (app.server.address() as AddressInfo).port,
      async close() {
        app.server.closeAllConnections();
        await app.close();
      },
    };
  },
});
