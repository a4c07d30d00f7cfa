/**
 * `npm run bench -- kernels [--json] [--budget=SECONDS] [--no-numpy]`: GFLOP/s of A·B, Aᵀ·B and A·Bᵀ
 * for every kernel backend (typescript, wasm, wasm-fma where relaxed SIMD fuses), and numpy's figure measured in the same run (when python3
 * has numpy), with ratios ours ÷ numpy. Sizes are m×k·k×n (output m×n, 2mkn flops): the DNI seed's layers
 * (batch 10: 24-128-64-12) and one large product.
 *
 * Timing: warm up (JIT tiers, caches), then rounds of ~10 ms until the time budget is spent;
 * the table shows the best round (the JSON has the median too). numpy runs with one OpenBLAS thread and without
 * OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they slow it down here; they are removed for that child only).
 */
import type { CommandHelp } from '../lib/io/help.ts';
import { runNumpy } from './_numpy.ts';
import { type KernelBackend, typescriptBackend } from '../lib/kernels/kernels.ts';
import { wasmBackend, wasmFmaBackend, wasmFmaUnavailableReason, wasmUnavailableReason } from '../lib/kernels/backend-choice.ts';
import type { WasmKernelBackend } from '../lib/kernels/kernels-wasm.ts';
import type { Matrix } from '../lib/matrix.ts';

/** `npm run bench -- kernels --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- kernels [--budget=SECONDS] [--no-numpy] [--json]',
  about:
    "GFLOP/s of A·B, Aᵀ·B and A·Bᵀ for every kernel backend (typescript, wasm, wasm-fma), at the seed network's sizes\n" +
    "and one large product, beside numpy's (one OpenBLAS thread) measured in the same run.",
  options: [
    ['--budget=SECONDS', 'time per size, operation and backend (default 0.4)'],
    ['--no-numpy', 'leave out numpy'],
    ['--json', 'one JSON object as the last line'],
  ],
  takes: "about a minute (5 sizes × 3 operations × 3 backends at 0.4 s each, and numpy's)",
};

type Op = 'matmul' | 'matmulTA' | 'matmulTB';
const OPS: readonly Op[] = ['matmul', 'matmulTA', 'matmulTB'];
const LABEL: Record<Op, string> = { matmul: 'A·B', matmulTA: 'Aᵀ·B', matmulTB: 'A·Bᵀ' };
const SIZES: readonly (readonly [number, number, number])[] = [
  [10, 24, 128],
  [10, 128, 128],
  [10, 128, 64],
  [10, 64, 12],
  [256, 1024, 1024],
];

interface Row {
  op: Op;
  m: number;
  k: number;
  n: number;
  backend: string;
  seconds: number;
  medianSeconds: number;
  gflops: number;
}

/**
 * Seconds per call, best and median round: `warmup` seconds of calls (at least `least`), then
 * ~10 ms rounds until `budget` seconds have passed (at least `least` rounds). The table uses the
 * best round: on a shared machine other work only ever adds time.
 */
function timeCall(fn: () => void, warmup: number, budget: number, least = 3): { best: number; median: number } {
  let end = performance.now() + warmup * 1e3;
  for (let calls = 0; calls < least || performance.now() < end; calls++) fn();
  let t = performance.now();
  fn();
  const once = Math.max((performance.now() - t) / 1e3, 1e-7);
  const reps = Math.max(1, Math.floor(0.01 / once));
  const rounds: number[] = [];
  end = performance.now() + budget * 1e3;
  while (rounds.length < least || performance.now() < end) {
    t = performance.now();
    for (let r = 0; r < reps; r++) fn();
    rounds.push((performance.now() - t) / 1e3 / reps);
  }
  rounds.sort((x, y) => x - y);
  return { best: rounds[0], median: rounds[rounds.length >> 1] };
}

function random(b: KernelBackend, rows: number, cols: number, seed: number): Matrix {
  const data = b.alloc(rows * cols);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  return { rows, cols, data };
}

function numpy(
  sizes: readonly (readonly number[])[],
  warmup: number,
  budget: number,
): { settings: unknown; results: { op: Op; m: number; k: number; n: number; seconds: number; medianSeconds: number }[] } | string {
  return runNumpy('numpy_kernels.py', [JSON.stringify({ sizes, warmup, budget })], 1);
}

