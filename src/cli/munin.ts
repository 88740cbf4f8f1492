/**
 * @module cli/munin
 * `warden munin`: a munin plugin, for admins who already graph with munin. It speaks munin's
 * plugin protocol: `config` prints how to draw each graph (graph_title, graph_vlabel,
 * graph_category, FIELD.label, FIELD.type, FIELD.min), no argument prints `FIELD.value N`.
 * Three graphs, from the running Warden's admin API (found as `warden status` finds it):
 *
 *   warden_requests  requests received and sent upstream (DERIVE: per minute from the
 *                    totals since start; a restart is a drop munin ignores, min 0)
 *   warden_blocks    blocked by the WAF, refused by a ban, refused as malformed (DERIVE)
 *   warden_bans      bans in force, in all and per jail (GAUGE)
 *
 * `warden munin` gives the three as one multigraph plugin; `warden munin GRAPH` one of them.
 * Linked into /etc/munin/plugins as `warden_munin` it is the multigraph plugin, as
 * `warden_requests`, `warden_blocks` or `warden_bans` that graph alone (munin calls a
 * plugin with `config`, `autoconf`, `suggest` or nothing).
 */
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { AdminClient } from '../admin/client.js';
import type { Io } from './main.js';
import { TARGET_OPTIONS, withAdmin, type JailAnswer, type StatusAnswer } from './status.js';
import { MUNIN_USAGE } from './usage.js';

export const GRAPHS = ['requests', 'blocks', 'bans'] as const;
export type GraphName = (typeof GRAPHS)[number];

interface Field {
  readonly name: string;
  readonly label: string;
  readonly type: 'DERIVE' | 'GAUGE';
  readonly info: string;
  readonly draw?: string;
  readonly value: number | null;
}

interface Graph {
  readonly name: GraphName;
  readonly title: string;
  readonly vlabel: string;
  readonly info: string;
  readonly fields: readonly Field[];
}

/** A munin field name: letters, digits and underscores, not starting with a digit. */
export function fieldName(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(clean) ? clean : `_${clean}`;
}

/** The graphs from the API's answers (null: Warden did not answer; values unknown, U). */
function graphs(status: StatusAnswer | null, jails: readonly JailAnswer[] | null): Record<GraphName, Graph> {
  const t = status?.totals ?? null;
  return {
    requests: {
      name: 'requests',
      title: 'Warden requests',
      vlabel: 'requests per ${graph_period}',
      info: 'Requests Warden received, and those it sent on to the upstream.',
      fields: [
        { name: 'requests', label: 'received', type: 'DERIVE', info: 'Requests received (whatever became of them)', value: t?.requests ?? null },
        { name: 'upstream', label: 'sent upstream', type: 'DERIVE', info: 'Requests that reached the upstream', value: t?.upstream ?? null },
      ],
    },
    blocks: {
      name: 'blocks',
      title: 'Warden blocks',
      vlabel: 'requests per ${graph_period}',
      info: 'Requests Warden refused: stopped by a rule, refused because the client is banned, or refused as malformed before the rules ran.',
      fields: [
        { name: 'blocked', label: 'blocked by the WAF', type: 'DERIVE', draw: 'AREASTACK', info: 'Stopped by a rule (deny, drop, redirect)', value: t?.blocked ?? null },
        { name: 'banned', label: 'refused: banned', type: 'DERIVE', draw: 'AREASTACK', info: 'Refused because the client address is banned', value: t?.banned ?? null },
        { name: 'rejected', label: 'refused: malformed', type: 'DERIVE', draw: 'AREASTACK', info: 'Refused for their framing before the rules ran', value: t?.rejected ?? null },
      ],
    },
    bans: {
      name: 'bans',
      title: 'Warden bans',
      vlabel: 'addresses banned',
      info: 'Bans in force, in all and per jail.',
      fields: [
        { name: 'active', label: 'all jails', type: 'GAUGE', info: 'Bans in force', value: status?.bansActive ?? null },
        ...(jails ?? []).map((j) => ({ name: fieldName(`jail_${j.jail}`), label: j.jail, type: 'GAUGE' as const, info: `Bans in force in the jail ${j.jail}`, value: j.banned })),
      ],
    },
  };
}

