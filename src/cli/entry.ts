/**
 * @module cli/entry
 * Process entry point of the `warden` command.
 */
import { basename } from 'node:path';
import { setFlagsFromString } from 'node:v8';

// A reader that stops early (`warden eval … | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const argv = process.argv.slice(2);
// A munin plugin link (warden_*) is main's to answer, whatever its arguments.
if (argv[0] === 'filter' && !/^warden_\w+$/.test(basename(process.argv[1] ?? ''))) {
  // `warden filter test` needs the ban filters only: without the engine, the proxy and the
  // store it starts in a third of the time and half the memory, as fail2ban-regex would.
  // Its garbage is short-lived (a line's pieces), yet V8 grows the young generation from 1
  // to 16 MiB semispaces whenever a few scavenges keep much: kept at its first size, a
  // million-line log peaks 5 to 30 MB lower, for the same CPU time. This process only.
  setFlagsFromString('--semi-space-growth-factor=1');
  const { filterCommand } = await import('./filter.js');
  const io = { out: (l: string) => process.stdout.write(`${l}\n`), err: (l: string) => process.stderr.write(`${l}\n`), readStdin: () => '' };
  process.exitCode = await filterCommand(argv.slice(1), io);
} else {
  // `warden start`'s primary forks the workers and then mostly waits (ban engine, tailers,
  // dashboard): loading the modules and the rules grows its young generation to 16 MiB
  // semispaces that it then keeps, 40 MB of its 130. Kept at the first size, as for
  // `warden filter test` above. The workers (cluster.isPrimary false) keep V8's default.
  // (node:cluster is loaded here, not above: `warden filter test` does without it.)
  if (argv[0] === 'start' && (await import('node:cluster')).default.isPrimary) setFlagsFromString('--semi-space-growth-factor=1');
  const { main } = await import('./main.js');
  process.exitCode = await main(argv);
}
