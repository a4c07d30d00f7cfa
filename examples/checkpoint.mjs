import { binaryAddition, defineTopology, train, trainWithRestarts } from 'dni-actors';

const topology = defineTopology({
  inputs: 24,
  batch: 10,
  lr: 1,
  synthesizer: { lr: 0.003, conditioned: true },
  layers: [
    { units: 128, activation: 'sigmoid', decoupled: true },
    { units: 12, activation: 'sigmoid' },
  ],
});
const data = binaryAddition(1000, 12);
const steps = 3000;

// an unbroken run on worker threads, saving a checkpoint every 1,000 steps (the last one before step 2,000)
const unbroken = await train({ topology, data, steps, scheduler: 'worker', checkpoint: { path: 'run.ckpt', every: 1000 } });
// another process could pick it up: it goes on from step 2,000 exactly as if never stopped
const resumed = await train({ topology, data, steps, resume: 'run.ckpt' });
// and a run that restarts a dead worker from its last checkpoint (none dies here)
const checkpoint = { path: 'restarts.ckpt', every: 1000 };
const restarted = await trainWithRestarts({ topology, data, steps, scheduler: 'worker', checkpoint });

console.log(`final loss ${unbroken.losses.at(-1)?.toFixed(4)}`);
for (const [how, run] of Object.entries({ 'resumed from run.ckpt': resumed, 'with restarts': restarted })) {
  const same = Object.entries(unbroken.params).every(([key, m]) => m.data.every((v, i) => v === run.params[key]?.data[i]));
  console.log(`${how}: ${same ? 'the same' : 'different'} parameters, bit for bit`);
}

// Prints (the data and the initial weights are seeded, so these are the same on every machine):
// final loss 1.2851
// resumed from run.ckpt: the same parameters, bit for bit
// with restarts: the same parameters, bit for bit
