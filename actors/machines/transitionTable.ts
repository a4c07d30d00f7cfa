/**
 * A faster interpreter for flat state machines, with the same definition and the same behaviour.
 *
 * xstate's interpreter runs the general SCXML algorithm for every event: exit and entry sets,
 * transition domains, eventless transitions, a new snapshot. That costs ~1.2-2.7 µs per event on
 * this kind of machine, and a seed-sized step has 11 events, so the interpreter alone took more
 * time than the step's maths allows. The layer, synthesizer and head machines are flat (atomic
 * states under the root) and their hot transitions only call named actions and move between
 * sibling states. For exactly those transitions {@link withTransitionTable} precomputes a table (state ×
 * event type → candidate transitions) and takes them directly:
 *
 * - candidates are tried in definition order; the first whose guard passes is taken (guards are
 *   evaluated as xstate does: named or inline functions, with `params` resolved from
 *   `{ context, event }`), and a guard that throws fails with xstate's own message;
 * - its actions go through the actor scope's `actionExecutor`, as xstate's interpreter sends
 *   them, so they run at the same moment with the same `{ context, event, self, system }` and
 *   params, and `@xstate.action` inspection events are emitted;
 * - the next snapshot is the current one (no target, or the same state) or a copy of it in the
 *   target state, with the `@xstate.microstep` inspection event xstate emits.
 *
 * - then, as xstate's macrostep does, the state's eventless (`always`) transitions: the first
 *   candidate whose guard passes (given the same event) is taken the same way, and again from the
 *   state it leads to, until none passes or one leaves the snapshot as it was (a transition
 *   without a target); a guard that throws there fails with the guard's own error, as in xstate,
 *   and the machine's `maxIterations` bounds the loop with xstate's message.
 *
 * Everything else goes to xstate's interpreter, unchanged: `xstate.*` events (init, stop, errors,
 * done), events with no transition in the current state, transitions with built-in actions
 * (`assign`, `raise`, `spawnChild`, …), higher-order guards, or a target that is a final state or has
 * entry actions; and machines with hierarchy, parallel or history states, an eventless transition
 * that is not plain in that sense (taken after every event, it cannot be left to the interpreter),
 * wildcard transitions, invocations, or a root that handles events get no table at all. The
 * tabled logic inherits the machine (`Object.create`), so it has its config, its ID and its
 * implementations, and the inspector draws it as the same machine.
 *
 * @example
 * const actor = createActor(withTransitionTable(layerMachine), { input });
 */
