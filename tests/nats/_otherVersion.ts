/** A stage host that claims another code version: bin/stage.ts's arguments, plus `--claim-version V`. */
import { serveStages } from '../../actors/nats/natsHost.ts';
import { parseStageArgs } from '../../bin/stage.ts';

const argv = process.argv.slice(2),
  at = argv.indexOf('--claim-version');
const version = argv[at + 1];
const { quiet: _, ...o } = parseStageArgs([...argv.slice(0, at), ...argv.slice(at + 2)]);
const host = await serveStages({ ...o, version });
process.stdout.write(`stage host ${host.name} ready (version ${version})\n`);
process.on('SIGTERM', () => void host.close().then(() => process.exit(0)));
