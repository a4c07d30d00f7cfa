/**
 * `--trace out.jsonl` in a demo that runs several trainings writes one trace each; the demo says how
 * to open each, and `npm run inspect -- out.jsonl` finds them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tracesFor } from '../../tools/inspector/traces.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'dni-actors-traces-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('per-training traces', () => {
  it('tracesFor: the file when it exists, else its per-training siblings in the order written, else none', () => {
    const at = (name: string, seconds: number) => {
      writeFileSync(join(dir, name), '');
      utimesSync(join(dir, name), seconds, seconds);
    };
    at('u.jsonl', 1);
    expect(tracesFor(join(dir, 'u.jsonl'))).toEqual([join(dir, 'u.jsonl')]);
    at('v.backprop.jsonl', 1);
    at('v.dni.jsonl', 2);
    at('v.cdni.jsonl', 3);
    at('v.jsonl.bak', 4);
    at('vv.dni.jsonl', 5);
    expect(tracesFor(join(dir, 'v.jsonl'))).toEqual(['backprop', 'dni', 'cdni'].map((l) => join(dir, `v.${l}.jsonl`)));
    expect(tracesFor(join(dir, 'w.jsonl'))).toEqual([]);
    expect(tracesFor(join(dir, 'missing', 'w.jsonl'))).toEqual([]);
  });

  it('the demo prints the command that opens each, and inspect lists them and serves the first', async () => {
    const trace = join(dir, 't.jsonl');
    const demo = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'demos', 'binary-addition.ts'), '--steps', '20', '--trace', trace],
      { cwd: root, encoding: 'utf8' },
    );
    expect(demo.status).toBe(0);
    const files = ['backprop', 'dni', 'cdni'].map((l) => join(dir, `t.${l}.jsonl`));
    expect(demo.stderr).toContain(
      `binary-addition: traces written; open each with\n${files.map((f) => `  npm run inspect -- ${f}`).join('\n')}`,
    );

    const inspect = spawn(process.execPath, ['--import', 'tsx', join(root, 'tools', 'inspector', 'cli.ts'), trace, '--port', '0'], {
      cwd: root,
    });
    try {
      let out = '';
      inspect.stderr.on('data', (d) => (out += d));
      const url = await new Promise<string>((resolve, reject) => {
        inspect.stdout.on('data', (d) => {
          out += d;
          const m = /inspector: (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        inspect.on('exit', (code) => reject(new Error(`inspect exited with ${code}: ${out}`)));
      });
      expect(out).toContain(
        `inspect: ${trace} is 3 traces, one per training:\n${files.map((f) => `  npm run inspect -- ${f}`).join('\n')}\nserving the first.`,
      );
      expect(out).toContain(`(${files[0]}; Ctrl+C to stop)`);
      expect((await fetch(url)).status).toBe(200);
    } finally {
      inspect.kill();
    }
  });

  it('inspect still says "no such file" when there is nothing of that name', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'tools', 'inspector', 'cli.ts'), join(dir, 'none.jsonl')], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`inspect: no such file: ${join(dir, 'none.jsonl')}`);
  });
});