import type { AnyActorScope, AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import {
  type StateFields,
  tableSnapshots,
  guardError,
  inState,
  isBuiltInAction,
  isHigherOrderGuard,
  sendMicrostep,
  stateFields,
} from './xstateInternals.ts';

type ParamsOf = undefined | ((args: { context: unknown; event: EventObject }) => unknown) | unknown;

interface CompiledGuard {
  readonly type: string | undefined;
  readonly check: (args: { context: unknown; event: EventObject }, params: unknown) => boolean;
  readonly params: ParamsOf;
}

interface CompiledAction {
  readonly type: string;
  readonly exec: ((args: object, params: unknown) => void) | undefined;
  readonly params: ParamsOf;
}

interface CompiledTransition {
  /** xstate's own transition definition (for the microstep inspection event) */
  readonly definition: unknown;
  readonly guard: CompiledGuard | null;
  readonly actions: readonly CompiledAction[];
  /** the target state's snapshot fields, or null to stay (no target, or the state itself) */
  readonly target: StateFields | null;
}

/** Per state key: per event type, the candidates (null where xstate's interpreter must decide); and the eventless candidates. */
type Table = Map<
  string,
  { readonly on: Map<string, readonly CompiledTransition[] | null>; readonly always: readonly CompiledTransition[] }
>;

// the parts of xstate's StateNode and TransitionDefinition the compiler reads
interface NodeShape {
  readonly type: string;
  readonly key: string;
  readonly id: string;
  readonly states: Record<string, NodeShape>;
  readonly transitions: Map<string, TransitionShape[]>;
  readonly always?: TransitionShape[];
  readonly entry: unknown[];
  readonly exit: unknown[];
  readonly invoke: unknown[];
}
interface TransitionShape {
  readonly target?: NodeShape[];
  readonly source: NodeShape;
  readonly actions: unknown[];
  readonly guard?: unknown;
  readonly reenter?: boolean;
}
type Implementation = (...args: never[]) => unknown;

function resolveParams(params: ParamsOf, context: unknown, event: EventObject): unknown {
  return typeof params === 'function' ? (params as (a: { context: unknown; event: EventObject }) => unknown)({ context, event }) : params;
}

/** The machine's guard as a plain check, or null when only xstate's interpreter can evaluate it. */
function compileGuard(machine: AnyStateMachine, guard: unknown): CompiledGuard | null | undefined {
  if (guard === undefined) return undefined;
  const inline = typeof guard === 'function';
  const type = typeof guard === 'string' ? guard : inline ? undefined : (guard as { type: string }).type;
  const impl = (inline ? guard : machine.implementations.guards[type!]) as Implementation | undefined;
  // missing, higher-order (and/or/not have `check`) or a reference to another guard: the interpreter's
  if (typeof impl !== 'function' || isHigherOrderGuard(impl)) return null;
  const params = inline || typeof guard === 'string' ? undefined : (guard as { params?: ParamsOf }).params;
  return { type, check: impl as CompiledGuard['check'], params };
}

/** The machine's action as a call, or null for built-ins (they resolve against the snapshot). */
function compileAction(machine: AnyStateMachine, action: unknown): CompiledAction | null {
  if (typeof action === 'function') {
    if (isBuiltInAction(action)) return null;
    return { type: action.name || '(anonymous)', exec: action as CompiledAction['exec'], params: undefined };
  }
  const type = typeof action === 'string' ? action : (action as { type: string }).type;
  const impl = machine.implementations.actions[type] as Implementation | undefined;
  if (impl && isBuiltInAction(impl)) return null;
  const params = typeof action === 'string' ? undefined : (action as { params?: ParamsOf }).params;
  return { type, exec: impl as CompiledAction['exec'], params };
}

/** Atomic (or final) states under a root that handles nothing; eventless transitions on the states only. */
function isFlat(root: NodeShape): boolean {
  const simple = (n: NodeShape) => !n.invoke.length && ![...n.transitions.keys()].some((k) => k.includes('*'));
  if (root.type !== 'compound' || !simple(root) || root.always?.length || root.transitions.size > 0) return false;
  return Object.values(root.states).every((s) => (s.type === 'atomic' || s.type === 'final') && simple(s));
}

/** `state`'s candidates as compiled transitions, or null when one of them is not plain (see the module comment). */
function compileCandidates(
  machine: AnyStateMachine,
  state: NodeShape,
  candidates: readonly TransitionShape[],
): CompiledTransition[] | null {
  const compiled: CompiledTransition[] = [];
  for (const t of candidates) {
    const guard = compileGuard(machine, t.guard);
    const actions = t.actions.map((a) => compileAction(machine, a));
    const to = t.target?.length === 1 ? t.target[0] : t.target?.length ? null : state;
    const leaves = to !== state;
    const plain =
      guard !== null &&
      actions.every((a) => a !== null) &&
      to !== null &&
      to.type === 'atomic' &&
      !(leaves && (state.exit.length || to.entry.length)) &&
      !(t.reenter && t.target?.length);
    if (!plain) return null;
    compiled.push({
      definition: t,
      guard: guard ?? null,
      actions: actions as CompiledAction[],
      // the target's snapshot fields, exactly as xstate computes them for that state
      target: leaves ? stateFields(machine, to.key) : null,
    });
  }
  return compiled;
}

/** The table, or null when a state's eventless transitions are not all plain. */
function compileTable(machine: AnyStateMachine): Table | null {
  const root = machine.root as unknown as NodeShape;
  const table: Table = new Map();
  for (const state of Object.values(root.states)) {
    const on = new Map<string, readonly CompiledTransition[] | null>();
    for (const [eventType, candidates] of state.transitions) {
      if (eventType.startsWith('xstate.')) continue;
      on.set(eventType, compileCandidates(machine, state, candidates));
    }
    const always = compileCandidates(machine, state, state.always ?? []);
    if (!always) return null;
    table.set(state.key, { on, always });
  }
  return table;
}

/**
 * The machine, interpreted faster where it is flat (see the module comment); the machine itself
 * when nothing in it can be, or when this xstate's snapshots do not check out (see
 * xstateInternals.ts). Compile once and create any number of actors from the result.
 */
export function withTransitionTable<M extends AnyStateMachine>(machine: M): M {
  const root = machine.root as unknown as NodeShape;
  if (!tableSnapshots || !isFlat(root)) return machine;
  const table = compileTable(machine);
  if (!table) return machine;
  const interpret = machine.transition;
  const maxIterations = (machine.options as { maxIterations?: number } | undefined)?.maxIterations ?? Infinity;
  const tabled = Object.create(machine) as M;
  tabled.transition = function transition(this: M, snapshot, event, scope) {
    const candidates = snapshot.status === 'active' ? table.get(snapshot.value as string)?.on.get(event.type) : undefined;
    if (!candidates) return interpret.call(this, snapshot, event, scope);
    const t = select(candidates, snapshot, event, root);
    const next = t ? take(t, snapshot, event, scope) : snapshot;
    // no candidate's guard passed: xstate leaves the snapshot as it is
    if (!t) sendMicrostep(scope, event, snapshot, []);
    return settle(table, next, event, scope, maxIterations);
  } as M['transition'];
  return tabled;
}

/**
 * The first candidate whose guard passes, or null. `root` given: a guard that throws fails with
 * xstate's message for an event's transition; null (eventless): with the guard's own error.
 */
function select(
  candidates: readonly CompiledTransition[],
  snapshot: AnyMachineSnapshot,
  event: EventObject,
  root: NodeShape | null,
): CompiledTransition | null {
  const { context } = snapshot;
  for (const t of candidates) {
    const g = t.guard;
    if (!g) return t;
    let passed: boolean;
    try {
      passed = g.check({ context, event }, resolveParams(g.params, context, event));
    } catch (err) {
      if (!root) throw err;
      throw guardError(g.type, event.type, root.states[snapshot.value as string].id, err);
    }
    if (passed) return t;
  }
  return null;
}

/** Run `t`'s actions and move to its target: the next snapshot (the same object when it has no target). */
function take(t: CompiledTransition, snapshot: AnyMachineSnapshot, event: EventObject, scope: AnyActorScope): AnyMachineSnapshot {
  const { context } = snapshot;
  for (const a of t.actions) {
    scope.actionExecutor({
      type: a.type,
      info: { context, event, self: scope.self, system: scope.system },
      params: resolveParams(a.params, context, event),
      exec: a.exec as never,
    });
  }
  const next = t.target ? inState(snapshot, t.target) : snapshot;
  sendMicrostep(scope, event, next, [t.definition]);
  return next;
}

/** xstate's macrostep after the event's microstep: eventless transitions until none passes, or one leaves the snapshot as it was. */
function settle(
  table: Table,
  snapshot: AnyMachineSnapshot,
  event: EventObject,
  scope: AnyActorScope,
  maxIterations: number,
): AnyMachineSnapshot {
  let next = snapshot;
  for (let iterations = 1; ; iterations++) {
    if (iterations > maxIterations) throw new Error(infiniteLoop(maxIterations));
    const always = table.get(next.value as string)!.always;
    const t = always.length ? select(always, next, event, null) : null;
    if (!t) return next;
    const previous = next;
    next = take(t, next, event, scope);
    if (next === previous) return next;
  }
}

/** xstate's error when a macrostep does not settle within the machine's `maxIterations`. */
const infiniteLoop = (max: number) =>
  `Infinite loop detected: the machine has processed more than ${max} microsteps without reaching a stable state. This usually happens ` +
  `when there's a cycle of transitions (e.g., eventless transitions or raised events causing state A -> B -> C -> A).`;
