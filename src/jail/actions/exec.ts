/**
 * @module jail/actions/exec
 * Running the firewall tools: arguments as an array (never through a shell), stdin for
 * batch scripts, a timeout, and the tool's own error text in the rejection.
 */
import { spawn } from 'node:child_process';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A failed command, with what it said. */
export class CommandError extends Error {
  readonly code = 'WARDEN_ACTION_COMMAND';
  constructor(
    message: string,
    readonly result: ExecResult | null,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/**
 * Runs `argv[0]` with the rest as arguments; resolves with the result, rejects with
 * CommandError on a non-zero exit (unless `allowFailure`), a spawn error or the timeout.
 *
 * @example
 * await run(['nft', '-f', '-'], { input: 'add table inet warden\n' });
 */
export function run(argv: readonly string[], options: { input?: string; timeoutMs?: number; allowFailure?: boolean } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (cmd === undefined) {
      reject(new CommandError('no command', null));
      return;
    }
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(`${cmd}: ${err.message}`, null));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, stdout, stderr };
      if (code === 0 || options.allowFailure === true) resolve(result);
      else reject(new CommandError(`${argv.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || stdout.trim()}`, result));
    });
    // A command that exits without reading its input is not an error of ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
