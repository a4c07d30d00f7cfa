/**
 * Activations, each with its derivative written from the *output* h (what a layer keeps):
 * sigmoid' = h(1-h), tanh' = 1-h², relu' = [h>0], linear' = 1.
 */
export const ACTIVATIONS = ['sigmoid', 'tanh', 'relu', 'linear'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export function isActivation(name: unknown): name is Activation {
  return typeof name === 'string' && (ACTIVATIONS as readonly string[]).includes(name);
}

/** h = f(z), in place. Returns the sum of h (a non-finite sum means a non-finite element). */
export function activateInPlace(kind: Activation, z: Float32Array): number {
  let sum = 0;
  switch (kind) {
    case 'sigmoid':
      for (let i = 0; i < z.length; i++) sum += z[i] = 1 / (1 + Math.exp(-z[i]));
      break;
    case 'tanh':
      for (let i = 0; i < z.length; i++) sum += z[i] = Math.tanh(z[i]);
      break;
    case 'relu':
      for (let i = 0; i < z.length; i++) sum += z[i] = z[i] > 0 ? z[i] : 0;
      break;
    case 'linear':
      for (let i = 0; i < z.length; i++) sum += z[i];
      break;
  }
  return sum;
}

/** out = g * f'(h), element-wise (`out` may alias `g`). */
export function activationGrad(kind: Activation, h: Float32Array, g: Float32Array, out: Float32Array): void {
  switch (kind) {
    case 'sigmoid':
      for (let i = 0; i < h.length; i++) out[i] = g[i] * (h[i] * (1 - h[i]));
      break;
    case 'tanh':
      for (let i = 0; i < h.length; i++) out[i] = g[i] * (1 - h[i] * h[i]);
      break;
    case 'relu':
      for (let i = 0; i < h.length; i++) out[i] = h[i] > 0 ? g[i] : 0;
      break;
    case 'linear':
      if (out !== g) out.set(g);
      break;
  }
}
