/**
 * The memory estimate is what a training really allocates, at its peak (issue 24, item 11): it
 * once left out the initial parameter set, which lives beside the network's copy while a training
 * is built, so a topology needing twice its parameters passed the estimate and failed late with
 * the allocator's RangeError. Measured here on the WebAssembly backend's arena (its peak use during
 * createTraining and a short run), for chains, graphs and recurrent networks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { anyTopologyOf, createTraining } from '../../actors/trainer/training.ts';
import { copyTask } from '../../lib/datasets/copy.ts';
import { checkFootprint, recurrentFootprint, trainingFootprint } from '../../lib/footprint.ts';
import { type KernelBackend, backend } from '../../lib/kernels/kernels.ts';
import { release, zeros } from '../../lib/matrix.ts';
import type { RecurrentTopology } from '../../lib/recurrent/topology.ts';
import type { Topology } from '../../lib/topology.ts';
import { TopologyError } from '../../lib/errors.ts';

type Arena = KernelBackend & { usage(): { usedBytes: number; freeBytes: number; largestFreeBytes: number } };
const kernels = backend() as Arena;
const hasArena = typeof (kernels as Partial<Arena>).usage === 'function';
const realAlloc = kernels.alloc;
afterEach(() => void (kernels.alloc = realAlloc));

/** The arena's peak use (over what it held before) while `f` runs. */
async function peakOf(f: () => Promise<void>): Promise<number> {
  const base = kernels.usage().usedBytes;
  let peak = base;
  kernels.alloc = (n: number) => {
    const out = realAlloc.call(kernels, n);
    peak = Math.max(peak, kernels.usage().usedBytes);
    return out;
  };
  await f();
  kernels.alloc = realAlloc;
  return peak - base;
}

const sequences = copyTask({ sequences: 8, length: 5, width: 8, seed: 1 });
const rows = { x: zeros(40, 20), y: zeros(40, 4) };
const CASES: [string, object, object][] = [
  [
    'a chain of two 1,500-unit decoupled layers',
    { inputs: 20, batch: 10, layers: [{ units: 1500, decoupled: true }, { units: 1500, decoupled: true }, { units: 4 }] },
    rows,
  ],
  [
    'a chain with Adam',
    { inputs: 20, batch: 10, optimizer: { kind: 'adam', lr: 1e-3 }, layers: [{ units: 800, decoupled: true }, { units: 4 }] },
    rows,
  ],
  ['an LSTM of 800 units with DNI', { cell: 'lstm', inputs: 9, hidden: 800, outputs: 8, truncation: 3, batch: 4, dni: true }, sequences],
  ['a tanh core of 1,500 units', { cell: 'tanh', inputs: 9, hidden: 1500, outputs: 8, truncation: 3, batch: 4, dni: true }, sequences],
];

describe.skipIf(!hasArena)('the estimate covers the peak of what a training allocates', () => {
  it.each(CASES)('%s', async (_, spec, data) => {
    const t = anyTopologyOf(spec as never);
    const estimate = (
      (t as { kind?: string }).kind === 'recurrent' ? recurrentFootprint(t as RecurrentTopology, 3) : trainingFootprint(t as Topology, 3)
    ).total;
    let params: Record<string, { data: Float32Array; rows: number; cols: number }> = {};
    const peak = await peakOf(async () => {
      params = (await createTraining({ topology: t, data: data as never, steps: 3, seed: 1 }).run()).params;
    });
    for (const m of Object.values(params)) release(m);
    expect(estimate).toBeGreaterThanOrEqual(peak);
    // and not far above it: a topology that fits is not refused
    expect(estimate).toBeLessThan(1.3 * peak);
  });

  it('a topology whose peak does not fit the arena is refused up front, by name, though its actors alone would fit', () => {
    const t = anyTopologyOf({
      inputs: 20,
      batch: 10,
      layers: [{ units: 1500, decoupled: true }, { units: 1500, decoupled: true }, { units: 4 }],
    }) as Topology;
    const f = trainingFootprint(t, 3);
    let actors = 0;
    for (const a of f.actors.values()) actors += a.bytes;
    // an arena with room for the actors but not for the parameters' second copy while the training is built
    const free = actors + f.history + 1000;
    const small = {
      ...kernels,
      name: 'wasm',
      usage: () => ({ usedBytes: 0, freeBytes: free, largestFreeBytes: free }),
    } as unknown as KernelBackend;
    expect(() => checkFootprint(t, 3, small)).toThrow(TopologyError);
    expect(() => checkFootprint(t, 3, small)).toThrow(
      new RegExp(
        /training: the topology would need .* above the .* free in the wasm backend's memory /.source +
          /\(DNI_WASM_MEMORY_MB raises it\); layer:\d alone takes/.source,
      ),
    );
  });
});

describe('a window longer than the sequences', () => {
  // T ≥ L holds each sequence in one window, as T = L does: the same bits, allocated for L steps
  // (truncation: 100000 on sequences of 11 steps was refused as needing 1.4 GiB)
  const data = copyTask({ sequences: 8, length: 5, width: 8, seed: 1 });
  const spec = { cell: 'lstm', inputs: 9, hidden: 64, outputs: 8, batch: 4, dni: true } as const;

  it.each(['queue', 'worker'] as const)('%s: truncation 100000 trains as truncation L, bit for bit', async (scheduler) => {
    expect(data.length).toBe(11);
    const long = await createTraining({ topology: { ...spec, truncation: 100_000 }, data, steps: 6, seed: 3, scheduler }).run();
    const exact = await createTraining({ topology: { ...spec, truncation: data.length }, data, steps: 6, seed: 3, scheduler }).run();
    expect(Array.from(long.losses)).toEqual(Array.from(exact.losses));
    expect(Object.keys(long.params).sort()).toEqual(Object.keys(exact.params).sort());
    for (const k of Object.keys(exact.params)) expect(long.params[k].data, k).toEqual(exact.params[k].data);
    for (const r of [long, exact]) for (const m of Object.values(r.params)) release(m);
  });
});
