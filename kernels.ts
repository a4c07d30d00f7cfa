/**
 * dni-actors/kernels: the compute backends. A training runs on the WebAssembly kernels with fused
 * multiply-adds where the engine has them, else the plain WebAssembly ones, else the TypeScript ones
 * (said once on stderr); `DNI_BACKEND=typescript|wasm|wasm-fma` chooses. Every backend gives the same
 * bits. {@link release} gives a matrix's storage back to the backend that allocated it.
 *
 * @example
 * import { backend, backendByName, useBackend } from 'dni-actors/kernels';
 * useBackend(backendByName('typescript'));
 * console.log(backend().name); // typescript
 */
export { backend, useBackend, typescriptBackend, type KernelBackend } from './lib/kernels/kernels.ts';
export {
  autoBackend,
  backendByName,
  wasmBackend,
  wasmFmaBackend,
  wasmFmaUnavailableReason,
  wasmUnavailableReason,
} from './lib/kernels/backend-choice.ts';
export { release } from './lib/matrix.ts';
