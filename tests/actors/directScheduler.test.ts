/**
 * The schedulers behind the edges: the Trampoline runs work in rxjs queueScheduler's order, the
 * event-loop scheduler in first-in first-out order on later turns, and deliverOn delivers as
 * observeOn does (and nothing after unsubscribing).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Observable, Subject, type SchedulerLike, asyncScheduler, observeOn, queueScheduler } from 'rxjs';
import { Trampoline, deliverOn } from '../../actors/schedulers/directScheduler.ts';
import { EventLoopScheduler } from '../../actors/schedulers/eventLoopScheduler.ts';

/** A program of nested scheduling: task i schedules the tasks listed at i when it runs. */
function runProgram(s: SchedulerLike, children: number[][], roots: number[], viaPost: boolean): number[] {
  const order: number[] = [];
  const runTask = (i: number) => {
    order.push(i);
    for (const c of children[i] ?? []) start(c);
  };
  const start = (i: number) => {
    if (viaPost && s instanceof Trampoline) s.post(runTask, i);
    else s.schedule(() => runTask(i));
  };
  for (const r of roots) start(r);
  return order;
}

describe('Trampoline', () => {
  it("runs any nesting of work in queueScheduler's order, through post and through schedule", () => {
    const program = fc.array(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 3 }), { minLength: 41, maxLength: 41 }).map((kids) =>
      // a tree: task i may only start tasks after it, so every program ends
      kids.map((ks, i) => ks.filter((k) => k > i)),
    );
    fc.assert(
      fc.property(program, fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 4 }), (children, roots) => {
        const want = runProgram(queueScheduler, children, roots, false);
        expect(runProgram(new Trampoline(), children, roots, true)).toEqual(want);
        expect(runProgram(new Trampoline(), children, roots, false)).toEqual(want);
      }),
    );
  });

  it('drops the waiting work on an error, throws it to the caller, and runs again afterwards', () => {
    const t = new Trampoline(),
      ran: string[] = [];
    expect(() =>
      t.post(() => {
        t.post(() => ran.push('queued before the error'), 0);
        throw new Error('boom');
      }, 0),
    ).toThrow('boom');
    expect(ran).toEqual([]);
    t.post(() => ran.push('next'), 0);
    expect(ran).toEqual(['next']);
  });

  it('runs delayed work after its delay', async () => {
    const t = new Trampoline(),
      ran: number[] = [];
    t.schedule(() => ran.push(2), 5);
    t.schedule(() => ran.push(1));
    expect(ran).toEqual([1]);
    await new Promise((r) => setTimeout(r, 20));
    expect(ran).toEqual([1, 2]);
  });
});

describe('EventLoopScheduler', () => {
  it('runs work first in first out on a later turn, nested work after what was already waiting', async () => {
    const s = new EventLoopScheduler(),
      ran: string[] = [];
    s.post((v) => {
      ran.push(v);
      s.post((w) => ran.push(w), 'c');
    }, 'a');
    s.schedule(() => ran.push('b'));
    expect(ran).toEqual([]);
    expect(s.size).toBe(2);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(ran).toEqual(['a', 'b', 'c']);
  });

  it('keeps order past its initial capacity', async () => {
    const s = new EventLoopScheduler(),
      ran: number[] = [];
    for (let i = 0; i < 1000; i++) s.post((v) => ran.push(v), i);
    await new Promise((r) => setTimeout(r, 50));
    expect(ran).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});

describe('deliverOn', () => {
  it.each([
    ['Trampoline', () => new Trampoline(), () => queueScheduler],
    ['EventLoopScheduler', () => new EventLoopScheduler(), () => asyncScheduler],
  ] as const)('%s: delivers what observeOn delivers, in the same order', async (_, make, reference) => {
    const collect = async (op: (s: Subject<number>) => Observable<number>) => {
      const src = new Subject<number>(),
        got: (number | string)[] = [];
      op(src).subscribe({ next: (v) => got.push(v), complete: () => got.push('done') });
      for (let i = 0; i < 5; i++) src.next(i);
      src.complete();
      await new Promise((r) => setTimeout(r, 20));
      return got;
    };
    const direct = await collect((s) => s.pipe(deliverOn(make())));
    expect(direct).toEqual(await collect((s) => s.pipe(observeOn(reference()))));
    expect(direct).toEqual([0, 1, 2, 3, 4, 'done']);
  });

  it('delivers nothing once unsubscribed, and falls back to observeOn for other schedulers', async () => {
    const s = new EventLoopScheduler(),
      src = new Subject<number>(),
      got: number[] = [];
    const sub = src.pipe(deliverOn(s)).subscribe((v) => got.push(v));
    src.next(1);
    sub.unsubscribe();
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([]);
    const viaAsync: number[] = [];
    src.pipe(deliverOn(asyncScheduler)).subscribe((v) => viaAsync.push(v));
    src.next(7);
    expect(viaAsync).toEqual([]);
    await new Promise((r) => setTimeout(r, 10));
    expect(viaAsync).toEqual([7]);
  });
});
