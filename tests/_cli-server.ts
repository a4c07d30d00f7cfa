/**
 * A test file's runs of command-line scripts, one after another in this one process (tests/_cli.ts
 * starts it): each line on stdin is `{ id, file, args, cwd }`; the file runs in `cwd` as
 * tests/_run-script.ts runs it, and the answer is one line on stdout, `{ id, status, stdout, stderr,
 * ms, maxRSS }`, as its own process would have ended: the code it exited with, or what it left in
 * process.exitCode, or Node's way with an uncaught throw (the stack on stderr, status 1); maxRSS is
 * this process's peak so far, so at least the run's own. Anything thrown after a run has ended (in
 * a callback) ends this process with code 70, which fails every run still waiting: a test sees it
 * rather than missing it.
 */
import { createInterface } from 'node:readline';
import { real, runScript } from './_run-script.ts';

const crash = (e: unknown) => {
  real.stderr(`tests/_cli-server.ts: thrown outside a run: ${String((e as Error)?.stack ?? e)}\n`);
  real.exit(70);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

const home = process.cwd();
let n = 0;
for await (const line of createInterface({ input: process.stdin })) {
  const { id, file, args, cwd } = JSON.parse(line) as { id: number; file: string; args: string[]; cwd: string };
  process.chdir(cwd);
  process.exitCode = undefined;
  const t0 = performance.now();
  const r = await runScript(file, args, `run=${n++}`);
  const ms = performance.now() - t0;
  process.chdir(home);
  const status = r.code ?? (r.error !== null ? 1 : Number(process.exitCode ?? 0));
  const stderr = r.error !== null ? `${r.stderr}${r.error}\n` : r.stderr;
  const maxRSS = process.resourceUsage().maxRSS * 1024;
  real.stdout(`${JSON.stringify({ id, status, stdout: r.stdout, stderr, ms, maxRSS })}\n`);
}
real.exit(0);
