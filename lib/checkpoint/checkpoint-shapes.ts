/**
 * What a checkpoint's own topology implies for each actor's saved state (its parameters, its
 * optimiser's moment buffers, a synthesizer's pending refits): what every field is checked against.
 */
import { parameterOwners } from '../network.ts';
import { type OptimizerConfig, isPlainSgd, optimizerOf } from '../optimizers.ts';
import { type ParameterShape, parameterShapes } from '../params.ts';
import { RECURRENT_HEAD_ACTOR, layerActor, recurrentParameterOwners, recurrentSynthesizers } from '../recurrent/owners.ts';
import { recurrentParameterShapes } from '../recurrent/params.ts';
import type { RecurrentTopology } from '../recurrent/topology.ts';
import type { Topology } from '../topology.ts';

/** What a checkpoint's topology implies for one actor's state. */
export interface ActorShape {
  /** its parameters, in parameterShapes order */
  params: ParameterShape[];
  /** the optimiser's kind and its moment buffers per parameter (0 plain SGD, 1 momentum, 2 Adam) */
  kind: string;
  perParam: number;
  /** a synthesizer's pending refits: values of h (and target) and of y (null: not conditioned), and its delay */
  /** h: what the synthesizer reads (a forward synthesizer: the data's x); target: what it predicts */
  refits?: { h: string; hSize: number; target: string; targetSize: number; y: string | null; ySize: number; delay: number };
}

/**
 * The actors a topology implies, keyed by systemId: each layer's and synthesizer's parameters
 * (in parameterShapes order), its optimiser's kind and moment buffers per parameter, and for a
 * synthesizer the shapes of its pending refits and its delay.
 */
export function actorsOf(t: Topology): Map<string, ActorShape> {
  const shapes = new Map(parameterShapes(t).map((s) => [s.key, s]));
  const owners = parameterOwners(t);
  const optimizer = (o: { lr: number; optimizer?: OptimizerConfig }) => {
    const c = optimizerOf(o);
    return { kind: c.kind, perParam: c.kind === 'adam' ? 2 : isPlainSgd(c) ? 0 : 1 };
  };
  const actors = new Map<string, ActorShape>();
  for (const n of t.nodes) actors.set(n.actor, { params: owners.get(n.actor)!.map((k) => shapes.get(k)!), ...optimizer(n) });
  for (const s of t.synthesizers) {
    const B = t.batch;
    actors.set(s.actor, {
      params: owners.get(s.actor)!.map((k) => shapes.get(k)!),
      ...optimizer(s),
      refits: {
        h: `${B}x${s.inputs}`,
        hSize: B * s.inputs,
        target: `${B}x${s.units}`,
        targetSize: B * s.units,
        y: s.conditioned ? `${B}x${s.labels}` : null,
        ySize: s.conditioned ? B * s.labels : 0,
        delay: s.delay,
      },
    });
  }
  return actors;
}

/** A recurrent network's optimiser owners (layers, their aux heads, synthesizers, the head) and what each holds. */
export function recurrentOwnersOf(t: RecurrentTopology): Map<string, ActorShape> {
  const shapes = new Map(recurrentParameterShapes(t).map((s) => [s.key, s]));
  const owned = recurrentParameterOwners(t);
  const kind = (o: OptimizerConfig) => ({ kind: o.kind, perParam: o.kind === 'adam' ? 2 : isPlainSgd(o) ? 0 : 1 });
  const out = new Map<string, ActorShape>();
  for (const l of t.layers) {
    const id = layerActor(l),
      keys = owned.get(id)!;
    out.set(id, { params: keys.filter((k) => k.startsWith(`${l.key}.`)).map((k) => shapes.get(k)!), ...kind(l.optimizer) });
    if (l.aux)
      out.set(`${id}.aux`, { params: keys.filter((k) => !k.startsWith(`${l.key}.`)).map((k) => shapes.get(k)!), ...kind(l.aux.optimizer) });
  }
  for (const s of recurrentSynthesizers(t)) {
    const l = t.layers[s.layer],
      spec = s.kind === 'boundary' ? l.synthesizer! : l.interface!;
    out.set(s.actor, { params: owned.get(s.actor)!.map((k) => shapes.get(k)!), ...kind(spec.optimizer) });
  }
  out.set(RECURRENT_HEAD_ACTOR, { params: owned.get(RECURRENT_HEAD_ACTOR)!.map((k) => shapes.get(k)!), ...kind(t.readout.optimizer) });
  return out;
}
