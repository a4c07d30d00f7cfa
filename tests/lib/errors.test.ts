/** Error classes by kind, all DniErrors, exported from the package's index. */
import { describe, expect, it } from 'vitest';
import * as api from '../../index.ts';
import { validateDataset } from '../../lib/data.ts';
import { binaryAddition } from '../../lib/datasets/binaryAddition.ts';
import {
  CheckpointError,
  DataError,
  DivergenceError,
  DniError,
  StageError,
  TopologyError,
  TrainingOptionsError,
} from '../../lib/errors.ts';
import { evaluate } from '../../lib/evaluate.ts';
import { scaleLearningRates } from '../../lib/lr-schedule.ts';
import { zeros } from '../../lib/matrix.ts';
import { initParameters } from '../../lib/params.ts';
import { defineTopology } from '../../lib/topology.ts';

const topology = defineTopology({ inputs: 24, batch: 10, layers: [{ units: 12, activation: 'sigmoid' }] });

describe('error classes', () => {
  it('each kind is a DniError with its own name, and the index exports them all', () => {
    const errors = [
      new TopologyError('t'),
      new DataError('d'),
      new TrainingOptionsError('o'),
      new DivergenceError('layer:0', 3, 'h', 'h[0, 0] = NaN'),
      new CheckpointError('run.ckpt', 'truncated'),
      new StageError(1, ['layer:1'], 'exited'),
    ];
    for (const e of errors) {
      expect(e).toBeInstanceOf(DniError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(e.constructor.name);
      expect(api[e.name as keyof typeof api]).toBe(e.constructor);
    }
    expect(api.DniError).toBe(DniError);
    expect(new DataError('d')).not.toBeInstanceOf(TopologyError);
  });

  it('bad data is a DataError, in training and in evaluate', () => {
    const data = binaryAddition(20, 12);
    expect(() => validateDataset({ x: zeros(20, 23), y: data.y }, topology)).toThrow(DataError);
    expect(() => validateDataset({ x: zeros(20, 23), y: data.y }, topology)).toThrow('data: x is 20x23 but layer 0 takes 24 inputs');
    expect(() => validateDataset({ x: data.x, y: zeros(19, 12) }, topology)).toThrow(DataError);
    expect(() => evaluate(initParameters(topology, 1), topology, { x: zeros(20, 23), y: data.y })).toThrow(DataError);
  });

  it('a bad learning-rate factor is a TrainingOptionsError', () => {
    expect(() => scaleLearningRates(topology, -1)).toThrow(TrainingOptionsError);
    expect(() => scaleLearningRates(topology, Number.NaN)).toThrow('lr schedule: the factor must be finite and >= 0, got NaN');
  });
});
