/**
 * `npm run bench -- NAME [options]`: benchmark scripts that print ratios measured side by side
 * in one run (never timed unit tests: these machines are shared and noisy).
 * Each bench lives in bench/NAME.ts and exports `main(args: string[]): Promise<void>`.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'index.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join(' | ')}> [--json] [options]`);
  process.exit(name ? 2 : 0);
}
const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as { main(args: string[]): Promise<void> };
await mod.main(args);
