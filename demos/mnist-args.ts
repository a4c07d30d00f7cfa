/**
 * demo:mnist's command line (demos/mnist.ts): its options and the checks of their values, made before
 * the digits load. A bad flag throws a {@link UsageError}; the demo prints {@link mnistUsageError} and
 * exits with code 2. Apart from the demo, so that its tests check each refusal in-process.
 */
import { type DemoOption, type DemoSpec, MNIST_SPLIT_OPTIONS, UsageError, demoUsage, tryParseDemoArgs } from './cli.ts';

export const METHODS = ['backprop', 'dni', 'cdni'] as const;
export type Method = (typeof METHODS)[number];

export const MNIST_SPEC = {
  name: 'mnist',
  takes: 'about half a minute on 2 cores (20 epochs for each of the three methods; --epochs N for fewer)',
  usage:
    "The DNI paper's fully-connected MNIST comparison: backprop, DNI and cDNI on the same network and split.\n" +
    '(npm run demo:mnist -- [options]) Progress on stderr; the table, and with --json one JSON object as the last line, on stdout.',
  defaults: { epochs: 20 },
  options: {
    methods: { type: 'string', value: 'LIST', default: METHODS.join(','), help: `comma-separated, any of ${METHODS.join(', ')}` },
    hidden: { type: 'string', value: 'N,N', default: '256,256', help: 'hidden layer widths (relu)' },
    batch: { type: 'number', value: 'N', default: 64, help: 'rows per batch' },
    lr: { type: 'number', default: 1e-3, help: "the layers' Adam learning rate" },
    eps: { type: 'number', default: 1e-8, help: "the layers' Adam epsilon" },
    synthesizerLr: { type: 'number', default: 3e-3, help: "the synthesizers' Adam learning rate" },
    synthesizerHidden: { type: 'string', value: 'N,N', help: 'hidden widths of MLP synthesizers (default: linear ones)' },
    ...MNIST_SPLIT_OPTIONS,
    noShuffle: { type: 'boolean', help: 'keep the training rows in one order every epoch' },
    lrSchedule: {
      type: 'string',
      value: 'SPEC',
      default: 'constant',
      help: 'learning-rate factor per epoch, for layers and synthesizers alike: constant, cosine[:FLOOR], exp:GAMMA, step:EVERY:GAMMA',
    },
    noTest: { type: 'boolean', help: 'tuning: never evaluate the test split (with --validation)' },
    backend: {
      type: 'string',
      value: 'auto|wasm-fma|wasm|typescript',
      default: 'auto',
      help: 'kernels (auto: the fastest that loads; DNI_BACKEND overrides)',
    },
    plot: { type: 'string', value: 'FILE', help: 'write the loss and accuracy curves to this SVG file' },
  },
} satisfies DemoSpec<Record<string, DemoOption>>;

/** What a bad command line prints on stderr: what is wrong, then the usage. */
export function mnistUsageError(message: string): string {
  return `${MNIST_SPEC.name}: ${message}\n\n${demoUsage(MNIST_SPEC)}`;
}

/**
 * Parse and check demo:mnist's arguments (the command line after the script), or throw a {@link UsageError}.
 * Returns null for `--help`. (`--lr-schedule` is checked once the epochs are known, after the digits load.)
 */
export function parseMnistArgs(argv: readonly string[]) {
  const args = tryParseDemoArgs(argv, MNIST_SPEC);
  if (!args) return null;
  const fail = (message: string): never => {
    throw new UsageError(message);
  };
  const int = (v: number, flag: string, min: number) =>
    Number.isInteger(v) && v >= min ? v : fail(`--${flag} needs an integer >= ${min}, got ${v}`);
  const ints = (v: string, flag: string) =>
    v === ''
      ? []
      : v
          .split(',')
          .map((w) => (/^\d+$/.test(w.trim()) && Number(w) > 0 ? Number(w) : fail(`--${flag} needs widths like 256,256, got '${v}'`)));
  const methods = args.methods.split(',').map((m) => m.trim().toLowerCase()) as Method[];
  for (const m of methods) if (!METHODS.includes(m)) fail(`unknown method '${m}' (expected ${METHODS.join(', ')})`);
  if (!['auto', 'wasm-fma', 'wasm', 'typescript'].includes(args.backend))
    fail(`--backend must be auto, wasm-fma, wasm or typescript, got '${args.backend}'`);
  const hidden = ints(args.hidden, 'hidden');
  const synthesizerHidden = ints(args.synthesizerHidden ?? '', 'synthesizer-hidden');
  const batch = int(args.batch, 'batch', 1);
  for (const [v, flag] of [
    [args.train, 'train'],
    [args.test, 'test'],
  ] as const)
    int(v, flag, 1);
  for (const [v, flag] of [
    [args.validation, 'validation'],
    [args.seed, 'seed'],
    [args.splitSeed, 'split-seed'],
    [args.shuffleSeed, 'shuffle-seed'],
  ] as const)
    int(v, flag, 0);
  for (const [v, flag] of [
    [args.lr, 'lr'],
    [args.synthesizerLr, 'synthesizer-lr'],
  ] as const)
    if (!(v >= 0)) fail(`--${flag} must be >= 0, got ${v}`);
  if (!(args.eps > 0)) fail(`--eps must be > 0, got ${args.eps}`);
  return { args, methods, hidden, synthesizerHidden, batch };
}
