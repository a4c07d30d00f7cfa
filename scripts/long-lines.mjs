#!/usr/bin/env node
/**
 * `npm run long-lines`: fails on any line wider than the formatter's width (.prettierrc.json's printWidth) in
 * the files Prettier formats (tracked or new, not in .prettierignore, a parser Prettier knows), comments and
 * strings included, which Prettier does not wrap; and in the files Prettier leaves alone: examples/ (laid out
 * for the README) and the AssemblyScript kernels (lib/wasm/*.as.ts). Prints `file:line: N columns` for each, widest first.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getFileInfo } from 'prettier';

const root = join(import.meta.dirname, '..');
const width = JSON.parse(readFileSync(join(root, '.prettierrc.json'), 'utf8')).printWidth;
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f, i, all) => f && all.indexOf(f) === i); // a file in a merge conflict is listed once a stage
const HELD_TO_THE_WIDTH_UNFORMATTED = /^(examples\/|lib\/wasm\/.*\.as\.ts$)/;
const over = [];
for (const file of files) {
  const held = HELD_TO_THE_WIDTH_UNFORMATTED.test(file);
  const info = await getFileInfo(join(root, file), held ? {} : { ignorePath: join(root, '.prettierignore') });
  if (info.ignored || !info.inferredParser) continue;
  readFileSync(join(root, file), 'utf8')
    .split('\n')
    .forEach((line, i) => {
      // columns as an editor counts them: code points, not UTF-16 units
      const columns = [...line].length;
      if (columns > width) over.push({ at: `${file}:${i + 1}`, columns });
    });
}
over.sort((a, b) => b.columns - a.columns);
for (const { at, columns } of over) console.log(`${at}: ${columns} columns`);
console.log(over.length ? `${over.length} lines over ${width} columns` : `no line over ${width} columns`);
process.exitCode = over.length ? 1 : 0;
