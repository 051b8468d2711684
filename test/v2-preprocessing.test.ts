import { expect } from 'chai';
import { smartTurnV2 } from '../ts/model/v2.js';
import { maxAbsDiff, noise, runReference, tones } from './reference/run.js';

const SR = 16_000;
const WINDOW = 16 * SR;

const CASES: ReadonlyArray<readonly [string, Float32Array]> = [
  ['one sample', Float32Array.of(0.3)],
  ['1 s of silence', new Float32Array(SR)],
  ['0.5 s of quiet noise', noise(SR / 2, 1e-3, 1)],
  ['3 s of tones', tones(3 * SR, [[220, 0.4], [3000, 0.1]])],
  ['clipped audio', tones(2 * SR, [[150, 3]]).map((v) => Math.max(-1, Math.min(1, v)))],
  ['int16-scale noise with an offset', noise(5 * SR, 5000, 2).map((v) => v + 1200)],
  ['exactly 16 s', noise(WINDOW, 0.2, 3)],
  ['20 s (keeps the last 16 s)', noise(20 * SR, 0.2, 4)],
];

function prepared(samples: Float32Array): { values: Float32Array; mask: BigInt64Array } {
  const batch = { size: 2, inputs: { input_values: new Float32Array(2 * WINDOW).fill(Number.NaN), attention_mask: new BigInt64Array(2 * WINDOW).fill(7n) } };
  smartTurnV2.prepare(samples).write(batch, 1); // row 1: the offset must be honoured too
  return { values: batch.inputs.input_values.subarray(WINDOW), mask: batch.inputs.attention_mask.subarray(WINDOW) };
}

describe('smart-turn v2 preprocessing against Wav2Vec2FeatureExtractor (test/reference/wav2vec2_features.py)', () => {
  let reference: Buffer;
  const stride = WINDOW * 4 + WINDOW * 8;

  before(function () {
    this.timeout(60_000);
    reference = runReference('wav2vec2_features.py', CASES.map(([, x]) => x));
    expect(reference.length).to.equal(CASES.length * stride);
  });

  CASES.forEach(([name, samples], i) => {
    it(`input_values to 1e-5 (relative to their scale) and attention_mask exactly: ${name}`, () => {
      const base = reference.byteOffset + i * stride;
      const values = new Float32Array(reference.buffer.slice(base, base + WINDOW * 4));
      const mask = new BigInt64Array(reference.buffer.slice(base + WINDOW * 4, base + stride));
      const ours = prepared(samples);
      const scale = values.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
      expect(maxAbsDiff(ours.values, values) / scale).to.be.at.most(1e-5);
      expect(ours.mask.every((m, j) => m === mask[j])).to.equal(true);
    });
  });

  it('would notice padding on the left instead of the right (the test can fail)', () => {
    const i = 3;
    const base = reference.byteOffset + i * stride;
    const values = new Float32Array(reference.buffer.slice(base, base + WINDOW * 4));
    const ours = prepared(CASES[i]![1]).values;
    const n = CASES[i]![1].length;
    const leftPadded = new Float32Array(WINDOW);
    leftPadded.set(ours.subarray(0, n), WINDOW - n);
    expect(maxAbsDiff(leftPadded, values)).to.be.above(0.1);
  });
});
