/**
 * Builtin prototypes stay fast (non-dictionary) objects once the whole program is loaded.
 * A dependency that subclasses String (ioredis does) turns String.prototype into a
 * dictionary in V8, and every optimised string method call in the WAF gets slower (see
 * src/store/string-prototype.ts). Checked in a child process with V8's natives syntax.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs an ES module body under tsx with natives syntax; returns its stdout lines. */
function run(body: string): string[] {
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', body], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n');
}

// Natives syntax cannot be parsed by tsx's transform: it is compiled by V8 at run time.
const FAST = `const fast = new Function('o', 'return %HasFastProperties(o)');`;

test('subclassing String makes String.prototype a dictionary; restoreFastStringPrototype makes it fast again', () => {
  const out = run(`${FAST}
    const { restoreFastStringPrototype } = await import('./src/store/string-prototype.ts');
    console.log(fast(String.prototype));
    class Verbatim extends String {}
    globalThis.keep = Verbatim;
    console.log(fast(String.prototype));
    restoreFastStringPrototype();
    console.log(fast(String.prototype));`);
  assert.deepEqual(out, ['true', 'false', 'true']);
});

test('with every module of warden start loaded (the Redis store among them), no builtin prototype is a dictionary', () => {
  const out = run(`${FAST}
    await import('./src/cli/main.ts');
    await import('./src/store/redis.ts');
    const protos = { Object, Function, Array, String, Number, Boolean, RegExp, Map, Set, Promise, Error, Uint8Array, Buffer, Date };
    for (const [name, ctor] of Object.entries(protos)) if (!fast(ctor.prototype)) console.log(name);
    console.log('done');`);
  assert.deepEqual(out, ['done']);
});
