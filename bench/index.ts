/**
 * `npm run bench -- NAME [options]`: benchmark scripts that print ratios measured side by side
 * in one run (never timed unit tests: these machines are shared and noisy).
 * Each bench lives in bench/NAME.ts and exports `main(args: string[]): Promise<void>` and its
 * `help` (`npm run bench -- NAME --help` prints it, and runs nothing).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type CommandHelp, asksForHelp, exitOnHelp } from '../lib/io/help.ts';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'index.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();

type Bench = { main(args: string[]): Promise<void>; help: CommandHelp };
const load = async (bench: string) => (await import(pathToFileURL(join(here, `${bench}.ts`)).href)) as Bench;

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  const help = async (): Promise<CommandHelp> => ({
    usage: 'npm run bench -- NAME [--json] [options]',
    about:
      'Benchmarks that print ratios measured side by side in one run. `npm run bench -- NAME --help`: what NAME measures, its options.',
    // each bench's usage line says its options; loaded only for this list
    options: await Promise.all(available.map(async (b) => [b, (await load(b)).help.takes] as const)),
    takes: 'what the bench says beside its name (with its defaults)',
  });
  if (!name || asksForHelp([name])) exitOnHelp(['--help'], await help());
  console.error(`bench: no bench '${name}' (benches: ${available.join(', ')}; see --help)`);
  process.exit(2);
}
const mod = await load(name);
exitOnHelp(args, mod.help);
await mod.main(args);
