/**
 * If xstate's shape changes under us, the load-time checks in actors/machines/xstateInternals.ts fail and
 * every machine runs on xstate's own interpreter: here a higher-order guard loses the marker
 * transitionTable.ts relies on (`check`), in a fresh module graph, and a training gives the same bits as
 * the table one.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadCase } from '../../lib/reference.ts';
import { referenceCases } from '../helpers.ts';

const json = referenceCases().find((c) => c.name === 'dni')!.json;
const c = loadCase({ ...json, config: { ...json.config, delay: 1 } });

async function load() {
  const [internals, table, layer, training] = await Promise.all([
    import('../../actors/machines/xstateInternals.ts'),
    import('../../actors/machines/transitionTable.ts'),
    import('../../actors/machines/layerMachine.ts'),
    import('../../actors/trainer/training.ts'),
  ]);
  return {
    tableSnapshots: internals.tableSnapshots,
    tables: table.withTransitionTable(layer.layerMachine) !== layer.layerMachine,
    train: training.train,
  };
}

describe('xstate internals that no longer check out', () => {
  afterEach(() => {
    vi.doUnmock('xstate');
    vi.resetModules();
  });

  it.each(['queue', 'async'] as const)('%s: fall back to the plain interpreter, with the same bits', async (scheduler) => {
    vi.resetModules();
    const now = await load();
    expect([now.tableSnapshots, now.tables]).toEqual([true, true]);
    const a = await now.train({ topology: c.topology, data: c.data, params: c.initial, steps: 30, scheduler, interpreter: 'table' });

    vi.resetModules();
    vi.doMock('xstate', async (importOriginal) => {
      const xstate = await importOriginal<typeof import('xstate')>();
      // a guard without the `check` marker: what a later xstate might ship
      return { ...xstate, stateIn: () => () => true };
    });
    const changed = await load();
    expect([changed.tableSnapshots, changed.tables]).toEqual([false, false]);
    const b = await changed.train({ topology: c.topology, data: c.data, params: c.initial, steps: 30, scheduler, interpreter: 'table' });

    expect(Array.from(b.losses)).toEqual(Array.from(a.losses));
    expect(Array.from(b.synthesizerLosses)).toEqual(Array.from(a.synthesizerLosses));
    for (const k of Object.keys(a.params)) expect(b.params[k].data, k).toEqual(a.params[k].data);
  });
});
