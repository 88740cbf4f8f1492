/**
 * @module config/errors
 * What goes wrong in warden.yaml or on the command line, said the way a user fixes it:
 * `warden.yaml:12: upstreams[0].url must be an http:// or https:// URL`. Every problem is a
 * ConfigError (file, line, path in the document, reason); a load that finds any throws one
 * ConfigLoadError listing them all, so a user fixes a file in one pass.
 */

export class ConfigError extends Error {
  readonly code = 'WARDEN_CONFIG';

  /**
   * @param file the config file as the user named it, or null for a flag or the environment
   * @param line 1-based line in `file` (0 when there is no file)
   * @param path where in the document (`upstreams[0].url`) or which flag (`--upstream`)
   * @param reason what is wrong and what to do, phrased to follow the path
   * @example
   * new ConfigError('warden.yaml', 12, 'upstreams[0].url', 'must be an http:// or https:// URL').message
   * // 'warden.yaml:12: upstreams[0].url must be an http:// or https:// URL'
   */
  constructor(
    readonly file: string | null,
    readonly line: number,
    readonly path: string,
    readonly reason: string,
  ) {
    const where = file === null ? '' : `${file}:${line}: `;
    super(`${where}${path === '' ? reason : `${path} ${reason}`}`);
    this.name = 'ConfigError';
  }
}

/** A configuration that cannot be used; `errors` has every problem found, in file order. */
export class ConfigLoadError extends Error {
  readonly code = 'WARDEN_CONFIG_INVALID';

  constructor(readonly errors: readonly ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'ConfigLoadError';
  }
}
