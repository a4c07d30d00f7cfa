/**
 * Every use of xstate's private fields, in one module, each checked once at load against xstate's
 * own behaviour (xstate 5.x; the fields are not part of its contract and may change in any
 * release). Where a check fails, what needs the field falls back to public behaviour:
 *
 * - a snapshot in another state (`_nodes`, the state nodes a snapshot is in; its methods `matches`,
 *   `hasTag`, `can`, `toJSON` read them): what compiled.ts builds for a transition it takes itself.
 *   Checked by building one and comparing those methods with the snapshot xstate's interpreter
 *   makes; on failure {@link compiledSnapshots} is false and compileMachine compiles nothing.
 * - the `@xstate.microstep` inspection event (`system._sendInspectionEvent`), which xstate's
 *   interpreter sends after each microstep: compiled.ts sends it too. Checked by sending one to an
 *   observer; on failure, as above.
 * - an actor's parent (`_parent`): the trace names each actor's parent, and the Stately relay
 *   finds the root. Checked on a parent and a spawned child; on failure, {@link parentOf} says
 *   "unknown" (undefined) and traces leave the parent out.
 * - stopping a child (`_stop`, what xstate's own stop of a child calls) and forgetting it (the
 *   snapshot's `children`, emptied in place): {@link stopChildrenAtOnce}. Checked on a parent with
 *   spawned children, which must all stop and leave the parent stoppable; on failure it does
 *   nothing, and xstate stops them itself when it stops the parent (in quadratic time).
 */
import { type AnyActorRef, type AnyActorScope, type AnyMachineSnapshot, type AnyStateMachine, type EventObject, type InspectionEvent, createActor, setup } from 'xstate';

/** The fields that say which state a snapshot is in, as xstate computes them for that state. */
export interface StateFields {
  readonly _nodes: unknown[];
  readonly value: unknown;
  readonly tags: Set<string>;
}

/** The state fields of `machine`'s top-level state `key`, through the public `resolveState`. */
export function stateFields(machine: AnyStateMachine, key: string): StateFields {
  const s = machine.resolveState({ value: key, context: {} }) as AnyMachineSnapshot & { _nodes: unknown[] };
  return { _nodes: s._nodes, value: s.value, tags: s.tags };
}

/** `snapshot` (its context, status, …) in the state `fields` describe: a new snapshot object. */
export function inState(snapshot: AnyMachineSnapshot, fields: StateFields): AnyMachineSnapshot {
  return { ...snapshot, ...fields } as AnyMachineSnapshot;
}

/** Send the `@xstate.microstep` inspection event xstate's interpreter sends after each microstep. */
export function sendMicrostep(scope: AnyActorScope, event: EventObject, snapshot: AnyMachineSnapshot, transitions: unknown[]): void {
  (scope.system as unknown as { _sendInspectionEvent: (e: object) => void })._sendInspectionEvent({
    type: '@xstate.microstep',
    actorRef: scope.self,
    event,
    snapshot,
    _transitions: transitions,
  });
}

/** The actor's parent, or undefined when it has none (a root) or when it cannot be known here. */
export function parentOf(ref: AnyActorRef): AnyActorRef | undefined {
  return parentsKnown ? (ref as unknown as { _parent?: AnyActorRef })._parent : undefined;
}

/**
 * Stop every child of `parent` and forget them, in time linear in their number. xstate's stop of
 * a parent copies the parent's children object once per child it stops: quadratic, most of a
 * 1,000-node graph's training time. Each child is stopped as xstate stops one, then removed from
 * the parent's `children` in place, so the parent's own stop finds none left. Call it only when
 * the parent is about to stop and its children have nothing left to do.
 */
export function stopChildrenAtOnce(parent: AnyActorRef): void {
  if (!childrenStoppable) return;
  const children = (parent.getSnapshot() as { children?: Record<string, AnyActorRef> }).children;
  if (!children) return;
  for (const id of Object.keys(children)) {
    (children[id] as unknown as { _stop(): void })._stop();
    delete children[id];
  }
}

