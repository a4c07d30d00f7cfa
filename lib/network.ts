/**
 * A network's live maths objects, built from a validated graph and a parameter set: one
 * {@link DenseLayer} per node, one {@link Synthesizer} per decoupled edge, one {@link Head} per head.
 * The actors each own one of these; the bare loop in `sequential.ts` drives them directly.
 */
import { DenseLayer } from './dense.ts';
import { TopologyError } from './errors.ts';
import type { Graph } from './graph.ts';
import { type Head, createHead } from './head.ts';
import { type KernelBackend, backend } from './kernels/kernels.ts';
import { clone, release } from './matrix.ts';
import type { OptimizerState } from './optimizers.ts';
import { type ParameterSet, parameterShapes } from './params.ts';
import { Synthesizer } from './synthesizer.ts';

export interface Network {
  readonly topology: Graph;
  /** by node index */
  readonly layers: DenseLayer[];
  /** by synthesizer index (one per decoupled edge) */
  readonly synthesizers: Synthesizer[];
  /** by head index */
  readonly heads: Head[];
  /** the live parameters (the layers and synthesizers update these in place) */
  readonly params: ParameterSet;
}

/**
 * Ring depth that covers how far a sender can run ahead of its receivers (see ring.ts). A forward
 * synthesizer lets a consumer run ahead of its source, and the source (decoupled) ahead of the
 * consumer: the slack of both, twice the depth, covers that.
 */
export function ringDepth(g: Graph): number {
  const depth = Math.max(0, ...g.synthesizers.map((s) => s.delay)) + 3;
  return g.synthesizers.some((s) => s.forward) ? 2 * depth : depth;
}

/** Build the maths objects on a private copy of `params` (the caller's matrices are not touched). */
export function buildNetwork(topology: Graph, initial: ParameterSet): Network {
  const kernels = backend();
  const params: ParameterSet = {};
  for (const s of parameterShapes(topology)) {
    const m = initial[s.key];
    if (!m) throw new TopologyError(`parameters: '${s.key}' is missing (the topology needs ${s.rows}x${s.cols})`);
    if (m.data.length !== s.rows * s.cols) {
      throw new TopologyError(`parameters: '${s.key}' has ${m.data.length} values, the topology needs ${s.rows}x${s.cols}`);
    }
    params[s.key] = { ...clone(m), rows: s.rows, cols: s.cols };
  }
  const depth = ringDepth(topology),
    B = topology.batch;
  const layers = topology.nodes.map((n) => new DenseLayer(n.actor, n, params[`${n.key}.W`], params[`${n.key}.b`], B, depth));
  const synthesizers = topology.synthesizers.map(
    (s) =>
      new Synthesizer(
        s.actor,
        s,
        params[`${s.key}.M`],
        params[`${s.key}.c`],
        params[`${s.key}.N`] ?? null,
        B,
        (s.hidden ?? []).map((_, j) => ({
          W: params[`${s.key}.hidden${j}.W`],
          b: params[`${s.key}.hidden${j}.b`],
          N: params[`${s.key}.hidden${j}.N`] ?? null,
        })),
        s.forward ? depth : 0,
      ),
  );
  const heads = topology.heads.map((h) => createHead(h.actor, h, B, depth));
  const net: Network = { topology, layers, synthesizers, heads, params };
  builtWith.set(net, kernels);
  return net;
}

export interface DisposeOptions {
  /**
   * Free the parameter matrices too. Default false: a training's result hands `net.params` to its
   * caller, who keeps using them. Pass true only when nothing holds them any more (they were
   * copied, or cloned into the next network).
   */
  params?: boolean;
}

const paramsReleased = new WeakSet<Network>();
/** The backend each network's buffers came from (the one active when it was built). */
const builtWith = new WeakMap<Network, KernelBackend>();

/**
 * Give back every buffer {@link buildNetwork} allocated for `net` except, by default, its
 * parameters: each layer's input copy, d and rings, each synthesizer's pending-refit slots,
 * error and hidden activations, each head's gradient ring, every optimiser's gradients and
 * moments. On the WebAssembly backend that returns them to its fixed arena (which never grows,
 * so a process that builds network after network must dispose them); on the TypeScript backend
 * it only drops references. Call it once training is over (take `optimizerStates(net)` first if
 * you need them); the network's layers, synthesizers and heads cannot be used afterwards.
 * Calling it again does nothing more (except free the parameters, when asked this time).
 *
 * @example
 * const net = buildNetwork(topology, initial);
 * // ... train ...
 * const { params } = net, state = optimizerStates(net);
 * disposeNetwork(net); // params stay valid
 */
export function disposeNetwork(net: Network, options: DisposeOptions = {}): void {
  for (const l of net.layers) l.dispose();
  for (const s of net.synthesizers) s.dispose();
  for (const h of net.heads) h.dispose();
  if (options.params && !paramsReleased.has(net)) {
    paramsReleased.add(net);
    const kernels = builtWith.get(net) ?? backend();
    for (const m of Object.values(net.params)) release(m, kernels);
  }
}

/** Every optimiser's state (step count, moments), keyed by actor name (`layer:i`, `synthesizer:i`), copied. */
export type OptimizerStates = Record<string, OptimizerState>;

/** The optimisers' owners: every layer and synthesizer, by actor name. */
export function optimizerOwners(net: Network): (DenseLayer | Synthesizer)[] {
  return [...net.layers, ...net.synthesizers];
}

export function optimizerStates(net: Network, ids?: ReadonlySet<string>): OptimizerStates {
  const out: OptimizerStates = {};
  for (const o of optimizerOwners(net)) if (!ids || ids.has(o.id)) out[o.id] = o.optimizer.state();
  return out;
}

/** Restore {@link optimizerStates} into a network of the same topology (every optimiser must be there). */
export function restoreOptimizerStates(net: Network, states: OptimizerStates): void {
  for (const o of optimizerOwners(net)) {
    const s = states[o.id];
    if (!s) throw new TopologyError(`optimizer state: '${o.id}' is missing`);
    try {
      o.optimizer.setState(s);
    } catch (e) {
      throw new TopologyError(`optimizer state: '${o.id}': ${(e as Error).message}`);
    }
  }
}

/** The parameter keys each actor owns (`layer:1` → `layer1.W`, `layer1.b`; `synthesizer:0` → `synth0.*`). */
export function parameterOwners(g: Graph): Map<string, string[]> {
  // by key prefix (a node's key, or a synthesizer's: the key up to one of its dots): a lookup per key, not a scan
  const byPrefix = new Map<string, string>();
  for (const n of g.nodes) byPrefix.set(n.key, n.actor);
  for (const s of g.synthesizers) byPrefix.set(s.key, s.actor);
  const out = new Map<string, string[]>();
  for (const s of parameterShapes(g)) {
    const owner = ownerOfKey(byPrefix, s.key);
    const keys = out.get(owner);
    if (keys) keys.push(s.key);
    else out.set(owner, [s.key]);
  }
  return out;
}

function ownerOfKey(byPrefix: ReadonlyMap<string, string>, key: string): string {
  // the longest prefix first: `a.b.W` is node `a.b`'s even beside a node `a`
  for (let dot = key.lastIndexOf('.'); dot > 0; dot = key.lastIndexOf('.', dot - 1)) {
    const owner = byPrefix.get(key.slice(0, dot));
    if (owner !== undefined) return owner;
  }
  throw new Error(`parameters: no actor owns '${key}'`);
}
