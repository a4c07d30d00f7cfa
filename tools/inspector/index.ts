/**
 * `dni-actors/inspect`: the inspector's pages from your own code. {@link serveLiveInspector}: the
 * live page (`--inspect` in the demos), the actors and the metrics of trainings as they run;
 * {@link serveInspector}: the trace viewer (`npx dni-actors inspect run.jsonl`) for a recorded trace.
 * Both serve this machine only (127.0.0.1), and nothing on the pages comes from the network.
 * {@link attachStatelyInspector}: the actors in Stately's inspector instead; {@link combineInspections}
 * gives a training several (a trace recorder from the root, and one of these); {@link createTraceRelay}
 * and {@link toTraceEvent} turn xstate's inspection events into trace lines of your own.
 */
export {
  serveLiveInspector,
  type LiveInspector,
  type LiveInspectorOptions,
  type LiveRun,
  type LiveState,
  type LiveRunState,
  type LiveActor,
  type LiveSeries,
} from './live.ts';
export { serveInspector, type InspectorServer, type InspectorServerOptions } from './server.ts';
export { attachStatelyInspector, type StatelyInspector, type StatelyInspectorOptions } from '../../actors/inspect/stately.ts';
export { combineInspections, createTraceRelay, toTraceEvent, type TraceOptions } from '../../actors/inspect/inspection.ts';
