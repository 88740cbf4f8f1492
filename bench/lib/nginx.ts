/**
 * nginx on loopback for the benchmarks: a trivial upstream (`return 200`) and nginx as a
 * reverse proxy with or without ModSecurity (Debian's nginx, libnginx-mod-http-modsecurity,
 * libmodsecurity3) and the OWASP CRS. Each server gets its own prefix under a work folder;
 * the processes started are listed so a benchmark can stop them all.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX = '/usr/sbin/nginx';
export const MODSECURITY_MODULE = '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so';
const UNICODE_MAPPING = '/etc/nginx/unicode.mapping';

/** What is missing to run nginx + ModSecurity (empty when nothing is). */
export function missingNginx(): string[] {
  const missing: string[] = [];
  if (!existsSync(NGINX)) missing.push(`nginx (${NGINX})`);
  if (!existsSync(MODSECURITY_MODULE)) missing.push(`libnginx-mod-http-modsecurity (${MODSECURITY_MODULE})`);
  return missing;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function wait(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

/** Stops a process with `signal`, then SIGKILL after 15 s; resolves when it has exited. */
export function stopper(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): () => Promise<void> {
  return async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
}

/** Resolves when something accepts connections on the port (or rejects when the process exits). */
export async function listening(proc: ChildProcess, port: number, what: string, log: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited (${proc.exitCode ?? proc.signalCode}):\n${tail(log)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/', method: 'HEAD', agent: false }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} does not answer on port ${port}:\n${tail(log)}`);
    await wait(100);
  }
}

/** `sig` to the process group `proc` leads (nothing when it is gone). */
function signalGroup(proc: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (proc.pid !== undefined) process.kill(-proc.pid, sig);
  } catch {
    // the group is gone
  }
}

/**
 * Stops an nginx started in its own process group: `signal` to the group (SIGQUIT: each
 * worker finishes its request first), then SIGKILL to the group after 5 s, and once more
 * after the master has exited (a worker still busy with a request outlives its master).
 */
function groupStopper(proc: ChildProcess, signal: NodeJS.Signals): () => Promise<void> {
  const group = (sig: NodeJS.Signals): void => signalGroup(proc, sig);
  return async () => {
    const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => proc.once('exit', () => r()));
    group(signal);
    const timer = setTimeout(() => group('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    group('SIGKILL');
  };
}

/** A running nginx proxy. */
export interface NginxProxy {
  readonly port: number;
  readonly pid: number;
  readonly errorLog: string;
  /** Graceful stop (SIGQUIT), forced after 5 s. */
  stop(): Promise<void>;
  /** SIGKILL to master and workers at once. */
  kill(): Promise<void>;
}

/**
 * ModSecurity's request body limits. The default is modsecurity.conf-recommended's; the
 * worst-case benchmark raises them to what it gives Warden.
 */
export interface ModSecurityLimits {
  readonly requestBodyLimit: number;
  readonly requestBodyNoFilesLimit: number;
  /** SecArgumentsLimit and its rule (400 from 1,000 arguments); null: neither. */
  readonly argumentsLimit: number | null;
}

export const RECOMMENDED_LIMITS: ModSecurityLimits = { requestBodyLimit: 13107200, requestBodyNoFilesLimit: 131072, argumentsLimit: 1000 };

/** nginx servers under one work folder, with the CRS at `crs` for ModSecurity. */
export class NginxFarm {
  /** Every nginx master started (each leads its process group with its workers). */
  readonly children: ChildProcess[] = [];

  /** SIGKILL to every nginx started, masters and workers. */
  killAll(): void {
    for (const c of this.children) signalGroup(c, 'SIGKILL');
  }

  constructor(
    readonly work: string,
    readonly crs: string,
  ) {}

  private common(dir: string): string {
    for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      mkdirSync(join(dir, 'tmp', d), { recursive: true });
      chmodSync(join(dir, 'tmp', d), 0o777);
    }
    return ['daemon off;', 'master_process on;', `pid ${join(dir, 'nginx.pid')};`, `error_log ${join(dir, 'error.log')} notice;`].join('\n');
  }

  private temps(dir: string): string {
    return ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((d) => `  ${d === 'body' ? 'client_body' : d}_temp_path ${join(dir, 'tmp', d)};`).join('\n');
  }

  private async start(name: string, conf: string, dir: string, port: number): Promise<{ proc: ChildProcess; errorLog: string }> {
    const file = join(dir, 'nginx.conf');
    writeFileSync(file, conf);
    const errorLog = join(dir, 'error.log');
    const test = spawnSync(NGINX, ['-t', '-q', '-p', `${dir}/`, '-e', errorLog, '-c', file], { encoding: 'utf8' });
    if (test.status !== 0) throw new Error(`${name}: nginx -t failed:\n${test.stderr}${tail(errorLog)}`);
    // Its own process group: stopping it reaches the workers too (killAll, groupStopper).
    const proc = spawn(NGINX, ['-p', `${dir}/`, '-e', errorLog, '-c', file], { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
    this.children.push(proc);
    await listening(proc, port, name, errorLog);
    return { proc, errorLog };
  }

  /** A trivial upstream: nginx, one worker, `return 200` of `page` whatever the request's size. */
  async upstream(page: string): Promise<{ port: number; stop(): Promise<void> }> {
    const dir = join(this.work, 'upstream');
    mkdirSync(dir);
    const port = await freePort();
    const conf = `${this.common(dir)}
worker_processes 1;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_max_body_size 0;
  large_client_header_buffers 4 64k;
${this.temps(dir)}
  server {
    listen 127.0.0.1:${port};
    default_type text/html;
    location / { return 200 '${page}'; }
  }
}
`;
    const { proc } = await this.start('upstream', conf, dir, port);
    return { port, stop: groupStopper(proc, 'SIGQUIT') };
  }

  /** The CRS files in the order Warden loads them (src/config/rules.ts), for ModSecurity. */
  private crsFiles(): string[] {
    const conf = (dir: string, suffix: string): string[] =>
      existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith(suffix))
            .sort()
            .map((f) => join(dir, f))
        : [];
    const setup = existsSync(join(this.crs, 'crs-setup.conf')) ? join(this.crs, 'crs-setup.conf') : join(this.crs, 'crs-setup.conf.example');
    const plugins = join(this.crs, 'plugins');
    return [setup, ...conf(plugins, '-config.conf'), ...conf(plugins, '-before.conf'), ...conf(join(this.crs, 'rules'), '.conf'), ...conf(plugins, '-after.conf')];
  }

  /**
   * ModSecurity's configuration: modsecurity.conf-recommended's engine settings (blocking:
   * SecRuleEngine On), with the audit log and response body access off as in Warden's
   * baseline and the bench's Warden, then CRS (`extra` lines between the two).
   */
  private modsecurityConf(dir: string, limits: ModSecurityLimits, extra: readonly string[]): string {
    const tmp = join(dir, 'modsec-tmp');
    const data = join(dir, 'modsec-data');
    for (const d of [tmp, data]) {
      mkdirSync(d);
      chmodSync(d, 0o777);
    }
    const lines = [
      '# Written by bench/lib/nginx.ts: the engine settings of modsecurity.conf-recommended,',
      '# then the OWASP CRS in its documented order.',
      'SecRuleEngine On',
      'SecRequestBodyAccess On',
      'SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"',
      'SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"',
      `SecRequestBodyLimit ${limits.requestBodyLimit}`,
      `SecRequestBodyNoFilesLimit ${limits.requestBodyNoFilesLimit}`,
      'SecRequestBodyLimitAction Reject',
      'SecRequestBodyJsonDepthLimit 512',
      ...(limits.argumentsLimit === null
        ? []
        : [
            `SecArgumentsLimit ${limits.argumentsLimit}`,
            `SecRule &ARGS "@ge ${limits.argumentsLimit}" "id:200007,phase:2,t:none,log,deny,status:400,msg:'Failed to fully parse request body due to large argument count',severity:2"`,
          ]),
      'SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400,msg:\'Failed to parse request body.\',logdata:\'%{reqbody_error_msg}\',severity:2"',
      'SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:200003,phase:2,t:none,log,deny,status:400,msg:\'Multipart request body failed strict validation\'"',
      'SecRule MULTIPART_UNMATCHED_BOUNDARY "@eq 1" "id:200004,phase:2,t:none,log,deny,msg:\'Multipart parser detected a possible unmatched boundary.\'"',
      'SecPcreMatchLimit 1000',
      'SecPcreMatchLimitRecursion 1000',
      'SecRule TX:/^MSC_/ "!@streq 0" "id:200005,phase:2,t:none,deny,msg:\'ModSecurity internal error flagged: %{MATCHED_VAR_NAME}\'"',
      'SecResponseBodyAccess Off',
      `SecTmpDir ${tmp}`,
      `SecDataDir ${data}`,
      'SecAuditEngine Off',
      'SecArgumentSeparator &',
      'SecCookieFormat 0',
      ...(existsSync(UNICODE_MAPPING) ? [`SecUnicodeMapFile ${UNICODE_MAPPING} 20127`] : []),
      'SecStatusEngine Off',
      ...extra,
      ...this.crsFiles().map((f) => `Include ${f}`),
      '',
    ];
    const file = join(dir, 'modsecurity.conf');
    writeFileSync(file, lines.join('\n'));
    return file;
  }

  /**
   * nginx as a reverse proxy to `upstreamPort`, one worker per core, keep-alive to the
   * upstream, with ModSecurity and CRS (`waf`) or `modsecurity off`. `workers` overrides
   * `worker_processes auto`; `clientMaxBody` nginx's own body limit (its default is 1 MB),
   * `headerBuffers` its large_client_header_buffers (default `4 8k`: a longer request line
   * is answered 414, a longer header 400, by nginx before ModSecurity sees them).
   */
  async proxy(
    key: string,
    label: string,
    upstreamPort: number,
    waf: boolean,
    options: { limits?: ModSecurityLimits; extra?: readonly string[]; workers?: number; clientMaxBody?: string; headerBuffers?: string } = {},
  ): Promise<NginxProxy> {
    const dir = join(this.work, key);
    mkdirSync(dir);
    const port = await freePort();
    const modsec = waf ? `    modsecurity on;\n    modsecurity_rules_file ${this.modsecurityConf(dir, options.limits ?? RECOMMENDED_LIMITS, options.extra ?? [])};` : '    modsecurity off;';
    const conf = `load_module ${MODSECURITY_MODULE};
${this.common(dir)}
worker_processes ${options.workers ?? 'auto'};
events { worker_connections 4096; }
http {
  access_log off;
${options.clientMaxBody === undefined ? '' : `  client_max_body_size ${options.clientMaxBody};\n`}${options.headerBuffers === undefined ? '' : `  large_client_header_buffers ${options.headerBuffers};\n`}${this.temps(dir)}
  upstream backend {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} default_server;
    server_name _;
${modsec}
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }
  }
}
`;
    const { proc, errorLog } = await this.start(label, conf, dir, port);
    return { port, pid: proc.pid as number, errorLog, stop: groupStopper(proc, 'SIGQUIT'), kill: groupStopper(proc, 'SIGKILL') };
  }
}

/**
 * Runs `fn` with a farm in a new temporary folder; afterwards every nginx it started is
 * killed (a worker may still be busy with a request) and the folder removed.
 */
export async function withNginxFarm<T>(crs: string, fn: (farm: NginxFarm) => Promise<T>): Promise<T> {
  const work = mkdtempSync(join(tmpdir(), 'warden-nginx-'));
  // nginx's workers run as nobody when started by root: they must reach their folders.
  chmodSync(work, 0o755);
  const farm = new NginxFarm(work, crs);
  try {
    return await fn(farm);
  } finally {
    farm.killAll();
    rmSync(work, { recursive: true, force: true });
  }
}
