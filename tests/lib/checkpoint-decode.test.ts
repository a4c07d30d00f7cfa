/**
 * Checkpoint decoding hygiene: a checkpoint whose payload was edited and resealed (its length and
 * SHA-256 recomputed, so it passes the checksum) is still refused, by name, when anything in it is
 * not what its own topology implies; checkpoints are read within a size limit; the data a
 * training was saved with is fingerprinted, and resuming on other data is refused.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, rmSync, openSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../actors/trainer/training.ts';
import { CHECKPOINT_VERSION, decodeCheckpoint, encodeCheckpoint, readCheckpoint } from '../../lib/checkpoint/checkpoint.ts';
import { CheckpointError } from '../../lib/errors.ts';
import { datasetFingerprint } from '../../lib/fingerprint.ts';
import { fromArray } from '../../lib/matrix.ts';
import { withOptimizers } from '../../bench/fuzz/_run.ts';
import { loadCase } from '../../lib/reference.ts';
import { tinyCase } from '../../bench/fuzz/_cases.ts';

const dir = mkdtempSync(join(tmpdir(), 'dni-ckpt-decode-'));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer).toString('base64');

/** Edit the payload, then recompute the header's length and SHA-256 so the file passes the checksum. */
function reseal(text: string, edit: (payload: any, header: any) => void): string {
  const nl = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, nl)),
    payload = JSON.parse(text.slice(nl + 1));
  edit(payload, header);
  const body = JSON.stringify(payload);
  return `${JSON.stringify({ ...header, bytes: Buffer.byteLength(body), sha256: sha256(body) })}\n${body}\n`;
}

const base = loadCase(tinyCase(7, { conditioned: true, delay: 1, steps: 12 }));
let sgd = '',
  adam = '';
/** the uninterrupted SGD run's final parameters, which a resumed run must reach bit for bit */
let sgdFinal: Record<string, Float32Array> = {};

beforeAll(async () => {
  const a = join(dir, 'sgd.ckpt'),
    b = join(dir, 'adam.ckpt');
  const full = await train({ topology: base.topology, data: base.data, params: base.initial, steps: 12, checkpoint: { path: a, at: [5] } });
  sgdFinal = Object.fromEntries(Object.entries(full.params).map(([k, m]) => [k, Float32Array.from(m.data)]));
  const adamTopology = withOptimizers(base.topology);
  await train({ topology: adamTopology, data: base.data, params: base.initial, steps: 12, checkpoint: { path: b, at: [5] } });
  sgd = readFileSync(a, 'utf8');
  adam = readFileSync(b, 'utf8');
});

