/**
 * Worker thread of a stage host (natsHost.ts): one stage of one training after another. The host
 * starts it ahead of any claim (so a training does not wait for its modules to load) and posts it
 * each claim's start-up data. It connects to NATS once, at its first stage, and keeps that
 * connection; for each stage it listens for the stage's tensors (natsLink.ts) and its trainer's
 * commands, and hosts the stage exactly as a pool's thread does ({@link hostStage}: the same code,
 * with NATS in place of shared memory). Reports go to the trainer framed (lib/wire.ts). When the host
 * ends the stage, the thread frees everything of it (its actors, its copy of the network, its
 * subscriptions) and says what it still holds: the host then gives it the next claim, so what V8
 * compiled and optimised for one training serves the next, or ends it if anything was left.
 *
 *   host ──{ type: 'HOST', init, connection }──▶ this thread ──'ready' (or FAILED)──▶ host
 *   host ──'end'──▶ this thread ──{ type: 'ENDED', residue }──▶ host
 *   host ──'close'──▶ this thread: ends its stage, leaves the servers, exits
 */
import { parentPort } from 'node:worker_threads';
import type { NatsConnection, Subscription } from 'nats';
import { Reassembler, decodeValue } from '../../lib/wire.ts';
import { routesFor } from '../machines/events.ts';
import { type HostedStage, STAGE_COMMANDS, hostStage, threadResidue } from '../stage/stageHost.ts';
import type { Residue, StageCommand, WorkerReport } from '../stage/stageProtocol.ts';
import { NatsLink } from './natsLink.ts';
import { type HostedStageInit, type NatsConnectOptions, connectNats, publishValue, subjects } from './natsProtocol.ts';

/** What the host posts to its stage thread. */
export type HostThreadCommand = { type: 'HOST'; init: HostedStageInit; connection: NatsConnectOptions } | 'end' | 'close';
/** What a stage thread posts to its host. */
export type HostThreadReport = 'ready' | { type: 'FAILED'; error: string } | { type: 'ENDED'; residue: Residue };

const port = parentPort!;
let nc: NatsConnection | null = null;
/** the stage hosted now, and the subscription to its trainer's commands */
let hosted: { stage: HostedStage; commands: Subscription } | null = null;
const send = (r: HostThreadReport) => port.postMessage(r);

async function host(init: HostedStageInit, connection: NatsConnectOptions): Promise<void> {
  const conn = (nc ??= await connectNats({ ...connection, connectionName: `${init.host} stage thread` }, { maxReconnectAttempts: -1 }));
  const s = subjects(init.prefix),
    k = init.stage.index;
  let sent = 0;
  const post = (r: WorkerReport) => publishValue(conn, s.reports(init.run), r, k, ++sent);
  // a host's stage is never part of an adaptive plan: no capacity
  const stage = hostStage(init, null, post, new NatsLink(conn, routesFor(init.topology), init.link));
  const frames = new Reassembler();
  const commands = conn.subscribe(s.commands(init.run, k), {
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
  hosted = { stage, commands };
  // the subscriptions are live at the server before the host says the stage is ready
  await conn.flush();
}

/** End the stage hosted now (if any): nothing of it is delivered or kept any more. */
function endStage(): void {
  if (!hosted) return;
  hosted.commands.unsubscribe();
  hosted.stage.end();
  hosted = null;
}

async function handle(m: HostThreadCommand): Promise<void> {
  if (m === 'end') {
    endStage();
    return send({ type: 'ENDED', residue: threadResidue(hosted ? 1 : 0) });
  }
  if (m === 'close') {
    endStage();
    await nc?.drain().catch(() => {});
    return port.close();
  }
  if (m?.type !== 'HOST') return;
  endStage();
  try {
    await host(m.init, m.connection);
  } catch (error) {
    endStage();
    return send({ type: 'FAILED', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
  send('ready');
}

// one message at a time, in order: an 'end' that comes while a stage is still connecting waits for it
let queue = Promise.resolve();
port.on('message', (m: HostThreadCommand) => {
  queue = queue.then(() => handle(m)).catch((error) => hosted?.stage.fail(error));
});
// an error that escaped the stage fails it, by name (as in a pool's thread); the thread serves on
process.on('uncaughtException', (error) => hosted?.stage.fail(error));
