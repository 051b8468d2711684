import { expect } from 'chai';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { FEATURES_PER_CLIP, N_SAMPLES, WhisperLogMel, whisperLogMel } from '../ts/features/mel.js';
import { familyForInputs } from '../ts/model/family.js';
import { FeaturePool } from '../ts/features/pool.js';
import { featureClip, prepareOnPool, smartTurnV3 } from '../ts/model/v3.js';
import { maxAbsDiff, noise, random, runReference, tones } from './reference/run.js';
import { READOUT_V3, readoutV3 } from './helpers/fixtures.js';

const SR = 16_000;

function clipped(): Float32Array {
  const x = tones(3 * SR, [[220, 2.5], [1330, 0.7]]);
  return x.map((v) => Math.max(-1, Math.min(1, v)));
}

function speechLike(): Float32Array {
  // Noise bursts under a slow envelope with silent gaps, at int16 scale: nothing pre-normalised.
  const n = 6 * SR;
  const x = noise(n, 3000, 7);
  for (let i = 0; i < n; i++) x[i]! *= Math.max(0, Math.sin((2 * Math.PI * i) / (1.5 * SR)));
  return x;
}

function impulses(): Float32Array {
  const x = new Float32Array(2 * SR);
  for (let i = 100; i < x.length; i += 4000) x[i] = 1;
  return x;
}

function chirp(): Float32Array {
  const n = 4 * SR;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    x[i] = 0.5 * Math.sin(2 * Math.PI * (50 * t + (7900 - 50) * t * t / (2 * 4)));
  }
  return x;
}

const CASES: ReadonlyArray<readonly [string, Float32Array]> = [
  ['1 s of silence', new Float32Array(SR)],
  ['8 s of silence', new Float32Array(N_SAMPLES)],
  ['one sample', Float32Array.of(0.25)],
  ['0.1 s of noise', noise(1600, 0.1, 1)],
  ['440 Hz tone, 3 s', tones(3 * SR, [[440, 0.3]])],
  ['tones at 1 kHz and 7.9 kHz', tones(5 * SR, [[1000, 0.2], [7900, 0.05]])],
  ['white noise, exactly 8 s', noise(N_SAMPLES, 0.5, 2)],
  ['quiet noise (1e-4)', noise(2 * SR, 1e-4, 3)],
  ['clipped audio', clipped()],
  ['speech-like bursts at int16 scale', speechLike()],
  ['impulses', impulses()],
  ['chirp 50 Hz → 7.9 kHz', chirp()],
  ['20 s of noise (keeps the last 8 s)', noise(20 * SR, 0.2, 4)],
  ['8 s + 1 sample, random walk', (() => { const r = random(5); const x = new Float32Array(N_SAMPLES + 1); let v = 0; for (let i = 0; i < x.length; i++) x[i] = v = 0.999 * v + (r() - 0.5) * 0.05; return x; })()],
];