describe('a resealed checkpoint is checked against its own topology', () => {
  it('the untouched files decode, and resealing without an edit changes nothing', () => {
    expect(decodeCheckpoint(sgd).step).toBe(5);
    expect(decodeCheckpoint(adam).optimizers['layer:0'].moments).toHaveLength(4);
    expect(reseal(sgd, () => {})).toBe(sgd);
  });

  const cases: [string, 'sgd' | 'adam', (p: any, h: any) => void, RegExp][] = [
    // parameters
    [
      'swapped shape',
      'sgd',
      (p) => Object.assign(p.params['layer0.W'], { rows: 4, cols: 3 }),
      /parameter 'layer0\.W' is 4x3, its topology needs 3x4/,
    ],
    [
      'extra parameter',
      'sgd',
      (p) => (p.params['layer1.N'] = { rows: 1, cols: 1, data: f32([0]) }),
      /parameter 'layer1\.N' is not a parameter of its topology/,
    ],
    ['missing parameter', 'sgd', (p) => delete p.params['synth0.N'], /parameter 'synth0\.N' is missing/],
    ['rows as a string', 'sgd', (p) => (p.params['layer0.b'].rows = '1'), /parameter 'layer0\.b' rows is "1", expected an integer/],
    [
      'too few values',
      'sgd',
      (p) => (p.params['layer0.b'].data = f32([1, 2, 3])),
      /parameter 'layer0\.b' data has 3 values, expected 4 \(1x4\)/,
    ],
    [
      'NaN encoded',
      'sgd',
      (p) => (p.params['layer1.W'].data = f32([0, 0, 0, NaN, 0, 0, 0, 0])),
      /parameter 'layer1\.W' data holds NaN at element 3/,
    ],
    [
      'not base64',
      'sgd',
      (p) => (p.params['layer0.b'].data = '!!!!' + p.params['layer0.b'].data.slice(4)),
      /parameter 'layer0\.b' data is not base64/,
    ],
    [
      'data as numbers',
      'sgd',
      (p) => (p.params['layer0.b'].data = [0, 0, 0, 0]),
      /parameter 'layer0\.b' data is \[0,0,0,0\], expected base64 text/,
    ],
    ['extra key in a parameter', 'sgd', (p) => (p.params['layer0.b'].dtype = 'f32'), /parameter 'layer0\.b' has an unknown key 'dtype'/],
    // step and top level
    ['negative step', 'sgd', (p) => (p.step = -1), /step is -1, expected an integer >= 0/],
    ['step as a string', 'sgd', (p) => (p.step = '5'), /step is "5", expected an integer >= 0/],
    ['fractional step', 'sgd', (p) => (p.step = 5.5), /step is 5\.5, expected an integer/],
    ['unknown top-level key', 'sgd', (p) => (p.comment = 'hi'), /the payload has an unknown key 'comment'/],
    ['no topology', 'sgd', (p) => delete p.topology, /the payload lacks 'topology'/],
    ['malformed topology', 'sgd', (p) => (p.topology = 'chain'), /its topology is not usable/],
    [
      'topology with a negative batch',
      'sgd',
      (p) => (p.topology.batch = -2),
      /its topology is not usable: graph: batch must be a positive integer, got -2/,
    ],
    // optimisers
    [
      'unknown optimiser kind',
      'adam',
      (p) => (p.optimizers['layer:0'].kind = 'adamw'),
      /optimizer 'layer:0' kind is "adamw", its topology has adam/,
    ],
    [
      'optimiser of another kind',
      'sgd',
      (p) => (p.optimizers['layer:0'].kind = 'adam'),
      /optimizer 'layer:0' kind is "adam", its topology has sgd/,
    ],
    [
      'negative optimiser step',
      'adam',
      (p) => (p.optimizers['layer:1'].step = -3),
      /optimizer 'layer:1' step is -3, expected an integer >= 0/,
    ],
    [
      'moments of the wrong length',
      'adam',
      (p) => (p.optimizers['layer:0'].moments[1] = f32([1, 2])),
      /optimizer 'layer:0' moment 1 has 2 values/,
    ],
    [
      'a moment missing',
      'adam',
      (p) => p.optimizers['layer:0'].moments.pop(),
      /optimizer 'layer:0' has 3 moment buffers, its topology needs 4/,
    ],
    [
      'momentum with a moment too many',
      'adam',
      (p) => p.optimizers['synthesizer:0'].moments.push(f32([0])),
      /optimizer 'synthesizer:0' has 4 moment buffers, its topology needs 3/,
    ],
    [
      'moments for plain SGD',
      'sgd',
      (p) => (p.optimizers['layer:0'].moments = [f32([0, 0, 0, 0])]),
      /optimizer 'layer:0' has 1 moment buffers, its topology needs 0/,
    ],
    [
      'extra optimiser',
      'sgd',
      (p) => (p.optimizers['layer:9'] = { kind: 'sgd', step: 0, moments: [] }),
      /optimizer 'layer:9' is not an actor of its topology/,
    ],
    ['missing optimiser', 'sgd', (p) => delete p.optimizers['synthesizer:0'], /optimizer 'synthesizer:0' is missing/],
    [
      'NaN in a moment',
      'adam',
      (p) => (p.optimizers['layer:1'].moments[0] = f32([0, 0, 0, 0, 0, 0, 0, Infinity])),
      /optimizer 'layer:1' moment 0 holds Infinity at element 7/,
    ],
    // pending refits
    [
      'pending batch numbers shifted',
      'sgd',
      (p) => p.synthesizers['synthesizer:0'].pending.forEach((q: any) => (q.batch += 1)),
      /synthesizer 'synthesizer:0' pending\[0\] is batch 4, expected 3/,
    ],
    [
      'pending batches swapped',
      'sgd',
      (p) => p.synthesizers['synthesizer:0'].pending.reverse(),
      /synthesizer 'synthesizer:0' pending\[0\] is batch 4, expected 3/,
    ],
    [
      'nextPrediction not the step',
      'sgd',
      (p) => (p.synthesizers['synthesizer:0'].nextPrediction = 4),
      /synthesizer 'synthesizer:0' nextPrediction is 4, expected the step 5/,
    ],
    [
      'more pending refits than the delay allows',
      'sgd',
      (p) => {
        const s = p.synthesizers['synthesizer:0'];
        s.nextRefit = 2;
        s.pending.unshift({ ...s.pending[0], batch: 2 });
      },
      /synthesizer 'synthesizer:0' has 3 pending refits, delay 1 allows at most 2/,
    ],
    [
      'pending count does not match the batches',
      'sgd',
      (p) => p.synthesizers['synthesizer:0'].pending.pop(),
      /synthesizer 'synthesizer:0' has 1 pending refits for batches 3\.\.4/,
    ],
    [
      'pending h of the wrong size',
      'sgd',
      (p) => (p.synthesizers['synthesizer:0'].pending[0].h = f32([1, 2, 3])),
      /synthesizer 'synthesizer:0' pending\[0\] h has 3 values, expected 8 \(2x4\)/,
    ],
    [
      'labels missing for a conditioned synthesizer',
      'sgd',
      (p) => (p.synthesizers['synthesizer:0'].pending[1].y = null),
      /synthesizer 'synthesizer:0' pending\[1\] y is null, expected 4 values \(2x2\)/,
    ],
    [
      'NaN in a target',
      'sgd',
      (p) => (p.synthesizers['synthesizer:0'].pending[1].target = f32([0, 0, 0, 0, 0, NaN, 0, 0])),
      /synthesizer 'synthesizer:0' pending\[1\] target holds NaN at element 5/,
    ],
    [
      'extra synthesizer',
      'sgd',
      (p) => (p.synthesizers['synthesizer:1'] = p.synthesizers['synthesizer:0']),
      /synthesizer 'synthesizer:1' is not an actor of its topology/,
    ],
    [
      'nextRefit as a string',
      'sgd',
      (p) => (p.synthesizers['synthesizer:0'].nextRefit = '3'),
      /synthesizer 'synthesizer:0' nextRefit is "3", expected an integer/,
    ],
    // history and rng
    ['a loss too few', 'sgd', (p) => p.history.losses.pop(), /history losses has 4 values, expected 5 \(one per step\)/],
    ['a loss as a string', 'sgd', (p) => (p.history.losses[2] = '0.5'), /history losses\[2\] is "0\.5", expected a finite number/],
    ['a null accuracy', 'sgd', (p) => (p.history.accuracies[0] = null), /history accuracies\[0\] is null, expected a finite number/],
    [
      'synthesizer losses of another count',
      'sgd',
      (p) => p.history.synthesizerLosses.push([0, 0, 0, 0, 0]),
      /history synthesizerLosses has 2 lists, expected 1 \(one per synthesizer\)/,
    ],
    ['rng of 3 words', 'sgd', (p) => (p.rng = { s: [1, 2, 3], spare: null }), /rng s must be 4 integers in \[0, 2\^32\)/],
    ['rng all zero', 'sgd', (p) => (p.rng = { s: [0, 0, 0, 0], spare: null }), /rng s must not be all zero/],
    [
      'rng spare as a string',
      'sgd',
      (p) => (p.rng = { s: [1, 2, 3, 4], spare: 'x' }),
      /rng spare is "x", expected null or a finite number/,
    ],
    ['a malformed fingerprint', 'sgd', (p) => (p.dataFingerprint = 'md5:abc'), /dataFingerprint is "md5:abc", expected null or sha256:/],
  ];

  it.each(cases)('%s', (_, which, edit, message) => {
    const text = reseal(which === 'sgd' ? sgd : adam, edit);
    expect(() => decodeCheckpoint(text, 'x.ckpt')).toThrow(CheckpointError);
    expect(() => decodeCheckpoint(text, 'x.ckpt')).toThrow(message);
  });

  it('an unknown header key is refused; a version 1 file (without the fingerprint) still decodes', () => {
    expect(() =>
      decodeCheckpoint(
        reseal(sgd, (_, h) => (h.note = 'x')),
        'x.ckpt',
      ),
    ).toThrow(/the header has an unknown key 'note'/);
    const v1 = reseal(sgd, (p, h) => {
      delete p.dataFingerprint;
      h.version = 1;
    });
    const s = decodeCheckpoint(v1);
    expect(s.step).toBe(5);
    expect(s.dataFingerprint).toBeNull();
    // a version 1 payload with the version 2 field is not version 1
    expect(() => decodeCheckpoint(reseal(sgd, (_, h) => (h.version = 1)))).toThrow(/the payload has an unknown key 'dataFingerprint'/);
  });
});

