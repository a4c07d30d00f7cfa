/**
 * Worker thread of a stage host (natsHost.ts): one stage of one training. The host starts it
 * ahead of any claim (so a training does not wait for its modules to load), then posts it the
 * claim's start-up data; it serves that one stage and exits. It connects to NATS on its own,
 * listens for its tensors (natsLink.ts) and its trainer's commands, and hosts the stage exactly as
 * a pool's thread does ({@link hostStage}: the same code, with NATS in place of shared memory).
 * Reports go to the trainer framed (lib/wire.ts).
 *
 *   host ──{ init, connection }──▶ this thread ──'ready'──▶ host
 */
import { parentPort } from 'node:worker_threads';
import { Reassembler, decodeValue } from '../../lib/wire.ts';
import { routesFor } from '../machines/events.ts';
import { STAGE_COMMANDS, hostStage } from '../stage/stageHost.ts';
import type { StageCommand, WorkerReport } from '../stage/stageProtocol.ts';
import { NatsLink } from './natsLink.ts';
import { type HostedStageInit, type NatsConnectOptions, connectNats, publishValue, subjects } from './natsProtocol.ts';

const port = parentPort!;
const { init, connection } = await new Promise<{ init: HostedStageInit; connection: NatsConnectOptions }>((resolve) =>
  port.once('message', resolve),
);
const s = subjects(init.prefix);

const nc = await connectNats(
  { ...connection, connectionName: `${init.host} stage:${init.stage.index} of ${init.run}` },
  { maxReconnectAttempts: -1 },
);
let sent = 0;
const post = (r: WorkerReport) => publishValue(nc, s.reports(init.run), r, init.stage.index, ++sent);
// a host's stage is never part of an adaptive plan: no capacity
const stage = hostStage(init, null, post, new NatsLink(nc, routesFor(init.topology), init.link));

const frames = new Reassembler();
nc.subscribe(s.commands(init.run, init.stage.index), {
  callback: (err, msg) => {
    if (err) return stage.fail(err);
    try {
      const whole = frames.take(msg.data);
      if (!whole) return;
      const command = decodeValue<StageCommand>(whole.message);
      if (STAGE_COMMANDS.includes(command?.type)) stage.command(command);
      else stage.stray(command);
    } catch (error) {
      stage.fail(error);
    }
  },
});
// an error that escaped the stage fails it, by name (as in a pool's thread)
process.on('uncaughtException', (error) => stage.fail(error));
// the subscriptions are live at the server before the host says the stage is ready
await nc.flush();
port.postMessage('ready');
port.on('message', async (m: unknown) => {
  if (m !== 'end') return;
  stage.end();
  await nc.drain().catch(() => {});
  port.close();
});
