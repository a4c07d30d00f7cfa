/**
 * Worker thread entry of a stage pool's thread (stagePool.ts): it loads the library once, then
 * hosts one stage of one training after another ({@link hostStage}), as the pool says
 * ({@link PoolCommand}): so what V8 compiled and optimised for one training serves the next. The
 * WebAssembly kernels come compiled, in `workerData.modules`: the thread instantiates them, it does
 * not compile them again. After each stage it reports what it still holds (its {@link Residue}):
 * nothing of a training outlives it here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { adoptWasmModules } from '../../lib/kernels/backend-choice.ts';
import { type HostedStage, STAGE_COMMANDS, hostStage, threadResidue } from './stageHost.ts';
import { measureCapacity } from './capacityProbe.ts';
import { SharedMemoryLink } from './stageLink.ts';
import { type PoolCommand, type PoolReport, serializeError } from './stageProtocol.ts';

const port = parentPort!;
adoptWasmModules((workerData as { modules?: Record<string, object> } | undefined)?.modules ?? {});

/** the stage hosted now, and its lease */
let hosted: { lease: number; stage: HostedStage } | null = null;

const send = (r: PoolReport, transfer?: ArrayBuffer[]) => port.postMessage(r, transfer);

port.on('message', (m: PoolCommand) => {
  if (m === null || typeof m !== 'object') return hosted?.stage.stray(m);
  switch (m.type) {
    case 'HOST': {
      const lease = m.lease;
      hosted?.stage.end();
      hosted = null;
      try {
        hosted = {
          lease,
          stage: hostStage(
            m.init,
            m.capacity,
            (report, transfer) => send({ type: 'REPORT', lease, report }, transfer),
            new SharedMemoryLink(m.init.link),
          ),
        };
      } catch (error) {
        // building failed (the kernels' memory is full, …): say so as the stage's failure
        send({ type: 'REPORT', lease, report: { type: 'FAILED', stage: m.init.stage.index, error: serializeError(error) } });
      }
      return;
    }
    case 'COMMAND':
      if (hosted?.lease === m.lease && STAGE_COMMANDS.includes(m.command?.type)) hosted.stage.command(m.command);
      else if (hosted?.lease === m.lease) hosted.stage.stray(m.command);
      return;
    case 'END':
      if (hosted?.lease === m.lease) {
        hosted.stage.end();
        hosted = null;
      }
      return send({ type: 'ENDED', lease: m.lease, residue: threadResidue(hosted ? 1 : 0) });
    case 'PROBE':
      return send({ type: 'PROBED', capacity: measureCapacity(m.barrier, m.me) });
    default:
      hosted?.stage.stray(m);
  }
});
// an error that escaped a stage (xstate reports an actor's unhandled error so, after the stage has
// failed by it) fails that stage, by name, when it still runs; the thread serves on. A stage of a
// training that has ended may still be working until its END arrives (a peer failed, say):
// whatever it throws then concerns nobody.
process.on('uncaughtException', (error) => hosted?.stage.fail(error));
send({ type: 'READY' });