function configLines(g: Graph): string[] {
  const lines = [`graph_title ${g.title}`, `graph_vlabel ${g.vlabel}`, 'graph_category security', 'graph_args --base 1000 -l 0', `graph_info ${g.info}`];
  if (g.fields.some((f) => f.type === 'DERIVE')) lines.push('graph_period minute');
  lines.push(`graph_order ${g.fields.map((f) => f.name).join(' ')}`);
  for (const f of g.fields) {
    lines.push(`${f.name}.label ${f.label}`, `${f.name}.type ${f.type}`, `${f.name}.min 0`, `${f.name}.info ${f.info}`);
    if (f.draw !== undefined) lines.push(`${f.name}.draw ${f.draw}`);
  }
  return lines;
}

function valueLines(g: Graph): string[] {
  return g.fields.map((f) => `${f.name}.value ${f.value === null ? 'U' : String(f.value)}`);
}

/** The graph and the munin verb from the arguments, or from the name munin calls the plugin by. */
function invocation(positionals: readonly string[], argv0: string): { graph: GraphName | 'all'; verb: string } | string {
  const args = [...positionals];
  let graph: GraphName | 'all' = 'all';
  const linked = /^warden_(\w+)$/.exec(basename(argv0));
  if (linked !== null && linked[1] !== 'munin') {
    if (!(GRAPHS as readonly string[]).includes(linked[1] as string)) return `${basename(argv0)}: no such graph (warden_${GRAPHS.join(', warden_')} or warden_munin)`;
    graph = linked[1] as GraphName;
  } else if (args[0] !== undefined && (GRAPHS as readonly string[]).includes(args[0])) graph = args.shift() as GraphName;
  const verb = args.shift() ?? 'fetch';
  if (!['fetch', 'config', 'autoconf', 'suggest'].includes(verb) || args.length > 0) return `unknown arguments: ${positionals.join(' ')}`;
  return { graph, verb };
}

async function ask(admin: AdminClient, graph: GraphName | 'all'): Promise<{ status: StatusAnswer; jails: JailAnswer[] | null }> {
  const status = await admin.get<StatusAnswer>('api/status');
  const jails = graph === 'all' || graph === 'bans' ? await admin.get<JailAnswer[]>('api/jails') : null;
  return { status, jails };
}

/**
 * Runs the plugin. `argv0` is the name the process was started by (munin runs the link).
 *
 * @example
 * await muninCommand(['config'], io);          // multigraph config of the three graphs
 * await muninCommand(['bans'], io);            // active.value 3, jail_sshd.value 2 …
 */
export async function muninCommand(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env, argv0 = process.argv[1] ?? 'warden'): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: TARGET_OPTIONS, allowPositionals: true });
  } catch (err) {
    io.err(`warden munin: ${(err as Error).message}\nusage:\n${MUNIN_USAGE}`);
    return 2;
  }
  const how = invocation(parsed.positionals, argv0);
  if (typeof how === 'string') {
    io.err(`warden munin: ${how}\nusage:\n${MUNIN_USAGE}`);
    return 2;
  }
  const { graph, verb } = how;
  if (verb === 'suggest') {
    for (const g of GRAPHS) io.out(g);
    return 0;
  }
  const chosen = graph === 'all' ? GRAPHS : [graph];
  const print = (all: Record<GraphName, Graph>, lines: (g: Graph) => string[]): void => {
    for (const name of chosen) {
      // With several graphs, each section is announced (munin's multigraph protocol).
      if (graph === 'all') io.out(`multigraph warden_${name}`);
      for (const l of lines(all[name])) io.out(l);
    }
  };
  if (verb === 'autoconf') {
    // munin-node-configure wants "yes" or "no (why)" and exit 0 either way.
    const quiet: Io = { out: () => {}, err: () => {}, readStdin: () => '' };
    let why = '';
    const code = await withAdmin('munin', parsed.values, env, { ...quiet, err: (l) => (why = l) }, async (admin) => {
      await admin.get('api/status');
      return 0;
    });
    io.out(code === 0 ? 'yes' : `no (${why.replace(/^warden munin: /, '').split('\n')[0] ?? ''})`);
    return 0;
  }
  let answer: { status: StatusAnswer; jails: JailAnswer[] | null } | null = null;
  const code = await withAdmin('munin', parsed.values, env, io, async (admin) => {
    answer = await ask(admin, graph);
    return 0;
  });
  const found = answer as { status: StatusAnswer; jails: JailAnswer[] | null } | null;
  const all = graphs(found?.status ?? null, found?.jails ?? null);
  // Munin records U (unknown) for a value that could not be read, rather than a gap or a zero.
  print(all, verb === 'config' ? configLines : valueLines);
  return code;
}
