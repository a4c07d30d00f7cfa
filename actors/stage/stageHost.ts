/**
 * One stage of one training, hosted in a pool's worker thread (stageThread.ts) or a NATS stage
 * host's (actors/nats/natsHostThread.ts): builds the network
 * from the {@link StageThreadInit} (every parameter; it spawns only its own actors), runs a
 * {@link stageMachine} as its root actor, and speaks the stage protocol with the trainer: each
 * command it receives is the stage machine's event, each report it posts is the stage's own, except
 * that losses and finished steps go in batches ({@link ProgressBatch}: at most every FLUSH_MS, and at
 * once when the stage reaches the last batch it may feed). Tensors to and from other stages go
 * through the stage's {@link StageLink}: shared memory (stageLink.ts), taken by the stage's
 * {@link StageDriver} (no message and no event-loop turn per batch; the driver's idle turns send the
 * batched progress), or a link that delivers on the event loop (NATS: natsLink.ts; a timer sends
 * the batched progress).
 *
 * `end()` frees everything the stage holds (its actors, the network's buffers in the kernels'
 * memory, the link, the relay's timer): the thread then serves the next training as it was.
 */
import { performance } from 'node:perf_hooks';
import { Subscription } from 'rxjs';
import { type AnyActorRef, createActor } from 'xstate';
import { actorIdsOf, buildModel, captureModelState, disposeModel, restoreModelState } from '../../lib/model.ts';
import { backend, useBackend } from '../../lib/kernels/kernels.ts';
import { backendByName } from '../../lib/kernels/backend-choice.ts';
import { relayInspection } from '../inspect/inspection.ts';
import { networkMachines } from '../machines/machines.ts';
import { schedulingFor } from '../schedulers/schedulers.ts';
import { StageDriver } from './stageDriver.ts';
import { stageMachine } from './stageMachine.ts';
import { ONE_CORE } from './capacityProbe.ts';
import { SharedMemoryLink, type StageLink } from './stageLink.ts';
import {
  ProgressBatch,
  type Residue,
  type StageCommand,
  type StageReport,
  type StageThreadInit,
  type WorkerReport,
  serializeError,
} from './stageProtocol.ts';

/**
 * the longest a finished step waits before the trainer hears of it while the stage is busy (ms):
 * each flush is a postMessage (a structured clone, a wake-up of the main thread), which on a two-core
 * machine takes CPU from the stages themselves; 10 ms rather than 2 cut the main thread's CPU during a
 * 30,000-step seed training from 110–230 to 60–90 ms (bench/profiles in docs/performance.md)
 */
const FLUSH_MS = 10;

export const STAGE_COMMANDS: readonly string[] = [
  'START',
  'ALLOW',
  'CAPTURE',
  'END_EPOCH',
  'DRAIN',
  'HALT',
] satisfies StageCommand['type'][];

export interface HostedStage {
  /** a command of the trainer (the doorbell was rung for it) */
  command(command: StageCommand): void;
  /** a message that is no command: the stage fails, by name, rather than wait forever */
  stray(message: unknown): void;
  /** an error from the stage that escaped it: the stage fails with it (once) */
  fail(error: unknown): void;
  /** stop and free everything the stage holds (idempotent) */
  end(): void;
}

/** What a stage needs to be hosted, whatever links it to the others. */
export type HostableStage = Omit<StageThreadInit, 'link' | 'adaptive'> & { adaptive?: boolean };

/**
 * Host the stage `init` in this thread; `capacity`: what the pool measured the machine gives two
 * of its threads (null: not measured), which makes an adaptive plan run as one thread; `link`: how
 * it reaches the other stages (a {@link SharedMemoryLink}, or a NATS link; closed with the stage).
 */
