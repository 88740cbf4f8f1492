/**
 * @module jail/actions/fail2ban
 * fail2ban's own `action.d/*.conf` files as Warden actions: the file is read as fail2ban
 * reads it (INI with [INCLUDES], `%(name)s` interpolation, .local overrides), its
 * actionstart/actionstop/actionban/actionunban commands run through the shell with
 * fail2ban's `<tag>`s filled from the file's [Definition] and [Init] values, the jail
 * (`<name>`) and warden.yaml's options; values that come from a ban are shell-quoted.
 */
import { CommandAction } from './command.js';
import { ConfigReader } from '../filter/ini.js';

export interface Fail2banActionOptions {
  /** Warden's name for this action instance. */
  readonly name: string;
  /** The jail it serves (`<name>`). */
  readonly jail: string;
  /** Values for the file's tags (port, protocol, chain …), as `action = iptables[port=http]`. */
  readonly options?: Readonly<Record<string, string>>;
}

/**
 * @example
 * const a = loadFail2banAction('/etc/fail2ban/action.d/iptables-multiport.conf', { name: 'fw', jail: 'sshd', options: { port: 'ssh' } });
 * await a.start(); await a.ban(ban);
 */
export function loadFail2banAction(file: string, options: Fail2banActionOptions): CommandAction {
  const reader = new ConfigReader();
  reader.read([file]);
  if (reader.files.length === 0) throw new Error(`cannot read the fail2ban action ${file}`);
  if (!reader.hasSection('Definition')) throw new Error(`${file} has no [Definition] section: not a fail2ban action`);
  const values: Record<string, string> = {};
  // [Init] gives defaults for tags; [Definition] options may be tags too (<iptables>, <chain>).
  for (const section of ['Definition', 'Init']) {
    for (const opt of reader.options(section, false)) {
      const v = reader.getEx(section, opt);
      if (v !== undefined) values[opt] = v.text;
    }
  }
  Object.assign(values, { name: options.jail, ...options.options });
  const get = (opt: string): string | undefined => {
    const v = reader.getEx('Definition', opt);
    return v === undefined || v.text.trim() === '' ? undefined : v.text;
  };
  const actionban = get('actionban');
  const actionunban = get('actionunban');
  if (actionban === undefined || actionunban === undefined) throw new Error(`${file} defines no actionban/actionunban`);
  const start = get('actionstart');
  const stop = get('actionstop');
  return new CommandAction({
    name: options.name,
    templates: { actionban, actionunban, ...(start !== undefined ? { actionstart: start } : {}), ...(stop !== undefined ? { actionstop: stop } : {}) },
    values,
  });
}
