/**
 * Names a checkpoint may hold from before a rename, mapped to today's when it is read, so a file
 * written before still resumes. Each entry says what a word meant and what it is called now; the
 * checks that follow (topology, parameters, actors) then see only today's names.
 *
 * - issue 23: the recurrent synthesizer on the interface above layer ℓ was a "link": topology
 *   field `link` → `interface`, parameter keys `link{ℓ}.*` → `interface{ℓ}.*`, actor
 *   `synthesizer:link{ℓ}` → `synthesizer:interface{ℓ}`.
 */
import { type Json, isObject } from './checkpoint-checker.ts';

/** A recurrent topology's layer field, a parameter-key prefix and an actor id, old → new. */
const FIELDS: readonly (readonly [string, string])[] = [['link', 'interface']];
const KEY = (k: string): string => k.replace(/^link(\d+)\./, 'interface$1.');
const ACTOR = (id: string): string => id.replace(/^synthesizer:link(\d+)$/, 'synthesizer:interface$1');

/** The payload of a checkpoint, with names from before a rename mapped to today's (in place). */
export function renameLegacyNames(payload: Json): void {
  const t = payload.topology;
  if (!isObject(t) || t.kind !== 'recurrent' || !Array.isArray(t.layers)) return;
  t.layers = t.layers.map((l) => (isObject(l) ? renameFields(l, FIELDS) : l));
  renameKeys(payload, 'params', KEY);
  renameKeys(payload, 'optimizers', ACTOR);
  renameKeys(payload, 'synthesizers', ACTOR);
}

/** `o` with each old field renamed where it stands (the topology is compared as JSON: order counts). */
function renameFields(o: Json, pairs: readonly (readonly [string, string])[]): Json {
  if (!pairs.some(([old]) => Object.hasOwn(o, old))) return o;
  const map = new Map(pairs);
  // an old name beside its new one stays as it is, so the topology check refuses it by name
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [map.has(k) && !Object.hasOwn(o, map.get(k)!) ? map.get(k)! : k, v]));
}

function renameKeys(payload: Json, field: string, rename: (k: string) => string): void {
  const o = payload[field];
  if (!isObject(o)) return;
  const renamed: Json = {};
  for (const [k, v] of Object.entries(o)) {
    const to = rename(k);
    // an old name beside its new one: keep both, so the checks that follow refuse the unknown one by name
    renamed[to !== k && Object.hasOwn(o, to) ? k : to] = v;
  }
  payload[field] = renamed;
}