function checkStopChildren(): boolean {
  const child = setup({}).createMachine({ id: 'child', initial: 'a', states: { a: {} } });
  const parent = setup({ actors: { child } }).createMachine({
    id: 'parent',
    context: ({ spawn }) => ({ kids: [0, 1, 2].map((i) => spawn('child', { id: `kid${i}`, systemId: `kid:${i}` })) }),
  });
  const actor = createActor(parent).start();
  const kids = actor.getSnapshot().context.kids as AnyActorRef[];
  const children = actor.getSnapshot().children as Record<string, AnyActorRef>;
  if (Object.keys(children).length !== 3 || typeof (kids[0] as unknown as { _stop?: unknown })._stop !== 'function') return false;
  for (const id of Object.keys(children)) {
    (children[id] as unknown as { _stop(): void })._stop();
    delete children[id];
  }
  const stopped = kids.every((k) => k.getSnapshot().status === 'stopped') && Object.keys(actor.getSnapshot().children).length === 0;
  actor.stop();
  return stopped && actor.getSnapshot().status === 'stopped' && actor.system.get('kid:0') === undefined;
}

function checkSnapshots(): boolean {
  const machine = setup({ types: { events: {} as { type: 'GO' } | { type: 'BACK' } } }).createMachine({
    id: 'check',
    context: { n: 1 },
    initial: 'a',
    states: { a: { tags: ['in-a'], on: { GO: 'b' } }, b: { tags: ['in-b'], on: { BACK: 'a' } } },
  });
  const actor = createActor(machine).start();
  const before = actor.getSnapshot();
  const built = inState(before, stateFields(machine, 'b'));
  actor.send({ type: 'GO' });
  const real = actor.getSnapshot();
  actor.stop();
  const same = (s: AnyMachineSnapshot) =>
    JSON.stringify([
      s.value,
      s.matches('a'),
      s.matches('b'),
      s.hasTag('in-a'),
      s.hasTag('in-b'),
      s.can({ type: 'GO' }),
      s.can({ type: 'BACK' }),
      s.toJSON(),
    ]);
  return same(built) === same(real);
}

function checkMicrostep(): boolean {
  const seen: InspectionEvent[] = [];
  const machine = setup({}).createMachine({ id: 'check', initial: 'a', states: { a: {} } });
  const actor = createActor(machine, { inspect: (e) => void seen.push(e) }).start();
  const scope = { system: actor.system, self: actor } as unknown as AnyActorScope;
  try {
    sendMicrostep(scope, { type: 'PING' }, actor.getSnapshot(), []);
  } catch {
    return false;
  } finally {
    actor.stop();
  }
  return seen.some((e) => e.type === '@xstate.microstep' && e.actorRef === actor && e.event.type === 'PING');
}

function checkParents(): boolean {
  const child = setup({}).createMachine({ id: 'child' });
  const parent = setup({ actors: { child } }).createMachine({ id: 'parent', invoke: { src: 'child', id: 'kid' } });
  const actor = createActor(parent).start();
  const kid = actor.getSnapshot().children.kid as AnyActorRef | undefined;
  const ok = kid !== undefined && (kid as unknown as { _parent?: unknown })._parent === actor && (actor as unknown as { _parent?: unknown })._parent === undefined;
  actor.stop();
  return ok;
}

const safely = (check: () => boolean): boolean => {
  try {
    return check();
  } catch {
    return false;
  }
};

/** Compiled transitions may build their own snapshots and send their own microstep events. */
export const compiledSnapshots: boolean = safely(checkSnapshots) && safely(checkMicrostep);
/** {@link stopChildrenAtOnce} may stop children itself. */
const childrenStoppable: boolean = safely(checkStopChildren);
/** {@link parentOf} knows actors' parents. */
const parentsKnown: boolean = safely(checkParents);
export const parentsAreKnown = parentsKnown;
