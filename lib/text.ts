/** Words for what the demos and CLIs print. */

/**
 * `n` and its noun, in the singular for exactly one: `1 epoch`, `2 epochs`, `0 steps`.
 * `shown` is how to write the number (e.g. `n.toLocaleString('en-US')`); `many` an irregular plural.
 *
 * @example
 * plural(1, 'epoch'); // '1 epoch'
 * plural(3, 'batch', 'batches'); // '3 batches'
 */
export function plural(n: number, noun: string, many = `${noun}s`, shown: string = String(n)): string {
  return `${shown} ${n === 1 ? noun : many}`;
}
