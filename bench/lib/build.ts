/**
 * @module bench/lib/build
 * Warden as a user runs it — `node dist/cli/entry.js`, what bin/warden.js starts — compiled
 * from the working tree into a temporary folder, so that a benchmark measures the program
 * and not tsx compiling it on the fly (tsx adds about 0.9 s and 50 MB to every start).
 * Each src/*.ts is transpiled on its own (no type check, no bundling) by esbuild, the
 * transpiler tsx runs on (so it is installed wherever tsx is: 0.5 s), or else by
 * TypeScript's transpileModule (about 10 s),
 * keeping the layout `npm run build` gives: dist/ next to filters/, rules/, src/ (the dashboard's files), package.json
 * and node_modules/ (links to the checkout's), which the code finds relative to itself.
 *
 * @example
 * const warden = await buildWarden();
 * spawnSync(process.execPath, [warden.entry, 'filter', 'test', 'sshd', '/var/log/auth.log']);
 * warden.remove();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The checkout this benchmark belongs to. */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface WardenBuild {
  /** The folder standing in for the package root. */
  readonly dir: string;
  /** dist/cli/entry.js: run it with node. */
  readonly entry: string;
  /** Deletes the folder. */
  remove(): void;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

type Transpile = (code: string, file: string) => Promise<string>;

async function transpiler(): Promise<Transpile> {
  try {
    const esbuild = await import('esbuild');
    const tsconfigRaw = { compilerOptions: { target: 'es2022', useDefineForClassFields: true, verbatimModuleSyntax: true } } as const;
    return async (code, file) => (await esbuild.transform(code, { loader: 'ts', format: 'esm', target: 'node20', sourcefile: file, tsconfigRaw })).code;
  } catch {
    const config = ts.readConfigFile(join(projectRoot, 'tsconfig.build.json'), (p) => ts.sys.readFile(p));
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, projectRoot);
    const compilerOptions = { ...options, declaration: false, sourceMap: false, noEmit: false };
    return (code, file) => Promise.resolve(ts.transpileModule(code, { compilerOptions, fileName: file }).outputText);
  }
}

/** Compiles src/ into a fresh temporary package root. */
export async function buildWarden(): Promise<WardenBuild> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-build-'));
  const src = join(projectRoot, 'src');
  const transpile = await transpiler();
  await Promise.all(
    sources(src).map(async (file) => {
      const out = join(dir, 'dist', relative(src, file)).replace(/\.ts$/u, '.js');
      const code = await transpile(readFileSync(file, 'utf8'), file);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, code);
    }),
  );
  for (const name of ['filters', 'rules', 'src', 'node_modules', 'package.json']) symlinkSync(join(projectRoot, name), join(dir, name));
  return { dir, entry: join(dir, 'dist/cli/entry.js'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `warden start --config CONFIG` from a build, its output to `out`; resolves once it says
 * it is ready (the rules line), rejects if it exits first or takes over 180 s. The caller
 * stops the process.
 */
export async function startBuiltWarden(build: WardenBuild, config: string, out: string): Promise<ChildProcess> {
  const fd = openSync(out, 'w');
  const proc = spawn(process.execPath, [build.entry, 'start', '--config', config], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const deadline = Date.now() + 180_000;
  while (!/ rules.*; pid \d+/.test(readFileSync(out, 'utf8'))) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`warden start exited:\n${readFileSync(out, 'utf8').slice(-2000)}`);
    if (Date.now() > deadline) {
      proc.kill('SIGTERM');
      throw new Error(`warden start did not start in 180 s:\n${readFileSync(out, 'utf8').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return proc;
}
