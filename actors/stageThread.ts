/**
 * Worker thread entry of a stage: builds the network from `workerData` (every parameter; it
 * spawns only its own actors), runs a {@link stageMachine} as its root actor, and speaks the
 * stage protocol with the trainer: each command it receives is the stage machine's event, each
 * report it posts is the stage's own. Tensors to and from other stages go through shared memory
 * (see stageLink.ts).
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { createActor } from 'xstate';
import { buildModel, restoreModelState } from '../lib/model.ts';
import { useBackend } from '../lib/kernels.ts';
import { backendByName } from '../lib/kernels-wasm.ts';
import { relayInspection } from './inspection.ts';
import { networkMachines } from './machines.ts';
import { schedulingFor } from './schedulers.ts';
import { stageMachine } from './stageMachine.ts';
import { workerStageLink } from './stageLink.ts';
import { type StageCommand, type StageReport, type StageThreadInit, serializeError } from './stageProtocol.ts';

const init = workerData as StageThreadInit;
const port = parentPort!;

// the trainer's backend: the backends agree only to float32 rounding, and every scheduler must give the same bits
useBackend(backendByName(init.kernels));
const network = buildModel(init.topology, init.params);
restoreModelState(network, init.state);
const link = workerStageLink(init.link);
const relay = init.inspect ? relayInspection((events) => port.postMessage({ type: 'TRACE', stage: init.stage.index, events } satisfies StageReport), `worker:${init.stage.index}`) : undefined;
let started: ReturnType<typeof performance.eventLoopUtilization> | null = null;

const report = (r: StageReport): void => {
  switch (r.type) {
    case 'DRAINED': {
      relay?.flush();
      const { params, optimizers } = r.state;
      const transfer = [...Object.values(params).map((m) => m.data), ...Object.values(optimizers).flatMap((s) => s.moments)].map((d) => d.buffer as ArrayBuffer);
      port.postMessage(r, transfer);
      return link.close();
    }
    case 'FAILED':
      relay?.flush();
      return port.postMessage({ ...r, error: serializeError(r.error) });
    default:
      port.postMessage(r);
  }
};

const actor = createActor(stageMachine.provide({ actors: networkMachines(init.interpreter) }), {
  id: `stage:${init.stage.index}`,
  systemId: `stage:${init.stage.index}`,
  inspect: relay,
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
    // the share of time this thread was busy since START: how well the plan balances the stages
    utilization: () => performance.eventLoopUtilization(started ?? undefined).utilization,
  },
});

const COMMANDS: readonly string[] = ['START', 'ALLOW', 'CAPTURE', 'DRAIN', 'HALT'] satisfies StageCommand['type'][];
port.on('message', (command: StageCommand) => {
  // anything but the trainer's commands is a fault: say so and stop, rather than wait forever
  if (command === null || typeof command !== 'object' || !COMMANDS.includes(command.type)) {
    report({ type: 'FAILED', stage: init.stage.index, error: new Error(`a stray message reached the stage: ${describeMessage(command)}`) });
    return;
  }
  if (command.type === 'START') started = performance.eventLoopUtilization();
  actor.send(command);
});
actor.start();

function describeMessage(m: unknown): string {
  try {
    return JSON.stringify(m)?.slice(0, 120) ?? String(m);
  } catch {
    return String(m);
  }
}
