import { readFileSync } from 'node:fs';
import { binaryAddition, createTraceRecorder, createTraining, defineTopology, parseTrace } from 'dni-actors';

const topology = defineTopology({
  inputs: 24,
  batch: 10,
  lr: 1,
  synthesizer: { lr: 0.003 },
  layers: [
    { units: 128, activation: 'sigmoid', decoupled: true },
    { units: 12, activation: 'sigmoid' },
  ],
});

const recorder = createTraceRecorder({ file: 'trace.jsonl', sample: 10 }); // batches 0, 10, 20, …
const training = createTraining({ topology, data: binaryAddition(1000, 12), steps: 30, inspect: recorder.inspect, relay: recorder.relay });
await training.run();
await recorder.close();

// a line per event an actor received and per state it took; here, the states taken in batch 10
const trace = parseTrace(readFileSync('trace.jsonl', 'utf8'));
for (const line of trace.filter((l) => l.batch === 10 && l.type === '@xstate.snapshot')) {
  console.log(`${line.actor.padEnd(13)} ${String(line.event?.type).padEnd(18)} → ${String(line.state)}`);
}
console.log(`${trace.length} lines in trace.jsonl`);

// Prints (the same on every machine):
// layer:0       FORWARD            → awaitingSyntheticGradient
// layer:1       FORWARD            → awaitingGradient
// synthesizer:0 PREDICT            → ready
// head          FORWARD            → ready
// layer:0       SYNTHETIC_GRADIENT → ready
// layer:1       GRADIENT           → ready
// synthesizer:0 REFIT              → ready
// 81 lines in trace.jsonl
