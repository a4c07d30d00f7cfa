/**
 * A checkpoint's topology: validated again when it is read (a checksum proves the bytes were not
 * damaged, not that they describe a topology), and compared with a training's.
 */
import type { Activation } from '../activations.ts';
import type { TrainingState } from './checkpoint.ts';
import { CheckpointError, IN_MEMORY_STATE } from '../errors.ts';
import { GRAPH_NAMING, type Loss, buildGraph, graphSpecOf, isGraph } from '../graph.ts';
import type { OptimizerConfig } from '../optimizers.ts';
import { parameterShapes } from '../params.ts';
import { recurrentSpecOf } from '../recurrent/owners.ts';
import { recurrentParameterShapes } from '../recurrent/params.ts';
import { type RecurrentTopology, defineRecurrent } from '../recurrent/topology.ts';
import { CHAIN_NAMING, type Topology, defineTopology } from '../topology.ts';

const isRecurrentTopology = (t: Topology | RecurrentTopology): t is RecurrentTopology => (t as { kind?: string }).kind === 'recurrent';

/**
 * The topology a checkpoint holds, validated again (a checksum proves the bytes were not damaged,
 * not that they describe a topology): a graph is rebuilt from its spec and must come back the
 * same; a version-1 chain (saved before chains were graphs: `layers` with their synthesizers) is
 * rebuilt through defineTopology, so it resumes as it always did.
 */
export function topologyOf(t: unknown, path: string): Topology | RecurrentTopology {
  try {
    if ((t as { kind?: unknown })?.kind === 'recurrent') {
      const rebuilt = defineRecurrent(recurrentSpecOf(t as RecurrentTopology));
      if (JSON.stringify(rebuilt) !== JSON.stringify(t)) throw new Error('it does not describe itself consistently');
      return rebuilt;
    }
    const legacy = t as { inputs: number; batch: number; labels: number; loss: Loss; layers?: LegacyLayer[] };
    if (Array.isArray(legacy?.layers)) {
      const opt = (x: { lr: number; optimizer?: OptimizerConfig }) => (x.optimizer ? { optimizer: x.optimizer } : { lr: x.lr });
      return defineTopology({
        inputs: legacy.inputs,
        batch: legacy.batch,
        labels: legacy.labels,
        loss: legacy.loss,
        layers: legacy.layers.map((l) => ({
          units: l.units,
          activation: l.activation,
          ...opt(l),
          decoupled: l.synthesizer !== null,
          ...(l.synthesizer
            ? {
                synthesizer: {
                  conditioned: l.synthesizer.conditioned,
                  delay: l.synthesizer.delay,
                  ...opt(l.synthesizer),
                  ...(l.synthesizer.hidden ? { hidden: l.synthesizer.hidden, activation: l.synthesizer.activation } : {}),
                  ...(l.synthesizer.clip !== undefined ? { clip: l.synthesizer.clip } : {}),
                },
              }
            : {}),
        })),
      });
    }
    if (!isGraph(t)) throw new Error('not a topology');
    const rebuilt = buildGraph(graphSpecOf(t), t.naming === 'chain' ? CHAIN_NAMING : GRAPH_NAMING);
    if (JSON.stringify(rebuilt) !== JSON.stringify(t)) throw new Error('it does not describe itself consistently');
    return rebuilt;
  } catch (e) {
    throw new CheckpointError(path, `its topology is not usable: ${(e as Error).message}`);
  }
}

interface LegacyLayer {
  units: number;
  activation: Activation;
  lr: number;
  optimizer?: OptimizerConfig;
  synthesizer: {
    conditioned: boolean;
    delay: number;
    lr: number;
    optimizer?: OptimizerConfig;
    hidden?: number[];
    activation?: Activation;
    clip?: number;
  } | null;
}

/** Refuse a checkpoint made for another topology, naming the first difference. */
export function checkTopology(state: TrainingState, topology: Topology | RecurrentTopology, path = IN_MEMORY_STATE): void {
  const a = JSON.stringify(state.topology),
    b = JSON.stringify(topology);
  if (a !== b) {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    throw new CheckpointError(
      path,
      `made for another topology (they differ at …${a.slice(Math.max(0, i - 30), i + 30)}… vs …${b.slice(Math.max(0, i - 30), i + 30)}…)`,
    );
  }
  for (const s of isRecurrentTopology(topology) ? recurrentParameterShapes(topology) : parameterShapes(topology)) {
    const m = state.params[s.key];
    if (!m || m.data.length !== s.rows * s.cols)
      throw new CheckpointError(path, `parameter '${s.key}' is missing or not ${s.rows}x${s.cols}`);
  }
}
