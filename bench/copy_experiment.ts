/**
 * `npm run bench -- copy_experiment [--task copy|repeat-copy] [--budget N] [--seed S[,S…]] [--T 2,3,4,5,8]
 *   [--methods bptt,dni,dni-aux] [--hidden 64] [--batch 16] [--lr 3e-3] [--synthesizer-lr 1e-3] [--scale 1]
 *   [--smoke] [--json]`:
 * the paper's copy-task table in the bare loop (lib/recurrent/curriculum.ts): for each truncation T
 * and method, the longest length the curriculum reaches within the budget of training sequences
 * (start at 1, +1 when the mean error of the last 10 batches is below 0.15 bits per sequence),
 * same seeds for every method. LSTM core with Adam and gradient-norm clipping at 1; DNI: a linear
 * synthesizer over [h | c] with Adam; aux as documented in lib/recurrent/core.ts. The last line of
 * `--json` is `{"task", "budget_sequences", "rows": [{"method", "T", "seed", "max_length", "sequences", "wall_seconds"}]}`.
 * `--smoke`: a seconds-long run (budget 2,000, T = 3, one seed) for CI.
 */
import { type CurriculumResult, runCurriculum } from '../lib/recurrent/curriculum.ts';
import { defineRecurrent } from '../lib/recurrent/topology.ts';

const METHODS = ['bptt', 'dni', 'dni-aux'] as const;
type Method = (typeof METHODS)[number];

export async function main(argv: string[]): Promise<void> {
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const smoke = argv.includes('--smoke');
  const task = (at('--task') ?? 'copy') as 'copy' | 'repeat-copy';
  const budget = Number(at('--budget') ?? (smoke ? 2000 : 200_000));
  const seeds = (at('--seed') ?? '1').split(',').map(Number);
  const Ts = (at('--T') ?? (smoke ? '3' : '2,3,4,5,8')).split(',').map(Number);
  const methods = (at('--methods') ?? METHODS.join(',')).split(',') as Method[];
  for (const m of methods) if (!METHODS.includes(m)) throw new Error(`--methods: unknown '${m}' (expected ${METHODS.join(', ')})`);
  const hidden = Number(at('--hidden') ?? 64), batch = Number(at('--batch') ?? 16), lr = Number(at('--lr') ?? 3e-3);
  const slr = Number(at('--synthesizer-lr') ?? 1e-3), scale = Number(at('--scale') ?? 1), width = 8;
  const rows: { method: Method; T: number; seed: number; max_length: number; sequences: number; wall_seconds: number; curve: [number, number][] }[] = [];
  console.log(`${task}, LSTM ${hidden}, batch ${batch}, Adam ${lr} (synthesizer ${slr}, scale ${scale}), clip 1; budget ${budget} sequences; seeds ${seeds.join(', ')}`);
  for (const T of Ts) {
    for (const method of methods) {
      for (const seed of seeds) {
        const topology = defineRecurrent({
          cell: 'lstm', inputs: task === 'copy' ? width + 1 : width + 2, hidden, outputs: task === 'copy' ? width : width + 1, truncation: T, batch, clip: 1,
          optimizer: { kind: 'adam', lr },
          dni: method === 'bptt' ? false : { synthesizer: { optimizer: { kind: 'adam', lr: slr }, scale }, aux: method === 'dni-aux' },
        });
        const r: CurriculumResult = runCurriculum(topology, { task, width, budget, seed });
        rows.push({ method, T, seed, max_length: r.maxLength, sequences: r.sequences, wall_seconds: Number(r.wallSeconds.toFixed(2)), curve: r.curve });
        console.log(`  T=${T} ${method.padEnd(8)} seed ${seed}: max length ${String(r.maxLength).padStart(2)}   (${r.sequences} sequences, ${r.steps} steps, ${r.wallSeconds.toFixed(1)} s)`);
      }
    }
  }
  console.log('\nmax length reached (median over seeds)');
  console.log(`  T   ${methods.map((m) => m.padStart(8)).join(' ')}`);
  for (const T of Ts) {
    const med = (m: Method) => {
      const v = rows.filter((r) => r.T === T && r.method === m).map((r) => r.max_length).sort((a, b) => a - b);
      return v.length ? v[Math.floor((v.length - 1) / 2)] : NaN;
    };
    console.log(`  ${String(T).padEnd(3)} ${methods.map((m) => String(med(m)).padStart(8)).join(' ')}`);
  }
  if (argv.includes('--json')) console.log(JSON.stringify({ task, budget_sequences: budget, rows: rows.map(({ curve: _, ...r }) => r) }));
}
