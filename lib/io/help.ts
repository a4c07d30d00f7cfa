/**
 * `--help` for every command (the demos, the benches, `npm run reference`, `dni-actors inspect`):
 * what it does, its options and roughly how long it takes, in one layout. A command that is asked
 * for help prints it and exits 0 before it starts any work.
 */

export interface CommandHelp {
  /** the command line, e.g. `npm run bench -- kernels [options]` (printed after `usage: `) */
  usage: string;
  /** what it does, a line or a few */
  about: string;
  /** its options: [flag, what it does] (`-h, --help` is added) */
  options?: readonly (readonly [string, string])[];
  /** roughly how long a run with the defaults takes, e.g. `about a minute on 2 cores` */
  takes: string;
  /** lines after the options: limits, exit codes */
  notes?: readonly string[];
}

/**
 * The help text of a command.
 *
 * @example
 * helpText({ usage: 'npm run bench -- soak [--steps N]', about: 'Peak memory under each scheduler.',
 *   options: [['--steps N', 'steps per scheduler']], takes: 'about 30 s' });
 */
export function helpText(help: CommandHelp): string {
  const rows = [...(help.options ?? []), ['-h, --help', 'this text (nothing is run)']] as const;
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [
    `usage: ${help.usage}`,
    '',
    help.about,
    '',
    ...rows.map(([flag, what]) => `  ${flag.padEnd(width)}  ${what}`),
    '',
    `Takes ${help.takes}.`,
    ...(help.notes ?? []),
  ].join('\n');
}

/** True when the arguments ask for help: `-h` or `--help` anywhere before a `--`. */
export function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** When the arguments ask for help: print it on stdout and exit 0. Otherwise return. */
export function exitOnHelp(argv: readonly string[], help: CommandHelp | (() => CommandHelp)): void {
  if (!asksForHelp(argv)) return;
  process.stdout.write(`${helpText(typeof help === 'function' ? help() : help)}\n`);
  process.exit(0);
}
