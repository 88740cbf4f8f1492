/**
 * The middleware contract on plain node:http (adapters/node-http).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withWarden } from '../../src/adapters/index.js';
import { bigPage, runContract, type StreamGate } from './contract.js';

function app(gate: StreamGate) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    switch (url.pathname) {
      case '/echo': {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(Buffer.concat(chunks));
        });
        return;
      }
      case '/page':
        if (url.searchParams.get('leak') === '1') res.setHeader('set-cookie', 'session=abc');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.write('<html><body><h1>Welcome</h1>');
        res.end(url.searchParams.get('leak') === '1' ? '<p>SECRET-LEAK</p></body></html>' : '</body></html>');
        return;
      case '/leaky':
        res.setHeader('x-powered-by', 'LeakyServer/1.0');
        res.end('ok');
        return;
      case '/big':
        res.writeHead(200, { 'content-type': 'text/html' });
        bigPage(Number(url.searchParams.get('kb')), url.searchParams.get('leak') === '1').pipe(res);
        return;
      case '/cut':
        res.writeHead(200, [['Content-Type', 'application/octet-stream'], ['X-Cut', '1']]);
        res.write('part\n');
        setImmediate(() => res.end('rest\n'));
        return;
      case '/late':
        res.writeHead(200, { 'content-type': 'application/json', 'x-late': '1' });
        res.end('{"ok":true}');
        return;
      case '/stream':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write('first\n');
        void gate.wait().then(() => res.end('second\n'));
        return;
      default:
        res.setHeader('content-type', 'text/plain');
        res.end('hello');
    }
  };
}

runContract({
  name: 'node:http',
  async start(options, gate) {
    const server = createServer(withWarden(options, app(gate)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
