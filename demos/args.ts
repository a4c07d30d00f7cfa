/**
 * Command-line flags for demos: declared once (name, kind, help, default), parsed strictly. An
 * unknown flag, a missing or malformed value, or a value outside its choices ends the process
 * with exit code 2 and a usage text built from the declarations; `--help` prints it and exits 0.
 */
export type FlagKind = 'int' | 'number' | 'string' | 'boolean' | 'ints';
type ValueOf<K extends FlagKind> = K extends 'int' | 'number' ? number : K extends 'string' ? string : K extends 'boolean' ? boolean : number[];

export interface Flag<K extends FlagKind = FlagKind> {
  readonly kind: K;
  readonly help: string;
  readonly default: ValueOf<K>;
  /** allowed values of a string flag */
  readonly choices?: readonly string[];
  /** the smallest allowed value of a number (or of each number of a list) */
  readonly min?: number;
}

export type Flags = Record<string, Flag>;
export type Parsed<F extends Flags> = { -readonly [N in keyof F]: F[N] extends Flag<infer K> ? ValueOf<K> : never } & {
  /** the flags given on the command line */
  readonly given: ReadonlySet<string>;
};

export function flag<K extends FlagKind>(kind: K, def: ValueOf<K>, help: string, extra: { choices?: readonly string[]; min?: number } = {}): Flag<K> {
  return { kind, default: def, help, ...extra };
}

/**
 * Parse `argv` (`--name value`, `--name=value`, or `--name` alone for booleans) against `flags`,
 * whose keys are camelCase (`synthesizerLr` is `--synthesizer-lr`).
 */
export function parseArgs<F extends Flags>(program: string, flags: F, argv: readonly string[] = process.argv.slice(2)): Parsed<F> {
  const out: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const [k, f] of Object.entries(flags)) out[k] = Array.isArray(f.default) ? [...f.default] : f.default;
  const byName = new Map(Object.keys(flags).map((k) => [`--${kebab(k)}`, k]));
  const fail = (message: string): never => {
    process.stderr.write(`${program}: ${message}\n${usage(program, flags)}\n`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${usage(program, flags)}\n`);
      process.exit(0);
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const key = byName.get(name);
    if (key === undefined) fail(`unknown option ${JSON.stringify(arg)}`);
    const f = flags[key!];
    given.add(key!);
    if (f.kind === 'boolean') {
      if (eq > 0) fail(`${name} takes no value`);
      out[key!] = true;
      continue;
    }
    const raw = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined || (eq < 0 && raw.startsWith('--'))) fail(`${name} needs a value`);
    out[key!] = value(f, name, raw!, fail);
  }
  return Object.assign(out, { given }) as Parsed<F>;
}

function value(f: Flag, name: string, raw: string, fail: (m: string) => never): unknown {
  const num = (s: string) => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isFinite(v)) fail(`${name} needs a number, got ${JSON.stringify(s)}`);
    if (f.kind !== 'number' && !Number.isInteger(v)) fail(`${name} needs an integer, got ${s}`);
    if (f.min !== undefined && v < f.min) fail(`${name} must be at least ${f.min}, got ${s}`);
    return v;
  };
  switch (f.kind) {
    case 'int':
    case 'number':
      return num(raw);
    case 'ints':
      return raw === '' ? [] : raw.split(',').map(num);
    default:
      if (f.choices && !f.choices.includes(raw)) fail(`${name} must be one of ${f.choices.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
  }
}

export function usage(program: string, flags: Flags): string {
  const rows = Object.entries(flags).map(([k, f]) => {
    const meta = f.kind === 'boolean' ? '' : f.choices ? ` ${f.choices.join('|')}` : f.kind === 'ints' ? ' N,N,…' : f.kind === 'string' ? ' VALUE' : ' N';
    const def = f.kind === 'boolean' || f.default === '' ? '' : ` (default ${Array.isArray(f.default) ? f.default.join(',') || 'none' : f.default})`;
    return [`  --${kebab(k)}${meta}`, `${f.help}${def}`];
  });
  const w = Math.max(...rows.map((r) => r[0].length));
  return [`usage: ${program} [options]`, ...rows.map(([a, b]) => `${a.padEnd(w)}  ${b}`), `  ${'--help'.padEnd(w - 2)}  this text`].join('\n');
}

function kebab(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
