#!/usr/bin/env node
// The `warden` command: runs the compiled CLI (npm install builds it into dist/).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/entry.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('warden: dist/ is missing; run `npm run build` (npm install does it)\n');
  process.exit(2);
}
await import(entry.href);
