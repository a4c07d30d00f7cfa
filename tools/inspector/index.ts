/**
 * `dni-actors/inspect`: the inspector's pages from your own code. {@link serveLiveInspector}: the
 * live page (`--inspect` in the demos), the actors and the metrics of trainings as they run;
 * {@link serveInspector}: the trace viewer (`npx dni-actors inspect run.jsonl`) for a recorded trace.
 * Both serve this machine only (127.0.0.1), and nothing on the pages comes from the network.
 */
export { serveLiveInspector, type LiveInspector, type LiveInspectorOptions, type LiveRun, type LiveState, type LiveRunState, type LiveActor, type LiveSeries } from './live.ts';
export { serveInspector, type InspectorServer, type InspectorServerOptions } from './server.ts';
