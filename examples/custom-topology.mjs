import { binaryAddition, createTraining, defineTopology } from 'dni-actors';

const topology = defineTopology({
  inputs: 24,
  batch: 10,
  lr: 1,                                     // default learning rate of every layer (plain SGD)
  synthesizer: { lr: 0.003 },                // defaults of every synthesizer
  layers: [
    { units: 128, activation: 'sigmoid', decoupled: true },                                         // DNI
    { units: 64, activation: 'tanh', decoupled: true, synthesizer: { conditioned: true, delay: 1 } }, // cDNI, refits lag 1 batch
    { units: 12, activation: 'sigmoid', lr: 0.5 },                                                  // backprop
  ],
});

const training = createTraining({ topology, data: binaryAddition(1000, 12), steps: 20_000, scheduler: 'async' });
training.metrics$.subscribe((m) => {
  if ((m.batch + 1) % 5000 === 0) {
    const loss = m.loss.toFixed(3), synthesizerLoss = m.synthesizerLoss.toFixed(3), accuracy = m.accuracy.toFixed(2);
    console.log(`batch ${m.batch + 1}: loss ${loss}, synthesizer loss ${synthesizerLoss}, bit accuracy ${accuracy}`);
  }
});
const { params, losses } = await training.run(); // params['layer0.W'] (24x128), params['synth1.N'] (12x64), …
console.log(`final loss ${losses.at(-1)?.toFixed(3)}, ${Object.keys(params).length} parameter tensors`);

// Prints (the data and the initial weights are seeded, so these are the same on every machine):
// batch 5000: loss 1.300, synthesizer loss 0.095, bit accuracy 0.60
// batch 10000: loss 1.240, synthesizer loss 0.360, bit accuracy 0.62
// batch 15000: loss 1.196, synthesizer loss 0.555, bit accuracy 0.64
// batch 20000: loss 1.132, synthesizer loss 0.487, bit accuracy 0.67
// final loss 1.132, 11 parameter tensors
