// Worker bootstrap for a stage. Node 20 does not pass the parent's TypeScript loader hooks to
// worker threads, so register tsx in this thread, then load the stage.
import { register } from 'tsx/esm/api';

register();
await import('./stageThread.ts');
