/**
 * Runs commands' `--help` in this one process (tests/help.test.ts spawns it once): for each
 * `[file, ...args]` in the JSON of argv[2], the file runs as tests/_run-script.ts runs it. Anything
 * that would start work beyond printing (a worker thread, a child process, a server listening) is
 * refused and recorded. Prints one JSON array: `{ command, code, stdout, stderr, work, error }` per command.
 */
import { refuseWork } from './_refuse.ts';
import { real, runScript } from './_run-script.ts';

const commands = JSON.parse(process.argv[2]) as string[][];
let work: string[] = [];
refuseWork(
  (what) => {
    work.push(what);
    throw new Error(`--help started work: ${what}`);
  },
  { servers: true },
);

const results = [];
for (const [i, [file, ...args]] of commands.entries()) {
  work = [];
  const r = await runScript(file, args, `help=${i}`);
  results.push({ command: [file, ...args].join(' '), code: r.code, stdout: r.stdout, stderr: r.stderr, work, error: r.error });
}
real.stdout(`${JSON.stringify(results)}\n`);
process.exitCode = 0;