describe('Whisper log-mel features (smart-turn v3)', () => {
  describe('bad calls', () => {
    it('refuses an output buffer too small for one clip', () => {
      const m = new WhisperLogMel();
      expect(() => m.compute(new Float32Array(10), new Float32Array(FEATURES_PER_CLIP - 1))).to.throw(RangeError, /64000/);
      expect(() => m.compute(new Float32Array(10), new Float32Array(FEATURES_PER_CLIP), 1)).to.throw(RangeError);
    });

    it('refuses a precomputed clip of the wrong size', () => {
      expect(() => featureClip(new Float32Array(80 * 801), 10)).to.throw(RangeError, /64000/);
    });
  });

  describe('against the NumPy/SciPy reference (test/reference/whisper_features.py)', () => {
    let reference: Float32Array;

    before(function () {
      this.timeout(60_000);
      const bytes = runReference('whisper_features.py', CASES.map(([, x]) => x));
      reference = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      expect(reference.length).to.equal(CASES.length * FEATURES_PER_CLIP);
    });

    CASES.forEach(([name, samples], i) => {
      it(`matches to 1e-4: ${name}`, () => {
        const ours = whisperLogMel(samples);
        const theirs = reference.subarray(i * FEATURES_PER_CLIP, (i + 1) * FEATURES_PER_CLIP);
        expect(maxAbsDiff(ours, theirs)).to.be.at.most(1e-4);
      });
    });

    it('would notice a dropped first frame instead of the last (the test can fail)', () => {
      const samples = CASES[4]![1];
      const ours = whisperLogMel(samples);
      const theirs = reference.subarray(4 * FEATURES_PER_CLIP, 5 * FEATURES_PER_CLIP);
      const shifted = new Float32Array(FEATURES_PER_CLIP);
      for (let m = 0; m < 80; m++) shifted.set(ours.subarray(m * 800 + 1, m * 800 + 800), m * 800);
      expect(maxAbsDiff(ours, theirs)).to.be.at.most(1e-4);
      expect(maxAbsDiff(shifted, theirs)).to.be.above(1e-2);
    });
  });

  describe('the v3 model family', () => {
    it('is the family of a model whose only input is input_features', () => {
      expect(familyForInputs(['input_features'])).to.equal(smartTurnV3);
      expect(smartTurnV3.inputs).to.deep.equal([{ name: 'input_features', type: 'float32', shape: [80, 800] }]);
    });

    it('keeps the last 8 s of a long clip', () => {
      const long = noise(12 * SR, 0.3, 9);
      const clip = smartTurnV3.prepare(long);
      expect(clip.usedSamples).to.equal(N_SAMPLES);
      const batch = { size: 1, inputs: { input_features: new Float32Array(FEATURES_PER_CLIP) } };
      clip.write(batch, 0);
      expect(maxAbsDiff(batch.inputs.input_features, whisperLogMel(long.subarray(4 * SR)))).to.equal(0);
    });

    it('writes a clip into its own row and clears a padding row to the features of silence', () => {
      const batch = { size: 3, inputs: { input_features: new Float32Array(3 * FEATURES_PER_CLIP).fill(Number.NaN) } };
      const samples = tones(SR, [[300, 0.5]]);
      smartTurnV3.prepare(samples).write(batch, 1);
      smartTurnV3.clear(batch, 0);
      smartTurnV3.clear(batch, 2);
      const rows = [0, 1, 2].map((r) => batch.inputs.input_features.subarray(r * FEATURES_PER_CLIP, (r + 1) * FEATURES_PER_CLIP));
      expect(maxAbsDiff(rows[1]!, whisperLogMel(samples))).to.equal(0);
      const silence = whisperLogMel(new Float32Array(0));
      expect(maxAbsDiff(rows[0]!, silence)).to.equal(0);
      expect(maxAbsDiff(rows[2]!, silence)).to.equal(0);
    });

    it('runs through the ONNX backend: readout-v3.onnx answers each row from its own features', async () => {
      const backend = await OnnxBackend.open({ modelPath: READOUT_V3, intraOpThreads: 1 });
      try {
        expect(backend.family).to.equal(smartTurnV3);
        const clips = [noise(3 * SR, 0.1, 11), tones(2 * SR, [[500, 0.4]])];
        const batch = backend.lease(2);
        clips.forEach((c, slot) => backend.family.prepare(c).write(batch, slot));
        const p = await backend.infer(batch, 2);
        clips.forEach((c, i) => expect(p[i]).to.be.closeTo(readoutV3(whisperLogMel(c)), 1e-5));
      } finally {
        await backend.close();
      }
    });
  });

  describe('on worker threads (FeaturePool)', () => {
    let pool: FeaturePool;
    before(() => {
      pool = new FeaturePool(2);
    });
    after(async () => {
      await pool.close();
    });

    it('a closed pool refuses work, and rejects what was still pending', async () => {
      const doomed = new FeaturePool(1);
      const pending = doomed.compute(noise(N_SAMPLES, 0.1, 1)).catch((e: unknown) => e);
      await doomed.close();
      expect(await pending).to.be.instanceOf(Error);
      expect(await doomed.compute(new Float32Array(10)).catch((e: unknown) => e)).to.be.instanceOf(Error).with.property('message').that.matches(/closed/);
    });

    it('gives the same features, bit for bit, for clips in flight together, leaving the caller its buffer', async () => {
      const clips = CASES.slice(0, 6).map(([, x]) => x);
      const got = await Promise.all(clips.map((c) => pool.compute(c)));
      got.forEach((features, i) => expect(maxAbsDiff(features, whisperLogMel(clips[i]!))).to.equal(0));
      expect(clips[4]!.length).to.be.above(0); // not transferred away
    });

    it('prepareOnPool writes what prepare writes', async () => {
      const samples = noise(10 * SR, 0.2, 12);
      const a = { size: 1, inputs: { input_features: new Float32Array(FEATURES_PER_CLIP) } };
      const b = { size: 1, inputs: { input_features: new Float32Array(FEATURES_PER_CLIP) } };
      const clip = await prepareOnPool(pool, samples);
      expect(clip.usedSamples).to.equal(N_SAMPLES);
      clip.write(a, 0);
      smartTurnV3.prepare(samples).write(b, 0);
      expect(maxAbsDiff(a.inputs.input_features, b.inputs.input_features)).to.equal(0);
    });
  });
});
