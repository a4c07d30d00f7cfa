/**
 * A caller's code run inside a training (callbacks, inspection observers, metrics$ subscribers),
 * guarded: what it throws fails the training with a TrainingOptionsError naming it, rather than
 * taking the process down, and it is not called again.
 */
import { Observable, type Subscription } from 'rxjs';
import type { InspectionEvent, Observer } from 'xstate';
import { TrainingOptionsError } from '../../lib/errors.ts';

/**
 * A caller's callback (`what` names it) that cannot take the training down by throwing: the first
 * error it throws fails the training (through `fail`), and it is not called again.
 */
export function guardCallback<E>(what: string, call: ((e: E) => void) | undefined, fail: (e: unknown) => void): (e: E) => void {
  let broken = false;
  return (e) => {
    if (broken || !call) return;
    try {
      call(e);
    } catch (error) {
      broken = true;
      fail(new TrainingOptionsError(`training: the ${what} threw ${describeError(error)}; training stopped`));
    }
  };
}

/** An inspection observer (a function or an Observer's `next`), guarded as {@link guardCallback}. */
export function guardInspection(
  inspect: Observer<InspectionEvent> | ((e: InspectionEvent) => void),
  fail: (e: unknown) => void,
): (e: InspectionEvent) => void {
  return guardCallback('inspection observer', typeof inspect === 'function' ? inspect : inspect.next?.bind(inspect), fail);
}

/**
 * `source`, whose subscribers' callbacks cannot take the process down by throwing (rxjs would
 * rethrow such an error asynchronously, where nothing catches it): the callbacks given to
 * `subscribe` are wrapped before rxjs sees them, and the first error one throws fails the
 * training (through `fail`) and ends that subscription. (Callbacks at the end of a `pipe(...)`
 * chain are rxjs's to wrap: there a throw is reported as rxjs reports it.)
 */
class GuardedObservable<T> extends Observable<T> {
  constructor(
    private readonly inner: Observable<T>,
    private readonly fail: (e: unknown) => void,
  ) {
    super((subscriber) => inner.subscribe(subscriber));
  }

  override subscribe(observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null): Subscription {
    let subscription: Subscription | null = null,
      broken = false;
    const guard = <A extends unknown[]>(what: string, f: ((...args: A) => void) | undefined) =>
      f &&
      ((...args: A) => {
        if (broken) return;
        try {
          f(...args);
        } catch (error) {
          broken = true;
          subscription?.unsubscribe();
          this.fail(new TrainingOptionsError(`training: a metrics$ subscriber's ${what} threw ${describeError(error)}; training stopped`));
        }
      });
    const o = typeof observerOrNext === 'function' ? { next: observerOrNext } : (observerOrNext ?? {});
    subscription = this.inner.subscribe({
      next: guard('next', o.next?.bind(o)),
      error: guard('error', o.error?.bind(o)) ?? (() => {}),
      complete: guard('complete', o.complete?.bind(o)),
    });
    if (broken) subscription.unsubscribe();
    return subscription;
  }
}

export function guardSubscribers<T>(source: Observable<T>, fail: (e: unknown) => void): Observable<T> {
  return new GuardedObservable(source, fail);
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
