/** `npm run inspect -- TRACE.jsonl [--port N] [--host ADDRESS]`: the trace viewer from this repository (inspectCommand.ts). */
import { inspectCommand } from './inspectCommand.ts';

await inspectCommand(process.argv.slice(2), 'npm run inspect --');
