/**
 * `warden start` as a user runs it: a primary with cluster workers, started through the
 * real entry point against a real upstream on loopback. Reload (`warden reload`, SIGHUP)
 * under load, a failed reload, a worker that dies, SIGTERM draining, SIGUSR1 reopening logs,
 * and a 100 MB response streamed without being held (the worker's resident memory is read
 * from /proc while it streams).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect as tlsConnect } from 'node:tls';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { send, startUpstream, type Upstream } from './support.js';

const entry = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'warden-start-'));
after(() => rmSync(root, { recursive: true, force: true }));

interface Warden {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly dataDir: string;
  readonly stdout: string[];
  readonly stderr: string[];
  workers(): number[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

let counter = 0;

async function startWarden(args: string[], options: { listen?: boolean } = {}): Promise<Warden> {
  const dataDir = join(root, `data${++counter}`);
  const listen = options.listen === false ? [] : ['--listen', '127.0.0.1:0'];
  const proc = spawn(process.execPath, ['--import', 'tsx', entry, 'start', ...listen, '--data-dir', dataDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.push(...d.split('\n').filter((l) => l !== '')));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`warden did not start:\n${stdout.join('\n')}\n${stderr.join('\n')}`)), 60_000);
    let listening = 0;
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      for (const line of d.split('\n').filter((l) => l !== '')) {
        stdout.push(line);
        const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        if (m !== null) listening = Number(m[1]);
        // The summary line comes last, once every worker listens.
        if (/ rules.*; pid \d+$/.test(line)) {
          clearTimeout(timer);
          resolve(listening);
        }
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`warden exited ${code}:\n${stdout.join('\n')}\n${stderr.join('\n')}`));
    });
  });
  // The pid file is written just after the listening lines.
  for (let i = 0; i < 50 && !existsSync(join(dataDir, 'warden.pid')); i++) await new Promise((r) => setTimeout(r, 50));
  return {
    proc,
    port,
    dataDir,
    stdout,
    stderr,
    workers: () => {
      const pid = proc.pid as number;
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number);
    },
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode !== null) return proc.exitCode;
      const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
      proc.kill(signal);
      return exited;
    },
  };
}

/** Runs a `warden` command without blocking this process (the load loops keep running). */
function warden(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function rules(name: string, text: string): string {
  const path = join(root, name);
  writeFileSync(path, text);
  return path;
}

async function until(test: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

let upstream: Upstream;
/** The size of the responses streamed through a worker (/big, /big.html). */
const BIG = 300 * 1024 * 1024;
test('setup: an upstream', async () => {
  upstream = await startUpstream((req, res) => {
    if (req.url === '/slow') {
      setTimeout(() => res.end('slow done'), 1500);
      return;
    }
    if (req.url?.startsWith('/big')) {
      // 300 MiB, generated as it is sent: the upstream holds one 64 KiB block.
      const block = Buffer.alloc(64 * 1024, 'z');
      const total = BIG;
      res.writeHead(200, { 'content-type': req.url === '/big.html' ? 'text/html' : 'application/octet-stream', 'content-length': String(total) });
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += block.length;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    res.end(`ok ${req.url}`);
  });
});
after(() => upstream?.close());

test('warden start: workers share the listener; warden reload and SIGHUP reload atomically; a failed reload keeps the rules and says why', async () => {
  const file = rules('reload.conf', 'SecRule ARGS:q "@streq one" "id:1,phase:1,deny,status:403"\n');
  const w = await startWarden(['--upstream', upstream.url, '--rules', file, '--workers', '2']);
  try {
    assert.match(w.stdout.join('\n'), /2 workers, \d+ rules; pid \d+/);
    assert.equal(w.workers().length, 2);
    const base = `http://127.0.0.1:${w.port}`;
    assert.equal((await send(`${base}/?q=one`)).status, 403);
    assert.equal((await send(`${base}/?q=two`)).status, 200);

    writeFileSync(file, 'SecRule ARGS:q "@streq two" "id:1,phase:1,deny,status:403"\n');
    const ok = await warden(['reload', '--data-dir', w.dataDir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /reloaded: \d+ rules in 2 workers/);
    for (let i = 0; i < 6; i++) {
      assert.equal((await send(`${base}/?q=one`)).status, 200);
      assert.equal((await send(`${base}/?q=two`)).status, 403);
    }

    writeFileSync(file, 'SecRule ARGS:q "@streq three" "id:1,phase:1,deny,status:403"\nSecRule ARGZ "@rx x" "id:2,deny"\n');
    const bad = await warden(['reload', '--data-dir', w.dataDir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /reload failed; the running rules and config stay in effect/);
    assert.match(bad.stderr, new RegExp(`${file}:2:9: error: unknown variable "ARGZ"`));
    for (let i = 0; i < 6; i++) assert.equal((await send(`${base}/?q=two`)).status, 403);

    // A rule that parses but does not compile fails in the workers' prepare step: all keep the old rules.
    writeFileSync(file, 'SecRule ARGS:q "@rx (" "id:1,phase:1,deny,status:403"\n');
    const uncompilable = await warden(['reload', '--data-dir', w.dataDir]);
    assert.equal(uncompilable.code, 1);
    assert.match(uncompilable.stderr, /@rx/);
    for (let i = 0; i < 6; i++) assert.equal((await send(`${base}/?q=two`)).status, 403);

    writeFileSync(file, 'SecRule ARGS:q "@streq four" "id:1,phase:1,deny,status:403"\n');
    process.kill(w.proc.pid as number, 'SIGHUP');
    await until(() => w.stderr.some((l) => /\[proxy:info\].*reloaded: \d+ rules in 2 workers/.test(l)), 'the SIGHUP reload');
    assert.equal((await send(`${base}/?q=four`)).status, 403);
    assert.equal((await send(`${base}/?q=two`)).status, 200);
  } finally {
    assert.equal(await w.stop(), 0);
  }
});

test('a reload under load drops no request', async () => {
  const file = rules('load.conf', 'SecRule ARGS:q "@streq blocked" "id:1,phase:1,deny,status:403"\n');
  const w = await startWarden(['--upstream', upstream.url, '--rules', file, '--workers', '2']);
  const client = new Agent({ connections: 16 });
  try {
    const base = `http://127.0.0.1:${w.port}`;
    let stop = false;
    const statuses = new Map<string, number>();
    const loop = async (): Promise<void> => {
      while (!stop) {
        let key: string;
        try {
          key = String((await send(`${base}/load`, { dispatcher: client })).status);
        } catch (err) {
          key = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        }
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    };
    const loops = Array.from({ length: 16 }, loop);
    for (let i = 0; i < 5; i++) {
      writeFileSync(file, `SecRule ARGS:q "@streq blocked${i}" "id:1,phase:1,deny,status:403"\n`);
      const r = await warden(['reload', '--data-dir', w.dataDir]);
      assert.equal(r.code, 0, r.stderr);
    }
    stop = true;
    await Promise.all(loops);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.ok(total > 100, `only ${total} requests during the reloads`);
    assert.deepEqual([...statuses.keys()], ['200'], JSON.stringify([...statuses]));
    assert.equal((await send(`${base}/?q=blocked4`)).status, 403);
  } finally {
    await client.close();
    await w.stop();
  }
});

test('a worker that dies is replaced; SIGTERM lets the request in flight finish', async () => {
  const w = await startWarden(['--upstream', upstream.url, '--workers', '2']);
  try {
    const base = `http://127.0.0.1:${w.port}`;
    const [victim] = w.workers();
    process.kill(victim as number, 'SIGKILL');
    await until(() => w.workers().length === 2 && !w.workers().includes(victim as number), 'a replacement worker');
    await until(() => w.stderr.some((l) => new RegExp(`worker ${victim} died \\(signal SIGKILL\\); starting another`).test(l)), 'the primary saying so');
    for (let i = 0; i < 10; i++) assert.equal((await send(`${base}/after`)).status, 200);

    const slow = send(`${base}/slow`);
    await new Promise((r) => setTimeout(r, 300));
    const code = w.stop('SIGTERM');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'slow done');
    assert.equal(await code, 0);
    assert.ok(w.stdout.includes('warden: stopped'));
    assert.equal(existsSync(join(w.dataDir, 'warden.pid')), false);
  } finally {
    await w.stop();
  }
});

test('SIGUSR1 reopens the log files (rotation)', async () => {
  const access = join(root, 'access.log');
  const w = await startWarden(['--upstream', upstream.url, '--workers', '1', '--access-log', access]);
  try {
    const base = `http://127.0.0.1:${w.port}`;
    await send(`${base}/before-rotation`);
    await until(() => existsSync(access) && readFileSync(access, 'utf8').includes('/before-rotation'), 'the first access-log line');
    renameSync(access, `${access}.1`);
    process.kill(w.proc.pid as number, 'SIGUSR1');
    await until(() => w.stderr.some((l) => /logs reopened in 1 workers/.test(l)), 'the reopen');
    await send(`${base}/after-rotation`);
    await until(() => existsSync(access) && readFileSync(access, 'utf8').includes('/after-rotation'), 'the line in the new file');
    assert.doesNotMatch(readFileSync(`${access}.1`, 'utf8'), /after-rotation/);
  } finally {
    await w.stop();
  }
});

test('warden.yaml with a TLS listener: SIGHUP loads new certificate files', async () => {
  const dir = mkdtempSync(join(root, 'tls-'));
  const cert = (name: string): void => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  };
  cert('before.example');
  const config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    `listeners:\n  - name: secure\n    host: 127.0.0.1\n    port: 0\n    tls: { cert: cert.pem, key: key.pem }\n    routes:\n      - { pathPrefix: /, upstream: app }\nupstreams:\n  - { name: app, url: "${upstream.url}" }\nworkers: 2\n`,
  );
  const w = await startWarden(['--config', config], { listen: false });
  const peer = async (): Promise<string> => {
    const s = tlsConnect({ host: '127.0.0.1', port: w.port, rejectUnauthorized: false });
    await once(s, 'secureConnect');
    const cn = String(s.getPeerCertificate().subject.CN);
    s.destroy();
    return cn;
  };
  const client = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    assert.match(w.stdout.join('\n'), /listening on https:\/\/127\.0\.0\.1:\d+ \(secure\)/);
    assert.equal((await send(`https://127.0.0.1:${w.port}/`, { dispatcher: client })).status, 200);
    assert.equal(await peer(), 'before.example');
    cert('after.example');
    process.kill(w.proc.pid as number, 'SIGHUP');
    await until(() => w.stderr.some((l) => /TLS reloaded for secure/.test(l)), 'the TLS reload');
    // Both workers took the new certificate.
    for (let i = 0; i < 6; i++) assert.equal(await peer(), 'after.example');
  } finally {
    await client.close();
    await w.stop();
  }
});

test('300 MiB responses stream through a worker without being held (its memory grows by under a third of that)', async () => {
  const file = rules('stream.conf', 'SecResponseBodyAccess On\nSecResponseBodyMimeType text/html\nSecResponseBodyLimit 524288\nSecRule RESPONSE_BODY "@contains never-there" "id:1,phase:4,deny"\n');
  const w = await startWarden(['--upstream', upstream.url, '--workers', '1', '--rules', file]);
  const client = new Agent({ connections: 1 });
  try {
    const base = `http://127.0.0.1:${w.port}`;
    const [worker] = w.workers();
    // Warm-up: JIT, the upstream connection, the first read buffers.
    for (let i = 0; i < 20; i++) await send(`${base}/warm-up`, { dispatcher: client });
    for (const path of ['/big', '/big.html']) {
      const before = rss(worker as number);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rss(worker as number))), 10);
      let received = 0;
      try {
        const r = await request(`${base}${path}`, { dispatcher: client });
        assert.equal(r.statusCode, 200);
        for await (const chunk of r.body) received += (chunk as Buffer).length;
      } finally {
        clearInterval(sampler);
      }
      assert.equal(received, BIG);
      const grew = peak - before;
      // Nothing is held (the heap stays flat: proxy.test.ts); what RSS shows is the 64 KiB
      // socket reads V8 frees in batches of ~32 MiB of external memory: 44-48 MiB alone,
      // 64.2-64.4 MiB with the rest of the unit suite running beside it (a 100 MiB response
      // was streamed then, against a 64 MiB bound). A response held would add all of it.
      assert.ok(grew < BIG / 3, `${path}: the worker's RSS grew by ${(grew / 1048576).toFixed(1)} MiB while streaming ${BIG / 1048576} MiB`);
      console.log(`${path}: worker RSS ${(before / 1048576).toFixed(1)} MiB before, peak +${(grew / 1048576).toFixed(1)} MiB while streaming ${BIG / 1048576} MiB`);
    }
  } finally {
    await client.close();
    await w.stop();
  }
});
