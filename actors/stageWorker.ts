/**
 * Worker thread entry of a pipeline stage: builds the stage's share of the network from
 * `workerData`, runs it as a {@link stageMachine} actor, and answers the trainer's START and
 * DRAIN. Every tensor between stages goes through shared memory (see transport.ts).
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { type AnyActorRef, createActor } from 'xstate';
import { DivergenceError } from '../lib/errors.ts';
import { captureNetworkState, restoreNetworkState } from '../lib/checkpoint.ts';
import { buildNetwork, optimizerStates } from '../lib/network.ts';
import { networkMachines } from './machines.ts';
import { stageMachine } from './stageMachine.ts';
import { schedulingFor } from './schedulers.ts';
import { workerStageLink } from './transport.ts';
import { type StageWorkerInit, type WorkerMessage, relayInspection, selectKernels } from './workerProtocol.ts';

const init = workerData as StageWorkerInit;
const port = parentPort!;
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

selectKernels(init.kernels);
const network = buildNetwork(init.topology, init.params);
restoreNetworkState(network, { optimizers: init.optimizerState, synthesizers: init.synthesizers });
const own = new Set(init.stage.actors);
const link = workerStageLink(init.link);
const relay = init.inspect ? relayInspection((events) => post({ kind: 'inspection', events }), `worker:${init.stage.index}`) : undefined;

const ownKeys = Object.keys(network.params).filter((key) =>
  init.stage.actors.some((id) => {
    const [kind, i] = id.split(':');
    return (kind === 'layer' && key.startsWith(`layer${i}.`)) || (kind === 'synthesizer' && key.startsWith(`synth${i}.`));
  }),
);

const actor: AnyActorRef = createActor(stageMachine.provide({ actors: networkMachines(init.interpreter) }), {
  id: `stage:${init.stage.index}`,
  systemId: `stage:${init.stage.index}`,
  inspect: relay,
  input: {
    network,
    data: init.data,
    steps: init.steps,
    firstBatch: init.firstBatch,
    cuts: init.cuts,
    stage: init.stage,
    // inside a stage the trampoline runs whatever arrives; the pipeline is across stages
    scheduling: { ...schedulingFor('queue'), pipelined: true },
    link,
    report: (r) => {
      switch (r.kind) {
        case 'loss':
          return post({ kind: 'loss', source: r.source, batch: r.message.batch, loss: r.message.loss, accuracy: r.message.accuracy });
        case 'finished':
          return post({ kind: 'finished' });
        case 'cut':
          return post({ kind: 'cut', step: r.step, state: captureNetworkState(network, own) });
        case 'drained': {
          const params = Object.fromEntries(ownKeys.map((k) => [k, network.params[k].data.slice()]));
          const all = optimizerStates(network);
          const optimizerState = Object.fromEntries(init.stage.actors.filter((id) => all[id]).map((id) => [id, all[id]]));
          relay?.flush();
          // the share of time this thread was busy since START: how well the plan balances the stages
          const utilization = performance.eventLoopUtilization(started ?? undefined).utilization;
          const transfer = [...Object.values(params), ...Object.values(optimizerState).flatMap((s) => s.moments)].map((d) => d.buffer as ArrayBuffer);
          post({ kind: 'drained', params, optimizerState, queues: r.queues, utilization }, transfer);
          return link.close();
        }
        case 'failed': {
          relay?.flush();
          const e = r.error as Error;
          return post({
            kind: 'failed',
            error: {
              name: e?.name ?? 'Error',
              message: e?.message ?? String(e),
              stack: e?.stack,
              divergence: e instanceof DivergenceError ? { actor: e.actor, batch: e.batch, tensor: e.tensor, detail: e.detail } : undefined,
            },
          });
        }
      }
    },
  },
});

let started: ReturnType<typeof performance.eventLoopUtilization> | null = null;
port.on('message', (m: { kind: 'start' | 'drain' } | { kind: 'resume'; step: number }) => {
  if (m.kind === 'start') started = performance.eventLoopUtilization();
  actor.send(m.kind === 'resume' ? { type: 'RESUME', step: m.step } : { type: m.kind === 'start' ? 'START' : 'DRAIN' });
});
actor.start();
