/**
 * npm run reference -- CASE.json --out FINAL.json [--scheduler queue]
 *
 * Train any case in the format of shared/reference/*.json through the actors and write
 * `{ "final": {...}, "losses": [...], "synthesizer_losses": [...] }`. If the case carries its
 * expected answers, also print the largest deviations from them.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parametersToJSON } from '../lib/params.ts';
import { type ReferenceCase, loadCase } from '../lib/reference.ts';
import { SCHEDULERS, type SchedulerName } from '../actors/schedulers.ts';
import { train } from '../actors/training.ts';
import { compareWithCase } from '../lib/compare.ts';

const usage = [
  `usage: npm run reference -- CASE.json --out FINAL.json [--scheduler ${SCHEDULERS.join('|')}]`,
  '                            [--save-at STEP --checkpoint FILE]   run to the end, saving a checkpoint at STEP',
  '                            [--resume FILE]                      continue from a checkpoint to the last step',
].join('\n');

interface Args {
  casePath: string;
  out: string;
  scheduler: SchedulerName;
  saveAt: number | null;
  checkpoint: string;
  resume: string;
}

function parse(argv: string[]): Args {
  let casePath = '', out = '', scheduler: string = 'queue', saveAt: number | null = null, checkpoint = '', resume = '';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') out = argv[++i] ?? '';
    else if (a === '--scheduler') scheduler = argv[++i] ?? '';
    else if (a === '--checkpoint') checkpoint = argv[++i] ?? '';
    else if (a === '--resume') resume = argv[++i] ?? '';
    else if (a === '--save-at') {
      saveAt = Number(argv[++i]);
      if (!Number.isInteger(saveAt) || saveAt < 1) fail(`--save-at needs a step >= 1, got ${argv[i]}`);
    }
    else if (a === '--help' || a === '-h') fail('', 0);
    else if (a.startsWith('--')) fail(`unknown option ${a}`);
    else if (!casePath) casePath = a;
    else fail(`unexpected argument ${a}`);
  }
  if (!casePath) fail('missing CASE.json');
  if (!out) fail('missing --out FINAL.json');
  if (!(SCHEDULERS as readonly string[]).includes(scheduler)) fail(`unknown scheduler '${scheduler}'`);
  if ((saveAt === null) !== !checkpoint) fail('--save-at and --checkpoint go together');
  return { casePath, out, scheduler: scheduler as SchedulerName, saveAt, checkpoint, resume };
}

function fail(message: string, code = 2): never {
  if (message) console.error(`reference: ${message}`);
  console.error(usage);
  process.exit(code);
}

const { casePath, out, scheduler, saveAt, checkpoint, resume } = parse(process.argv.slice(2));
let json: ReferenceCase;
try {
  json = JSON.parse(readFileSync(casePath, 'utf8')) as ReferenceCase;
} catch (e) {
  fail(`cannot read ${casePath}: ${(e as Error).message}`, 1);
}
const c = loadCase(json, basename(casePath, '.json'));
const started = performance.now();
const result = await train({
  topology: c.topology,
  data: c.data,
  steps: c.steps,
  scheduler,
  ...(resume ? { resume } : { params: c.initial }),
  ...(saveAt !== null ? { checkpoint: { path: checkpoint, at: [saveAt] } } : {}),
}).catch((e: Error) => fail(e.message, 1));
const seconds = (performance.now() - started) / 1000;
const written = {
  final: parametersToJSON(result.params, c.topology),
  losses: Array.from(result.losses),
  synthesizer_losses: Array.from(result.synthesizerLosses),
};
// write atomically: a failed run never leaves a half-written file in place of a good one
writeFileSync(`${out}.tmp`, JSON.stringify(written));
renameSync(`${out}.tmp`, out);
console.log(
  `${c.name}: ${resume ? `resumed from ${resume}, ` : ''}${c.steps} steps under the ${scheduler} scheduler in ${seconds.toFixed(2)} s → ${out}` +
    (saveAt !== null ? ` (checkpoint at step ${saveAt} → ${checkpoint})` : ''),
);
if (json.final && json.losses) {
  const d = compareWithCase(written, json);
  console.log(
    `vs the case's own answers: max |param diff| ${d.maxParamDiff.toExponential(2)} (${d.worstParam}), ` +
      `max relative loss diff ${d.maxLossRelDiff.toExponential(2)}, max synthesizer loss diff ${d.maxSynthesizerLossDiff.toExponential(2)}`,
  );
}
