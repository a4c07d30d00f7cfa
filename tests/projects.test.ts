/**
 * Tests by cost (vitest.config.ts): every test file runs in exactly one project, the unit files import
 * nothing from actors/, and the in-process projects refuse threads and processes.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { globSync } from 'tinyglobby';
import { describe, expect, it } from 'vitest';
import { PROJECTS } from '../vitest.config.ts';

const root = join(import.meta.dirname, '..');
const files = (patterns: readonly string[]) => globSync([...patterns], { cwd: root, ignore: ['**/node_modules/**'] }).sort();
/** 'a/{b,c}.ts' → ['a/b.ts', 'a/c.ts']: each name in a list must name a file (a renamed test would otherwise drop out unseen). */
const alternatives = (pattern: string): string[] => {
  const m = /^(.*?)\{([^{}]*)\}(.*)$/.exec(pattern);
  return m ? m[2].split(',').flatMap((alt) => alternatives(`${m[1]}${alt}${m[3]}`)) : [pattern];
};

describe('vitest projects', () => {
  it('hold every tests/**/*.test.ts exactly once, and every pattern matches a file', () => {
    const owners = new Map<string, string[]>(files(['tests/**/*.test.ts']).map((f) => [f, []]));
    for (const [project, patterns] of Object.entries(PROJECTS)) {
      for (const pattern of patterns) {
        for (const one of alternatives(pattern))
          expect(files([one]), `${project}: '${one}' (in '${pattern}') matches no file`).not.toEqual([]);
        const matched = files([pattern]);
        for (const f of matched) owners.get(f)?.push(project);
      }
    }
    const wrong = [...owners].filter(([, p]) => p.length !== 1).map(([f, p]) => `${f}: ${p.length ? p.join(', ') : 'no project'}`);
    expect(wrong).toEqual([]);
    expect(owners.size).toBeGreaterThan(80);
  });

  it('unit files import nothing from actors/', () => {
    const importers = files(PROJECTS.unit).filter((f) => /from '(\.\.\/)+actors\//.test(readFileSync(join(root, f), 'utf8')));
    expect(importers).toEqual([]);
  });

  it('npm has a script per project, and npm test runs them all', () => {
    const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.test).toBe('vitest run');
    for (const project of Object.keys(PROJECTS)) expect(scripts[`test:${project}`]).toBe(`vitest run --project ${project}`);
  });

  it('this (unit) project refuses a worker thread and a child process, naming where the test belongs', () => {
    const refused = /started in the unit or actors project: .* belongs to 'workers'/;
    expect(() => new Worker('', { eval: true })).toThrow(refused);
    expect(() => spawnSync(process.execPath, ['--version'])).toThrow(refused);
  });
});
