/**
 * Spawning a network's actors (or one stage's share of them) with their readable systemIds:
 * `layer:i`, `synthesizer:i`, `head`. Used by the trainer (every actor, one thread) and by a
 * worker stage (its own actors).
 */
import type { AnyActorRef } from 'xstate';
import { HEAD_ID, type Network, layerId, synthesizerId } from '../lib/network.ts';
import type { NetworkPorts } from './wiring.ts';

type Spawner = (
  src: 'layer' | 'synthesizer' | 'head',
  options: { id: string; systemId: string; input: never },
) => AnyActorRef;

export interface SpawnedActors {
  /** every spawned actor by systemId */
  readonly byId: ReadonlyMap<string, AnyActorRef>;
  /** the synthesizers among them */
  readonly synthesizers: readonly AnyActorRef[];
}

export function spawnNetworkActors(spawn: unknown, network: Network, ports: NetworkPorts, here: (id: string) => boolean = () => true): SpawnedActors {
  const s = spawn as Spawner;
  const byId = new Map<string, AnyActorRef>();
  const synthesizers: AnyActorRef[] = [];
  const add = (src: 'layer' | 'synthesizer' | 'head', id: string, input: object) => {
    if (!here(id)) return null;
    const ref = s(src, { id, systemId: id, input: input as never });
    byId.set(id, ref);
    return ref;
  };
  network.layers.forEach((layer, i) => add('layer', layerId(i), { layer, ports: ports.layers[i] }));
  network.synthesizers.forEach((synthesizer, i) => {
    const ref = synthesizer && add('synthesizer', synthesizerId(i), { synthesizer, ports: ports.synthesizers[i]! });
    if (ref) synthesizers.push(ref);
  });
  add('head', HEAD_ID, { head: network.head, ports: ports.head });
  return { byId, synthesizers };
}
