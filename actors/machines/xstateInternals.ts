/**
 * Every use of xstate's private fields, in one module, each checked once at load against xstate's
 * own behaviour (xstate 5.x; the fields are not part of its contract and may change in any
 * release). Where a check fails, what needs the field falls back to public behaviour:
 *
 * - a snapshot in another state (`_nodes`, the state nodes a snapshot is in; its methods `matches`,
 *   `hasTag`, `can`, `toJSON` read them): what transitionTable.ts builds for a transition it takes itself.
 *   Checked by building one and comparing those methods with the snapshot xstate's interpreter
 *   makes; on failure {@link tableSnapshots} is false and withTransitionTable builds no table.
 * - the `@xstate.microstep` inspection event (`system._sendInspectionEvent`), which xstate's
 *   interpreter sends after each microstep: transitionTable.ts sends it too. Checked by sending one to an
 *   observer; on failure, as above.
 * - which of a machine's actions and guards are xstate's own (undocumented markers: a built-in
 *   action has `resolve`, a higher-order guard `check`), and the text of xstate's error for a guard
 *   that throws: transitionTable.ts takes only plain actions and guards, and fails as xstate does. Checked
 *   on every built-in action and higher-order guard xstate exports, and on a throwing guard; on
 *   failure, as above.
 * - an actor's parent (`_parent`): the trace names each actor's parent, and the Stately relay
 *   finds the root. Checked on a parent and a spawned child; on failure, {@link parentOf} says
 *   "unknown" (undefined) and traces leave the parent out.
 * - the parent `@statelyai/inspect` reads of an actor ref (`_parent` too: its `actor()` builder
 *   ignores the parent given in `info`), for the Stately relay's stand-ins of a worker's actors.
 *   Checked with the package once it is loaded ({@link statelyStandIns}); on failure the stand-ins
 *   name no parent (Stately shows them under the root).
 * - stopping a child (`_stop`, what xstate's own stop of a child calls) and forgetting it (the
 *   snapshot's `children`, emptied in place): {@link stopChildrenAtOnce}. Checked on a parent with
 *   spawned children, which must all stop and leave the parent stoppable; on failure it does
 *   nothing, and xstate stops them itself when it stops the parent (in quadratic time).
 */
import {
  type AnyActorRef,
  type AnyActorScope,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type EventObject,
  type InspectionEvent,
  and,
  assign,
  cancel,
  createActor,
  emit,
  enqueueActions,
  log,
  not,
  or,
  raise,
  sendParent,
  sendTo,
  setup,
  spawnChild,
  stateIn,
  stopChild,
} from 'xstate';

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
 * Whether an action (inline, or a machine's implementation) is one of xstate's built-ins (`assign`, `raise`, …): they resolve against the
 * snapshot.
 */
export function isBuiltInAction(action: unknown): boolean {
  return (typeof action === 'function' || (typeof action === 'object' && action !== null)) && 'resolve' in action;
}

/** Whether a guard implementation is one of xstate's higher-order guards (`and`, `or`, `not`, `stateIn`). */
export function isHigherOrderGuard(guard: unknown): boolean {
  return (typeof guard === 'function' || (typeof guard === 'object' && guard !== null)) && 'check' in guard;
}

/** The error xstate's interpreter throws when guard `type` (undefined: inline) throws `cause` on `eventType` in state node `stateId`. */
export function guardError(type: string | undefined, eventType: string, stateId: string, cause: unknown): Error {
  return new Error(
    `Unable to evaluate guard ${type ? `'${type}' ` : ''}in transition for event '${eventType}' in state node ` +
      `'${stateId}':\n${(cause as Error).message}`,
  );
}

/** An actor ref as `@statelyai/inspect`'s `actor()` builder reads it: real, or standing in for a worker's actor. */
export interface StandIn {
  sessionId: string;
  id?: string;
  logic?: AnyStateMachine;
  _parent?: StandIn;
  getSnapshot(): unknown;
}

/** What a stand-in is made of; `parent` is where Stately draws it (when that can be said). */
export interface StandInFields {
  sessionId: string;
  id?: string;
  logic?: AnyStateMachine;
  parent?: StandIn;
  getSnapshot(): unknown;
}

type StatelyCreateInspector = (adapter: never) => { actor: (ref: never, snapshot?: never) => void };

/**
 * A builder of stand-ins for `@statelyai/inspect`'s `createInspector`, checked once on that
 * package: the parent goes where it reads it (`_parent`) if a stand-in's parent comes out as the
 * event's `parentId`, else it is left out.
 */
export function statelyStandIns(createInspector: StatelyCreateInspector): (fields: StandInFields) => StandIn {
  const readsParent = safely(() => {
    const sent: { parentId?: unknown }[] = [];
    const inspector = createInspector({ send: (e: { parentId?: unknown }) => void sent.push(e), start() {}, stop() {} } as never);
    const parent: StandIn = { sessionId: 'check:parent', getSnapshot: () => ({ status: 'active' }) };
    inspector.actor(
      { sessionId: 'check:child', _parent: parent, getSnapshot: () => ({ status: 'active' }) } as never,
      { status: 'active' } as never,
    );
    return sent.length === 1 && sent[0].parentId === 'check:parent';
  });
  return ({ parent, ...fields }) => (readsParent && parent ? { ...fields, _parent: parent } : fields);
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
  const ok =
    kid !== undefined &&
    (kid as unknown as { _parent?: unknown })._parent === actor &&
    (actor as unknown as { _parent?: unknown })._parent === undefined;
  actor.stop();
  return ok;
}

function checkMarkers(): boolean {
  const builtIns = [
    assign({}),
    raise({ type: 'X' }),
    sendTo('a', { type: 'X' }),
    sendParent({ type: 'X' }),
    spawnChild('a'),
    stopChild('a'),
    log(''),
    cancel('a'),
    emit({ type: 'X' }),
    enqueueActions(() => {}),
  ];
  const higherOrder = [and([]), or([]), not(() => true), stateIn('a')];
  const plain = () => true;
  return builtIns.every(isBuiltInAction) && higherOrder.every(isHigherOrderGuard) && !isBuiltInAction(plain) && !isHigherOrderGuard(plain);
}

function checkGuardError(): boolean {
  const machine = setup({
    guards: {
      fails: () => {
        throw new Error('check');
      },
    },
  }).createMachine({ id: 'check', initial: 'a', states: { a: { on: { GO: { guard: 'fails', target: 'b' } } }, b: {} } });
  const actor = createActor(machine);
  actor.subscribe({ error: () => {} });
  actor.start();
  actor.send({ type: 'GO' });
  const error = actor.getSnapshot().error as Error | undefined;
  actor.stop();
  return error?.message === guardError('fails', 'GO', 'check.a', new Error('check')).message;
}

const safely = (check: () => boolean): boolean => {
  try {
    return check();
  } catch {
    return false;
  }
};

/**
 * Transitions taken from the table may build their own snapshots, send their own microstep events, tell xstate's built-ins apart and fail
 * as xstate does.
 */
export const tableSnapshots: boolean = safely(checkSnapshots) && safely(checkMicrostep) && safely(checkMarkers) && safely(checkGuardError);
/** {@link stopChildrenAtOnce} may stop children itself. */
const childrenStoppable: boolean = safely(checkStopChildren);
/** {@link parentOf} knows actors' parents. */
const parentsKnown: boolean = safely(checkParents);
export const parentsAreKnown = parentsKnown;