describe('data fingerprints', () => {
  it('the same bytes and shapes give the same fingerprint; one bit or a shape changes it', () => {
    const x = fromArray(2, 3, [1, 2, 3, 4, 5, 6]),
      y = fromArray(2, 1, [0, 1]);
    const f = datasetFingerprint({ x, y });
    expect(f).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(datasetFingerprint({ x: fromArray(2, 3, [1, 2, 3, 4, 5, 6]), y: fromArray(2, 1, [0, 1]) })).toBe(f);
    expect(datasetFingerprint({ x: fromArray(3, 2, [1, 2, 3, 4, 5, 6]), y: fromArray(2, 1, [0, 1]) })).not.toBe(f);
    const z = fromArray(2, 3, [1, 2, 3, 4, 5, 6]);
    new Uint32Array(z.data.buffer, z.data.byteOffset, 6)[4] ^= 1; // the lowest bit of one value
    expect(datasetFingerprint({ x: z, y })).not.toBe(f);
    expect(datasetFingerprint({ x: y, y: x })).not.toBe(f);
  });

  it('a checkpoint records the data it was made with, and resuming with other data of the same shape is refused', async () => {
    const s = decodeCheckpoint(sgd);
    expect(CHECKPOINT_VERSION).toBe(2);
    expect(s.dataFingerprint).toBe(datasetFingerprint(base.data));
    const path = join(dir, 'sgd.ckpt');
    const other = loadCase(tinyCase(8, { conditioned: true, delay: 1, steps: 12 })).data; // same shapes, other numbers
    await expect(train({ topology: base.topology, data: other, steps: 12, resume: path })).rejects.toThrow(
      new RegExp(
        /checkpoint .*sgd\.ckpt: made with other data: /.source +
          /the data given has fingerprint sha256:[0-9a-f]{12}…, the checkpoint's is sha256:[0-9a-f]{12}…/.source,
      ),
    );
    // the same data resumes, to the uninterrupted run's parameters (and a version 1 file, with no fingerprint, resumes with any data)
    const resumed = await train({ topology: base.topology, data: base.data, steps: 12, resume: path });
    for (const [k, want] of Object.entries(sgdFinal)) expect(resumed.params[k].data, k).toEqual(want);
    const v1 = join(dir, 'v1.ckpt');
    writeFileSync(
      v1,
      reseal(sgd, (p, h) => (delete p.dataFingerprint, (h.version = 1))),
    );
    const other1 = await train({ topology: base.topology, data: other, steps: 12, resume: v1 });
    expect(other1.losses.length).toBe(12);
    expect(Array.from(other1.losses.subarray(5)).every((l) => Number.isFinite(l) && l > 0)).toBe(true);
  });

  it('encodeCheckpoint writes the fingerprint it is given, null when it has none', () => {
    const s = decodeCheckpoint(sgd);
    expect(decodeCheckpoint(encodeCheckpoint({ ...s, dataFingerprint: null })).dataFingerprint).toBeNull();
    expect(encodeCheckpoint(s)).toBe(sgd);
  });
});

describe('checkpoints are read within a limit', () => {
  it('/dev/zero and a 3 GB file are refused at once, as CheckpointErrors naming the file and the limit', () => {
    const t0 = performance.now();
    expect(() => readCheckpoint('/dev/zero')).toThrow(CheckpointError);
    expect(() => readCheckpoint('/dev/zero')).toThrow(/checkpoint \/dev\/zero: is a character device, not a regular file/);
    const huge = join(dir, 'huge.ckpt');
    closeSync(openSync(huge, 'w'));
    truncateSync(huge, 3e9);
    expect(() => readCheckpoint(huge)).toThrow(
      /huge\.ckpt: is 2\.8 GiB .* larger than the limit of 256 MiB .* for a checkpoint \(set DNI_MAX_CHECKPOINT_BYTES=BYTES to raise it\)/,
    );
    rmSync(huge);
    expect(() => readCheckpoint(join(dir, 'sgd.ckpt'), { maxBytes: 100 })).toThrow(/limit of 100 bytes/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
