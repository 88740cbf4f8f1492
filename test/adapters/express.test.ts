/**
 * The middleware contract on Express (adapters/express), with Express's own body parser
 * reading the body after Warden did.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { wardenExpress } from '../../src/adapters/index.js';
import { bigPage, runContract } from './contract.js';

runContract({
  name: 'express',
  async start(options, gate) {
    const app = express();
    app.use(wardenExpress(options));
    app.post('/echo', express.raw({ type: () => true, limit: '10mb' }), (req, res) => {
      res.type('application/octet-stream').send(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    });
    app.get('/page', (req, res) => {
      const leak = req.query.leak === '1';
      if (leak) res.cookie('session', 'abc');
      res.type('html').send(`<html><body><h1>Welcome</h1>${leak ? '<p>SECRET-LEAK</p>' : ''}</body></html>`);
    });
    app.get('/leaky', (_req, res) => {
      res.set('x-powered-by', 'LeakyServer/1.0').send('ok');
    });
    app.get('/big', (req, res) => {
      res.type('html');
      bigPage(Number(req.query.kb), req.query.leak === '1').pipe(res);
    });
    app.get('/cut', (_req, res) => {
      res.set({ 'content-type': 'application/octet-stream', 'x-cut': '1' });
      res.write('part\n');
      setImmediate(() => res.end('rest\n'));
    });
    app.get('/late', (_req, res) => {
      res.set('x-late', '1').json({ ok: true });
    });
    app.get('/stream', (_req, res) => {
      res.type('application/octet-stream');
      res.write('first\n');
      void gate.wait().then(() => res.end('second\n'));
    });
    app.get('/hello', (_req, res) => {
      res.type('text/plain').send('hello');
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  },
});