export function hostStage(
  init: HostableStage,
  capacity: number | null,
  post: (r: WorkerReport, transfer?: ArrayBuffer[]) => void,
  link: StageLink,
): HostedStage {
  const stage = init.stage.index;
  // the trainer's backend: the backends agree only to float32 rounding, and every scheduler must give the same bits
  useBackend(backendByName(init.kernels));
  const network = buildModel(init.topology, init.params);
  restoreModelState(network, init.state);
  /** a shared-memory link runs on the driver; another delivers on the event loop, and a timer sends the batched progress */
  const shared = link instanceof SharedMemoryLink ? link : null;
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  const relay = init.inspect ? relayInspection((events) => post({ type: 'TRACE', stage, events }), `worker:${stage}`) : undefined;
  const progress = new ProgressBatch(stage, init.firstBatch);
  let lastFlush = performance.now();
  /** the last batch the trainer allows: reaching it, the stage tells the trainer at once */
  let allowed = init.firstBatch - 1;
  let started: ReturnType<typeof performance.eventLoopUtilization> | null = null;
  let ended = false,
    failed = false;
  /** the stage's edges (and a recurrent network's buffer pool): closed when it ends, however it ends */
  const subscriptions = new Subscription();

  const flush = (): void => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    const p = progress.take();
    lastFlush = performance.now();
    if (p) post(p);
  };

  const driver = shared
    ? new StageDriver(shared, {
        idle: () => performance.now() - lastFlush >= FLUSH_MS && flush(),
        fail: (error) => report({ type: 'FAILED', stage, error }),
      })
    : null;

  function report(r: StageReport): void {
    if (ended) return;
    switch (r.type) {
      case 'LOSS':
        return progress.loss(r);
      case 'STEP_FINISHED':
        progress.stepFinished(r.batch);
        if (r.batch >= allowed || performance.now() - lastFlush >= FLUSH_MS) flush();
        else if (!driver) flushTimer ??= setTimeout(flush, FLUSH_MS);
        return;
      case 'DRAINED': {
        flush();
        relay?.flush();
        driver?.stop();
        const { params, optimizers } = r.state;
        // copies (captureModelState copies out of the kernels' memory): safe to transfer
        const transfer = [...Object.values(params).map((m) => m.data), ...Object.values(optimizers).flatMap((s) => s.moments)].map(
          (d) => d.buffer as ArrayBuffer,
        );
        post(r, transfer);
        return link.close();
      }
      case 'FAILED':
        if (failed) return;
        failed = true;
        flush();
        relay?.flush();
        driver?.stop();
        return post({ ...r, error: serializeError(r.error) });
      default:
        flush();
        post(r);
    }
  }

  /** The stage machine hosting `actors`, started. */
  function startStage(actors: readonly string[]): AnyActorRef {
    const a = createActor(stageMachine.provide({ actors: networkMachines(init.interpreter) }), {
      id: `stage:${stage}`,
      systemId: `stage:${stage}`,
      inspect: relay,
      input: {
        stage: { index: stage, actors },
        network,
        data: init.data,
        steps: init.steps,
        firstBatch: init.firstBatch,
        // inside a stage the trampoline runs whatever arrives; the pipeline is across stages
        scheduling: { ...schedulingFor('queue'), pipelined: true },
        link,
        report,
        defer: driver?.defer,
        waiting: driver?.commandWaiting,
        subscriptions,
        // the share of time since START this thread was working: not idle on its event loop, not spinning or asleep on its doorbell
        utilization: () => {
          const u = performance.eventLoopUtilization(started ?? undefined),
            wall = u.active + u.idle;
          return wall > 0 ? Math.max(0, u.active - (driver?.waited ?? 0)) / wall : 0;
        },
      },
    });
    a.start();
    return a;
  }

  /**
   * A stage of a default plan on a pool that measured one core's worth: stage 0 hosts every
   * actor, this one none, and says so in the protocol: every batch allowed is finished here, its
   * share of any state is empty, it fed nothing.
   */
  let emptyFinished = init.firstBatch - 1;
  function emptyStage(command: StageCommand): void {
    switch (command.type) {
      case 'ALLOW':
        emptyFinished = Math.max(command.through, emptyFinished);
        progress.stepFinished(emptyFinished);
        return flush();
      case 'CAPTURE':
      case 'END_EPOCH':
        return report({ type: 'CUT', stage, step: command.step, state: captureModelState(network, new Set()) });
      case 'HALT':
        return report({ type: 'HALTED', stage, fed: init.firstBatch - 1 });
      case 'DRAIN':
        return report({ type: 'DRAINED', stage, state: captureModelState(network, new Set()), queues: {}, utilization: 0 });
    }
  }

  const oneThread = (init.adaptive ?? false) && capacity !== null && capacity < ONE_CORE;
  /** the stage machine, once the stage knows what it hosts (its plan's actors; all of them, or none, on one core's worth) */
  let actor: AnyActorRef | null = null;
  const hosted: readonly string[] = oneThread ? (stage === 0 ? actorIdsOf(init.topology) : []) : init.stage.actors;

  return {
    command(command) {
      if (ended) return;
      driver?.commandHandled();
      try {
        if (command.type === 'START') {
          // begin with the other stages (each took its own time to get here; over NATS the trainer waited for every claim)
          shared?.awaitPeers();
          started = performance.eventLoopUtilization();
          if (driver) driver.waited = 0;
        }
        if (command.type === 'ALLOW') allowed = command.through;
        if (hosted.length === 0) return emptyStage(command);
        actor ??= startStage(hosted);
        actor.send(command);
        driver?.wake();
      } catch (error) {
        report({ type: 'FAILED', stage, error });
      }
    },
    stray(message) {
      report({ type: 'FAILED', stage, error: new Error(`a stray message reached the stage: ${describeMessage(message)}`) });
    },
    fail(error) {
      if (!failed) report({ type: 'FAILED', stage, error });
    },
    end() {
      if (ended) return;
      ended = true;
      driver?.stop();
      if (flushTimer) clearTimeout(flushTimer);
      // nothing is delivered any more, then the actors stop
      subscriptions.unsubscribe();
      actor?.stop();
      link.close();
      relay?.flush();
      // this thread's copy of the network, parameters included: what the trainer keeps came in DRAINED (copies)
      disposeModel(network, { params: true });
    },
  };
}

/**
 * What a thread (a pool's, a stage host's) still holds of the stages it hosted: kernel memory
 * handed out and not given back (not the backend's own scratch and staging), and `stages` still
 * hosted. Both 0 after a stage has ended: the thread serves the next as it was.
 */
export function threadResidue(stages: number): Residue {
  const u = (backend() as { usage?: () => { usedBytes: number; ownBytes: number } }).usage?.();
  return { usedBytes: u ? u.usedBytes - u.ownBytes : 0, stages };
}

function describeMessage(m: unknown): string {
  try {
    return JSON.stringify(m)?.slice(0, 120) ?? String(m);
  } catch {
    return String(m);
  }
}
