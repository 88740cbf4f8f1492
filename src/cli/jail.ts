/**
 * @module cli/jail
 * `warden jail …`: the running Warden's jails, like fail2ban-client, over the control
 * socket in its data directory (found through --data-dir or --config, as `warden start`
 * was given them).
 *
 *   warden jail status [JAIL]
 *   warden jail list
 *   warden jail ban [JAIL] ADDRESS [--time SECONDS] [--reason TEXT]
 *   warden jail unban [JAIL] ADDRESS | [JAIL] --all
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { readConfigFile } from '../config/load.js';
import { DATA_DIR_DEFAULT } from '../config/defaults.js';
import { controlRequest, controlSocketPath, type ControlRequest } from '../jail/control.js';
import type { StoreHealth } from '../store/types.js';
import type { Io } from './main.js';

export const JAIL_USAGE = `usage:
  warden jail status [JAIL]            jails with their failures and bans
  warden jail list                     live bans
  warden jail ban [JAIL] ADDRESS       ban by hand (JAIL: manual); --time SECONDS (-1: for ever), --reason TEXT
  warden jail unban [JAIL] ADDRESS     lift a ban (every jail when JAIL is not given)
  warden jail unban [JAIL] --all       lift every ban (of JAIL)
  (--data-dir DIR or --config FILE find the running Warden, as given to warden start)`;

/** One line on the store: where it is, whether it answers, and what waits to be written. */
export function describeStore(h: StoreHealth | null): string {
  if (h === null) return 'store: SQLite in the data directory';
  const since = new Date(h.since).toISOString();
  const parts = [`store: ${h.backend} ${h.target} ${h.state} since ${since}`];
  const waiting = [
    h.pendingBanWrites > 0 ? `${h.pendingBanWrites} ban writes waiting` : '',
    h.pendingCollections > 0 ? `${h.pendingCollections} collection records buffered` : '',
    h.lostCollectionWrites > 0 ? `${h.lostCollectionWrites} collection writes lost` : '',
    h.reconnects > 0 ? `${h.reconnects} reconnections` : '',
  ].filter((p) => p !== '');
  if (waiting.length > 0) parts.push(`(${waiting.join(', ')})`);
  if (h.state !== 'connected' && h.lastError !== null) parts.push(`— ${h.lastError}`);
  return parts.join(' ');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

/** The data directory of the Warden to talk to: --data-dir, else the config file's, else the default. */
function dataDirFor(flag: string | undefined, config: string | undefined, io: Io): string | null {
  if (flag !== undefined) return resolve(flag);
  if (config !== undefined && config !== '') {
    const { draft, errors } = readConfigFile(config);
    if (errors.length > 0) {
      for (const e of errors) io.err(e.message);
      return null;
    }
    return draft.dataDir;
  }
  return resolve(DATA_DIR_DEFAULT);
}

export async function jailCommand(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        'data-dir': { type: 'string' },
        config: { type: 'string' },
        time: { type: 'string' },
        reason: { type: 'string' },
        all: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      allowPositionals: true,
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n${JAIL_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [sub, ...args] = positionals;
  const dataDir = dataDirFor(values['data-dir'], values.config ?? process.env.WARDEN_CONFIG, io);
  if (dataDir === null) return 1;
  let req: ControlRequest;
  switch (sub) {
    case 'status':
      req = args[0] === undefined ? { cmd: 'status' } : { cmd: 'status', jail: args[0] };
      break;
    case 'list':
      req = { cmd: 'list' };
      break;
    case 'ban': {
      if (args.length < 1 || args.length > 2) {
        io.err(JAIL_USAGE);
        return 2;
      }
      const seconds = values.time === undefined ? undefined : Number(values.time);
      if (seconds !== undefined && !Number.isFinite(seconds)) {
        io.err(`--time takes seconds (-1 for ever), got "${values.time}"`);
        return 2;
      }
      req = {
        cmd: 'ban',
        address: args[args.length - 1] as string,
        ...(args.length === 2 ? { jail: args[0] as string } : {}),
        ...(seconds !== undefined ? { seconds } : {}),
        ...(values.reason !== undefined ? { reason: values.reason } : {}),
      };
      break;
    }
    case 'unban':
      if (values.all) req = { cmd: 'unban', all: true, ...(args[0] !== undefined ? { jail: args[0] } : {}) };
      else if (args.length === 1) req = { cmd: 'unban', address: args[0] as string };
      else if (args.length === 2) req = { cmd: 'unban', jail: args[0] as string, address: args[1] as string };
      else {
        io.err(JAIL_USAGE);
        return 2;
      }
      break;
    default:
      io.err(sub === undefined ? JAIL_USAGE : `unknown jail command "${sub}"\n${JAIL_USAGE}`);
      return 2;
  }
  let res;
  try {
    res = await controlRequest(controlSocketPath(dataDir), req);
  } catch (err) {
    io.err(`warden jail: ${(err as Error).message}`);
    return 1;
  }
  if (!res.ok) {
    io.err(`warden jail: ${res.error}`);
    return 1;
  }
  if (values.json) {
    io.out(JSON.stringify(res.result, null, 2));
    return 0;
  }
  const r = res.result as Record<string, unknown> | Array<Record<string, unknown>>;
  if (req.cmd === 'status') {
    const list = Array.isArray(r) ? r : [r];
    for (const line of table([['jail', 'failures', 'watched', 'banned'], ...list.map((s) => [String(s.jail), String(s.failures), String(s.watched), String(s.banned)])])) io.out(line);
    if (req.jail === undefined) {
      const store = await controlRequest(controlSocketPath(dataDir), { cmd: 'store' }).catch(() => null);
      if (store?.ok === true) io.out(describeStore(store.result as StoreHealth | null));
    }
  } else if (req.cmd === 'list') {
    const list = r as Array<Record<string, unknown>>;
    if (list.length === 0) io.out('no bans');
    else for (const line of table([['jail', 'address', 'since', 'until', 'count', 'reason'], ...list.map((b) => [String(b.jail), String(b.address), String(b.since), String(b.until ?? 'never'), String(b.count), String(b.reason)])])) io.out(line);
  } else if (req.cmd === 'ban') {
    const b = r as Record<string, unknown>;
    io.out(`banned ${String(b.address)} in ${String(b.jail)} until ${String(b.until ?? 'never')}`);
  } else {
    io.out(`unbanned ${String((r as Record<string, unknown>).unbanned)}`);
  }
  return 0;
}
