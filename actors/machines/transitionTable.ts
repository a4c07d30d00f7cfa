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
 * Everything else goes to xstate's interpreter, unchanged: `xstate.*` events (init, stop, errors,
 * done), events with no transition in the current state, transitions with built-in actions
 * (`assign`, `raise`, `spawnChild`, …), higher-order guards, or a target that is a final state or has
 * entry actions; and machines with hierarchy, parallel or history states, eventless (`always`) or
 * wildcard transitions, invocations, or a root that handles events get no table at all. The
 * tabled logic inherits the machine (`Object.create`), so it has its config, its ID and its
 * implementations, and the inspector draws it as the same machine.
 *
 * @example
 * const actor = createActor(withTransitionTable(layerMachine), { input });
 */
import type { AnyActorScope, AnyMachineSnapshot, AnyStateMachine, EventObject } from 'xstate';
import { type StateFields, tableSnapshots, guardError, inState, isBuiltInAction, isHigherOrderGuard, sendMicrostep, stateFields } from './xstateInternals.ts';

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

/** Per state key, per event type: the candidates, or null where xstate's interpreter must decide. */
type Table = Map<string, Map<string, readonly CompiledTransition[] | null>>;

// the parts of xstate's StateNode and TransitionDefinition the compiler reads
interface NodeShape {
  readonly type: string;
  readonly key: string;
  readonly id: string;
  readonly states: Record<string, NodeShape>;
  readonly transitions: Map<string, TransitionShape[]>;
  readonly always?: unknown[];
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

function isFlat(root: NodeShape): boolean {
  const simple = (n: NodeShape) => !n.always?.length && !n.invoke.length && ![...n.transitions.keys()].some((k) => k.includes('*'));
  if (root.type !== 'compound' || !simple(root) || root.transitions.size > 0) return false;
  return Object.values(root.states).every((s) => (s.type === 'atomic' || s.type === 'final') && simple(s));
}

function compileTable(machine: AnyStateMachine): Table {
  const root = machine.root as unknown as NodeShape;
  const table: Table = new Map();
  for (const state of Object.values(root.states)) {
    const byEvent = new Map<string, readonly CompiledTransition[] | null>();
    for (const [eventType, candidates] of state.transitions) {
      if (eventType.startsWith('xstate.')) continue;
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
        if (!plain) {
          compiled.length = 0;
          break;
        }
        compiled.push({
          definition: t,
          guard: guard ?? null,
          actions: actions as CompiledAction[],
          // the target's snapshot fields, exactly as xstate computes them for that state
          target: leaves ? stateFields(machine, to.key) : null,
        });
      }
      byEvent.set(eventType, compiled.length === candidates.length ? compiled : null);
    }
    table.set(state.key, byEvent);
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
  const interpret = machine.transition;
  const tabled = Object.create(machine) as M;
  tabled.transition = function transition(this: M, snapshot, event, scope) {
    const candidates = snapshot.status === 'active' ? table.get(snapshot.value as string)?.get(event.type) : undefined;
    if (!candidates) return interpret.call(this, snapshot, event, scope);
    return take(candidates, snapshot, event, scope, root);
  } as M['transition'];
  return tabled;
}

function take(candidates: readonly CompiledTransition[], snapshot: AnyMachineSnapshot, event: EventObject, scope: AnyActorScope, root: NodeShape) {
  const { context } = snapshot;
  for (const t of candidates) {
    const g = t.guard;
    if (g) {
      let passed: boolean;
      try {
        passed = g.check({ context, event }, resolveParams(g.params, context, event));
      } catch (err) {
        const stateId = root.states[snapshot.value as string].id;
        throw guardError(g.type, event.type, stateId, err);
      }
      if (!passed) continue;
    }
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
  // no candidate's guard passed: xstate leaves the snapshot as it is
  sendMicrostep(scope, event, snapshot, []);
  return snapshot;
}
