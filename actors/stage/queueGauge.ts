/**
 * How many messages wait on each route (see events.ts): sent but not yet taken by the target,
 * counting the inputs a layer keeps for a later batch and a PREDICT a synthesizer holds. The
 * high-water marks show the backpressure: with delay d, at most d + 2 batches.
 */
export class QueueGauge {
  private readonly routes = new Map<string, RouteCounter>();

  /** The counter of one route (made once per route, so a delivery touches no map). */
  route(key: string): RouteCounter {
    let c = this.routes.get(key);
    if (!c) this.routes.set(key, (c = new RouteCounter()));
    return c;
  }

  observe(key: string, queued: number): void {
    this.route(key).observe(queued);
  }

  merge(other: Record<string, number>): void {
    for (const [k, v] of Object.entries(other)) this.observe(k, v);
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(
      [...this.routes]
        .filter(([, c]) => c.highWater > 0)
        .map(([k, c]) => [k, c.highWater])
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  }
}

export class RouteCounter {
  waiting = 0;
  highWater = 0;

  sent(): void {
    this.waiting++;
  }

  /** A message reaches its target, which already holds `backlog` earlier ones. */
  delivered(backlog: number): void {
    this.observe(this.waiting + backlog);
    this.waiting--;
  }

  observe(queued: number): void {
    if (queued > this.highWater) this.highWater = queued;
  }
}
