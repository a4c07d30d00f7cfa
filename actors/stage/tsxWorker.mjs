// Worker bootstrap in the repository only (see workerEntry.ts): Node 20 does not pass the parent's
// TypeScript loader hooks to worker threads, so register tsx in this thread, then load the entry
// module whose URL workerEntry() put last on argv. The built package never loads this file.
import { register } from 'tsx/esm/api';

const entry = process.argv.pop();
if (!entry?.endsWith('.ts')) throw new Error(`tsxWorker.mjs: expected a .ts entry module last on argv, got ${entry}`);
register();
await import(entry);
