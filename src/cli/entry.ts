/**
 * @module cli/entry
 * Process entry point of the `warden` command.
 */
import { main } from './main.js';

// A reader that stops early (`warden eval … | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
process.exitCode = await main(process.argv.slice(2));
