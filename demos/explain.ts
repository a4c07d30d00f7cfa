/**
 * What the binary-addition demo says under its table, so that no row near chance (50% bit
 * accuracy: a coin flip per bit) goes unexplained.
 */
import { plural } from '../lib/text.ts';

/** A method's row: its bit accuracy over the last epoch, as a fraction. */
export interface MethodResult {
  bit_accuracy: number;
}

const CHANCE = 0.6; // below this, a row reads as chance
const LEARNED = 0.9;

/**
 * Lines that explain the rows that have not learned: plain DNI's plateau (its cause, measured: with
 * an interface after layer 0 alone DNI learns this task; with one after the last hidden layer it
 * stays at chance), and methods that only need more steps.
 *
 * @example
 * explainResults({ backprop: { bit_accuracy: 0.999 }, dni: { bit_accuracy: 0.507 } }, 60_000)
 */
export function explainResults(results: Record<string, MethodResult>, steps: number): string[] {
  const lines: string[] = [];
  const dni = results.dni;
  if (dni && dni.bit_accuracy < CHANCE) {
    lines.push(
      'DNI stays near chance here: the synthesizer after the last hidden layer must predict a gradient that depends on ' +
        "the label (the sum's bits) from that layer's output alone, and does not learn to (with an interface after " +
        'layer 0 only, DNI learns this task). cDNI gives the synthesizers the label too, and learns.',
    );
  }
  const slow = Object.entries(results)
    .filter(([name, r]) => name !== 'dni' && r.bit_accuracy < LEARNED)
    .map(([name]) => (name === 'cdni' ? 'cDNI' : name));
  if (slow.length) {
    lines.push(
      `${slow.join(' and ')} ${slow.length > 1 ? 'have' : 'has'} not learned the task yet in ${plural(steps, 'step')}` +
        `${slow.includes('cDNI') ? ' (cDNI takes longer than backprop: its synthesizers must learn the gradients first)' : ''}; ` +
        'give more --steps (the default is 60000).',
    );
  }
  return lines;
}
