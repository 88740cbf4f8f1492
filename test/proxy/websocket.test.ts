/**
 * WebSocket through the proxy: the upgrade passes phases 1 and 2, then frames flow both ways
 * untouched (an echo upstream answers what the client sent). A deny in phase 1 refuses the
 * upgrade before any upstream connection is opened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { closeServer, makeConfig, startProxy, upstreamConfig } from './support.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function accept(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** One frame (payload < 126 bytes), masked when sent by a client. */
function frame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const head = Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | payload.length]);
  if (!masked) return Buffer.concat([head, payload]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
  return Buffer.concat([head, mask, body]);
}

function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; length: number } | null {
  if (buf.length < 2) return null;
  const masked = ((buf[1] as number) & 0x80) !== 0;
  const len = (buf[1] as number) & 0x7f;
  const start = 2 + (masked ? 4 : 0);
  if (buf.length < start + len) return null;
  let payload = buf.subarray(start, start + len);
  if (masked) {
    const mask = buf.subarray(2, 6);
    payload = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
  }
  return { opcode: (buf[0] as number) & 0x0f, payload, length: start + len };
}

/** An upstream that accepts WebSocket upgrades and echoes every frame. */
async function echoWebSocketServer(): Promise<{ server: Server; url: string; upgrades: string[] }> {
  const upgrades: string[] = [];
  const server = createServer((_req, res) => res.end('not a websocket'));
  server.on('upgrade', (req, socket: Socket) => {
    upgrades.push(`${req.url} xff=${req.headers['x-forwarded-for']} connection=${req.headers.connection} upgrade=${req.headers.upgrade}`);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(req.headers['sec-websocket-key'] as string)}\r\n\r\n`);
    let pending = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      for (let f = parseFrame(pending); f !== null; f = parseFrame(pending)) {
        pending = pending.subarray(f.length);
        if (f.opcode === 8) {
          socket.end(frame(8, Buffer.alloc(0), false));
          return;
        }
        socket.write(frame(f.opcode, f.payload, false));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, upgrades };
}

/** Opens a WebSocket through `port`; resolves with the handshake answer and the socket. */
async function openWebSocket(port: number, path: string): Promise<{ head: string; socket: Socket; rest: Buffer }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const key = Buffer.from('0123456789abcdef').toString('base64');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let received = Buffer.alloc(0);
  while (!received.includes('\r\n\r\n')) {
    const [d] = (await Promise.race([once(socket, 'data'), once(socket, 'close').then(() => [Buffer.alloc(0)])])) as [Buffer];
    if (d.length === 0) break;
    received = Buffer.concat([received, d]);
  }
  const end = received.indexOf('\r\n\r\n');
  const head = received.subarray(0, end < 0 ? received.length : end).toString('latin1');
  return { head, socket, rest: end < 0 ? Buffer.alloc(0) : received.subarray(end + 4) };
}

async function nextFrame(socket: Socket, buffered: Buffer): Promise<{ opcode: number; payload: Buffer }> {
  let pending = buffered;
  for (;;) {
    const f = parseFrame(pending);
    if (f !== null) return f;
    const [d] = (await once(socket, 'data')) as [Buffer];
    pending = Buffer.concat([pending, d]);
  }
}

test('WebSocket echo through the proxy; a phase-1 deny refuses the upgrade', async () => {
  const ws = await echoWebSocketServer();
  const p = await startProxy(makeConfig({ upstreams: [upstreamConfig('chat', ws.url)] }), 'SecRuleEngine On\nSecRule REQUEST_URI "@contains evil" "id:1,phase:1,deny,status:403,log"\n');
  try {
    const { head, socket, rest } = await openWebSocket(p.port, '/socket?room=1');
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, new RegExp(`Sec-WebSocket-Accept: ${accept(Buffer.from('0123456789abcdef').toString('base64')).replace(/[+/=]/g, '\\$&')}`));
    for (const text of ['hello', 'über', 'x'.repeat(100)]) {
      socket.write(frame(1, Buffer.from(text), true));
      const echo = await nextFrame(socket, rest);
      assert.equal(echo.opcode, 1);
      assert.equal(echo.payload.toString(), text);
    }
    socket.write(frame(8, Buffer.alloc(0), true));
    await once(socket, 'close');
    assert.deepEqual(ws.upgrades, ['/socket?room=1 xff=127.0.0.1 connection=upgrade upgrade=websocket']);
    await p.logs.until(() => p.logs.done.length === 1);
    assert.equal(p.logs.done[0]?.response.status, 101);
    assert.equal(p.proxy.stats.websockets, 1);

    const denied = await openWebSocket(p.port, '/evil');
    assert.match(denied.head, /^HTTP\/1\.1 403 /);
    await once(denied.socket, 'close');
    assert.equal(ws.upgrades.length, 1, 'the upstream saw the denied upgrade');
  } finally {
    await p.close();
    await closeServer(ws.server);
  }
});

test('a WebSocket upgrade to an upstream that is down gets 502', async () => {
  const ws = await echoWebSocketServer();
  const url = ws.url;
  await closeServer(ws.server);
  const p = await startProxy(makeConfig({ upstreams: [upstreamConfig('chat', url)] }), 'SecRuleEngine On\n');
  try {
    const { head, socket } = await openWebSocket(p.port, '/socket');
    assert.match(head, /^HTTP\/1\.1 502 /);
    await once(socket, 'close');
  } finally {
    await p.close();
  }
});
