import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError, demoUsage, stepsOf, traceFileFor, tryParseDemoArgs } from '../../demos/cli.ts';

const spec = {
  name: 'probe',
  usage: 'A demo for the tests.',
  takes: 'a moment',
  defaults: { steps: 200 },
  options: {
    lr: { type: 'number', default: 0.5, help: 'learning rate' },
    method: { type: 'string', help: 'only this method', value: 'NAME' },
    quiet: { type: 'boolean', help: 'no progress bar' },
  },
} as const;

describe('parseDemoArgs', () => {
  it('gives the shared options with their defaults, and the demo’s own, typed', () => {
    const args = tryParseDemoArgs([], spec)!;
    expect(args).toMatchObject({
      steps: 200,
      epochs: undefined,
      scheduler: 'queue',
      trace: undefined,
      sample: 1,
      inspect: false,
      inspectPort: 8080,
      json: false,
    });
    expect([args.lr, args.method, args.quiet]).toEqual([0.5, undefined, false]);
    const given = tryParseDemoArgs(
      ['--steps', '5', '--trace=out.jsonl', '--sample', '10', '--json', '--lr', '0.1', '--method', 'dni', '--quiet'],
      spec,
    )!;
    expect(given).toMatchObject({ steps: 5, trace: 'out.jsonl', sample: 10, json: true, lr: 0.1, method: 'dni', quiet: true });
    const epochs = tryParseDemoArgs(['--epochs', '2', '--inspect', '--inspect-port', '0'], spec)!;
    expect([epochs.steps, epochs.epochs, epochs.inspect, epochs.inspectPort]).toEqual([undefined, 2, 'live', 0]);
    expect(stepsOf(epochs, 100)).toBe(200);
    expect(stepsOf(given, 100)).toBe(5);
  });

  it('--inspect is the live page, --inspect stately Stately’s; the scheduler stays the demo’s unless told otherwise', () => {
    const parse = (argv: string[]) => {
      const a = tryParseDemoArgs(argv, spec)!;
      return [a.inspect, a.scheduler];
    };
    expect(parse([])).toEqual([false, 'queue']);
    expect(parse(['--inspect'])).toEqual(['live', 'queue']);
    expect(parse(['--inspect', 'live'])).toEqual(['live', 'queue']);
    expect(parse(['--inspect', 'stately'])).toEqual(['stately', 'queue']);
    expect(parse(['--inspect=stately', '--steps', '5'])).toEqual(['stately', 'queue']);
    expect(parse(['--steps', '5', '--inspect', '--scheduler', 'async'])).toEqual(['live', 'async']);
    expect(parse(['--inspect', '--scheduler', 'queue'])).toEqual(['live', 'queue']);
    expect(parse(['--inspect', 'stately', '--scheduler', 'worker'])).toEqual(['stately', 'worker']);
    expect(tryParseDemoArgs(['--inspect', '--sample', '10'], spec)!.sample).toBe(10);
  });

  it('refuses what it does not know, with a message that names the flag', () => {
    const refused = (argv: string[]) => {
      try {
        tryParseDemoArgs(argv, spec);
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(refused(['--stpes', '5'])).toMatch(/Unknown option '--stpes'/);
    expect(refused(['--steps'])).toMatch(/--steps/);
    expect(refused(['--steps=-3'])).toMatch(/--steps needs an integer >= 1, got '-3'/);
    expect(refused(['--steps', '0'])).toMatch(/--steps needs an integer >= 1, got '0'/);
    expect(refused(['--steps', '-3'])).toMatch(/'--steps' argument is ambiguous/);
    expect(refused(['--steps', '1.5'])).toMatch(/--steps/);
    expect(refused(['--steps', '5', '--epochs', '1'])).toMatch(/not both/);
    expect(refused(['--scheduler', 'fast'])).toMatch(/unknown scheduler 'fast' \(expected one of queue/);
    expect(refused(['--sample', '0', '--trace', 'x'])).toMatch(/--sample needs an integer >= 1/);
    expect(refused(['--sample', '5'])).toMatch(/--trace or --inspect/);
    expect(refused(['--lr', 'fast'])).toMatch(/--lr needs a number/);
    expect(refused(['extra'])).toMatch(/unexpected argument 'extra'/);
    expect(refused(['--inspect=sky'])).toBe("--inspect takes nothing (the live page) or 'stately', got 'sky'");
    expect(refused(['--inspect', 'sky'])).toMatch(/unexpected argument 'sky'/);
    expect(refused(['--inspect', '--inspect', 'stately'])).toMatch(/--inspect given twice/);
    expect(tryParseDemoArgs(['--help'], spec)).toBeNull();
  });

  it('prints the usage and exits with code 2 on a bad flag (0 on --help)', () => {
    const run = (argv: string[]) =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', '-e', `import('./demos/cli.ts').then((m) => m.parseDemoArgs(${JSON.stringify(argv)}, { name: 'probe' }))`],
        { cwd: join(import.meta.dirname, '..', '..'), encoding: 'utf8' },
      );
    const bad = run(['--bogus']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("probe: Unknown option '--bogus'");
    expect(bad.stderr).toContain('usage: npx tsx demos/probe.ts [options]');
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--trace FILE');
  });

  it('documents every option', () => {
    const usage = demoUsage(spec);
    for (const flag of [
      '--steps N',
      '--epochs N',
      '--scheduler NAME',
      '--trace FILE',
      '--sample N',
      '--inspect',
      '--inspect stately',
      '--inspect-port N',
      '--json',
      '--lr X',
      '--method NAME',
      '--quiet',
    ]) {
      expect(usage).toContain(flag);
    }
    expect(usage).toContain('(default 200)');
  });

  it('names one trace per training when a demo runs several', () => {
    expect(traceFileFor('out.jsonl')).toBe('out.jsonl');
    expect(traceFileFor('runs/out.jsonl', 'cDNI')).toBe('runs/out.cDNI.jsonl');
    expect(traceFileFor('trace', 'dni')).toBe('trace.dni');
    expect(traceFileFor('a.b/trace', 'dni all')).toBe('a.b/trace.dni-all');
  });
});
