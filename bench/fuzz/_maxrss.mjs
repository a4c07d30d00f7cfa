// Preloaded into the command lines the fuzz tests run: report the peak resident memory (kB) on fd 3 at exit.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  try {
    writeSync(3, String(process.resourceUsage().maxRSS));
  } catch {
    // fd 3 is not open: run outside the fuzz tests
  }
});
