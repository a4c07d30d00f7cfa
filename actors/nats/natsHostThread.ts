/**
 * Worker thread of a stage host (natsHost.ts): one stage of one training. The host starts it
 * ahead of any claim (so a training does not wait for its modules to load), then posts it the
 * claim's start-up data; it serves that one stage and exits. It connects to NATS on
 * its own, builds the network from the claim's start-up data (every parameter; it spawns only its
 * own actors), listens for its tensors (natsLink.ts) and its trainer's commands, and runs a
 * {@link stageMachine} as its root actor, exactly as a worker stage does (stageThread.ts), with
 * NATS in place of shared memory. Reports go to the trainer framed (lib/wire.ts); losses and
 * finished steps in batches ({@link ProgressBatch}), at most every FLUSH_MS.
 *
 *   host ──{ init, connection }──▶ this thread ──'ready' | { failed }──▶ host
 */
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { type AnyActorRef, createActor } from 'xstate';
import { buildModel, restoreModelState } from '../../lib/model.ts';
import { useBackend } from '../../lib/kernels/kernels.ts';
import { backendByName } from '../../lib/kernels/backend-choice.ts';
import { Reassembler, decodeValue } from '../../lib/wire.ts';
import { routesFor } from '../machines/events.ts';
import { networkMachines } from '../machines/machines.ts';
import { schedulingFor } from '../schedulers/schedulers.ts';
import { stageMachine } from '../stage/stageMachine.ts';
import { ProgressBatch, type StageCommand, type StageReport, type WorkerReport, serializeError } from '../stage/stageProtocol.ts';
import { NatsLink } from './natsLink.ts';
import { type HostedStageInit, type NatsConnectOptions, connectNats, publishValue, subjects } from './natsProtocol.ts';

const port = parentPort!;
const { init, connection } = await new Promise<{ init: HostedStageInit; connection: NatsConnectOptions }>((resolve) => port.once('message', resolve));
const stage = init.stage.index;
const s = subjects(init.prefix);
/** the longest a finished step waits before the trainer hears of it while the stage is busy (ms) */
const FLUSH_MS = 5;

useBackend(backendByName(init.kernels));
const network = buildModel(init.topology, init.params);
restoreModelState(network, init.state);

const nc = await connectNats({ ...connection, connectionName: `${init.host} stage:${stage} of ${init.run}` }, { maxReconnectAttempts: -1 });
const link = new NatsLink(nc, routesFor(init.topology), init.link);
const progress = new ProgressBatch(stage, init.firstBatch);
let sent = 0;
let lastFlush = performance.now();
let flushTimer: ReturnType<typeof setTimeout> | null = null;
let allowed = init.firstBatch - 1;
let ended = false;

const post = (r: WorkerReport) => publishValue(nc, s.reports(init.run), r, stage, ++sent);

function flush(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = null;
  lastFlush = performance.now();
  const p = progress.take();
  if (p) post(p);
}

function report(r: StageReport): void {
  if (ended) return;
  switch (r.type) {
    case 'LOSS':
      return progress.loss(r);
    case 'STEP_FINISHED':
      progress.stepFinished(r.batch);
      if (r.batch >= allowed || performance.now() - lastFlush >= FLUSH_MS) flush();
      else flushTimer ??= setTimeout(flush, FLUSH_MS);
      return;
    case 'DRAINED':
      flush();
      post(r);
      ended = true;
      return link.close();
    case 'FAILED':
      flush();
      ended = true;
      return post({ ...r, error: serializeError(r.error) });
    default:
      flush();
      post(r);
  }
}

let actor: AnyActorRef | null = null;
const started = performance.eventLoopUtilization();
function startStage(): AnyActorRef {
  const a = createActor(stageMachine.provide({ actors: networkMachines(init.interpreter) }), {
    id: `stage:${stage}`,
    systemId: `stage:${stage}`,
    input: {
      stage: init.stage,
      network,
      data: init.data,
      steps: init.steps,
      firstBatch: init.firstBatch,
      // inside a stage the trampoline runs whatever arrives; the pipeline is across stages
      scheduling: { ...schedulingFor('queue'), pipelined: true },
      link,
      report,
      utilization: () => {
        const u = performance.eventLoopUtilization(started);
        return u.active + u.idle > 0 ? u.active / (u.active + u.idle) : 0;
      },
    },
  });
  a.start();
  return a;
}

const frames = new Reassembler();
nc.subscribe(s.commands(init.run, stage), {
  callback: (err, msg) => {
    if (err || ended) return;
    try {
      const whole = frames.take(msg.data);
      if (!whole) return;
      const command = decodeValue<StageCommand>(whole.message);
      if (command.type === 'ALLOW') allowed = command.through;
      actor ??= startStage();
      actor.send(command);
    } catch (error) {
      report({ type: 'FAILED', stage, error });
    }
  },
});
// the subscriptions are live at the server before the host says the stage is ready
await nc.flush();
port.postMessage('ready');
port.on('message', async (m: unknown) => {
  if (m !== 'end') return;
  ended = true;
  actor?.stop();
  link.close();
  await nc.drain().catch(() => {});
  port.close();
});
