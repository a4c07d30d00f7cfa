/**
 * How every machine sends: a port is an outgoing route and the rxjs edge that carries it, and
 * `send` turns a tensor into the receiving actor's event on it.
 */
import { lambdaAt } from '../../lib/graph.ts';
import type { Matrix } from '../../lib/matrix.ts';
import { type Edge, type NetworkEvent, type Route, eventOf } from './events.ts';

/** An outgoing route and the edge that carries it. */
export interface Port {
  readonly route: Route;
  readonly edge: Edge<NetworkEvent>;
}

/** Send `tensor` for `batch` on a port, as the receiving actor's event. */
export function send(port: Port, batch: number, tensor: Matrix): void {
  port.edge.next(eventOf(port.route, batch, tensor));
}

/** Where an edge mixes the true gradient in: the consumer's share to the source too, while λ is above 0. */
export interface MixedPort {
  readonly port: Port;
  readonly mixing: { readonly lambda: number; readonly warmup: number };
}

/** Send the true gradient of `batch` on a mixed edge, if its λ is above 0 at that batch. */
export function sendMixed(m: MixedPort | null | undefined, batch: number, tensor: Matrix): void {
  if (m && lambdaAt(m.mixing, batch) > 0) send(m.port, batch, tensor);
}
