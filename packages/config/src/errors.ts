export interface ConfigProblem {
  /** The environment variable or sync_config key at fault. */
  key: string;
  /** What was expected, e.g. "an integer from 1 to 10000". */
  expected: string;
  /** The offending value as given (secrets are never echoed). */
  received?: string;
}

/** Invalid configuration: start-up refuses it rather than running on a guess. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];

  constructor(source: string, problems: ConfigProblem[]) {
    const lines = problems.map((p) => `${p.key}: expected ${p.expected}${p.received === undefined ? '' : `, got ${JSON.stringify(p.received)}`}`);
    super(`Invalid configuration in ${source}:\n  ${lines.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