export async function main(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const budget = Number(args.find((a) => a.startsWith('--budget='))?.slice(9) ?? 0.4);
  const warmup = Math.min(0.1, budget / 4);
  const log = json ? () => {} : (line = '') => console.log(line);

  const backends: KernelBackend[] = [typescriptBackend];
  const wasms: WasmKernelBackend[] = [];
  const wasm = wasmBackend();
  if (wasm) wasms.push(wasm);
  else log(`wasm backend unavailable: ${wasmUnavailableReason()}`);
  const fma = wasmFmaBackend();
  if (fma) wasms.push(fma);
  else log(`wasm-fma backend unavailable: ${wasmFmaUnavailableReason()}`);
  backends.push(...wasms);

  const rows: Row[] = [];
  for (const [m, k, n] of SIZES) {
    for (const b of backends) {
      for (const op of OPS) {
        const a = op === 'matmulTA' ? random(b, k, m, 1) : random(b, m, k, 1);
        const bm = op === 'matmulTB' ? random(b, n, k, 2) : random(b, k, n, 2);
        const c = { rows: m, cols: n, data: b.alloc(m * n) };
        // the TypeScript kernels take ~0.5 s at the large size: one warm-up call and one timed call
        const big = b === typescriptBackend && m * k * n > 1e7;
        const t = big ? timeCall(() => b[op](a, bm, c), 0, 0, 1) : timeCall(() => b[op](a, bm, c), warmup, budget);
        rows.push({ op, m, k, n, backend: b.name, seconds: t.best, medianSeconds: t.median, gflops: (2 * m * k * n) / t.best / 1e9 });
        const w = wasms.find((x) => x === b);
        if (w) for (const x of [a, bm, c]) w.free(x.data);
      }
    }
  }

  const np = args.includes('--no-numpy') ? 'skipped (--no-numpy)' : numpy(SIZES, warmup, budget);
  const npSeconds = new Map<string, number>();
  if (typeof np !== 'string') for (const r of np.results) npSeconds.set(`${r.op} ${r.m} ${r.k} ${r.n}`, r.seconds);

  const names = backends.map((b) => b.name);
  const header = [
    'op',
    'size (m×k·k×n)',
    ...names.map((n) => `${n} µs`),
    ...names.map((n) => `${n} GFLOP/s`),
    'numpy µs',
    'numpy GFLOP/s',
    ...names.map((n) => `${n}÷numpy`),
  ];
  const table: string[][] = [];
  const ratios: { op: Op; m: number; k: number; n: number; backend: string; ratio: number }[] = [];
  for (const [m, k, n] of SIZES) {
    for (const op of OPS) {
      const mine = names.map((name) => rows.find((r) => r.op === op && r.m === m && r.k === k && r.n === n && r.backend === name)!);
      const ns = npSeconds.get(`${op} ${m} ${k} ${n}`);
      const npGflops = ns === undefined ? undefined : (2 * m * k * n) / ns / 1e9;
      for (const r of mine) if (npGflops !== undefined) ratios.push({ op, m, k, n, backend: r.backend, ratio: r.gflops / npGflops });
      table.push([
        LABEL[op],
        `${m}×${k}·${k}×${n}`,
        ...mine.map((r) => (r.seconds * 1e6).toFixed(r.seconds < 1e-4 ? 2 : 0)),
        ...mine.map((r) => r.gflops.toFixed(2)),
        ns === undefined ? '-' : (ns * 1e6).toFixed(ns < 1e-4 ? 2 : 0),
        npGflops === undefined ? '-' : npGflops.toFixed(2),
        ...mine.map((r) => (npGflops === undefined ? '-' : (r.gflops / npGflops).toFixed(3))),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  log(`float32 GEMM (alpha 1, beta 0), best of ~10 ms rounds over ${budget} s per case; Node ${process.version}`);
  log(fmt(header));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) log(fmt(row));
  log();
  if (typeof np === 'string') log(`numpy: ${np}`);
  else log(`numpy ran with: ${JSON.stringify(np.settings)}`);
  if (json) {
    console.log(
      JSON.stringify({
        bench: 'kernels',
        node: process.version,
        budget,
        rows,
        numpy: typeof np === 'string' ? { unavailable: np } : np,
        ratios,
      }),
    );
  }
}
