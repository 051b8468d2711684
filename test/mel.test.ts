// Whisper log-mel features (ts/features/mel.ts): both kernels (the native addon's C++ and the
// JavaScript fallback) against the NumPy/SciPy reference and each other, the addon's argument checks,
// and the v3 model family that uses them.
import { expect } from 'chai';
import { lastWindow } from '../ts/audio.js';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { FEATURES_PER_CLIP, JavascriptLogMel, N_SAMPLES, nativeLogMel, WhisperFeatures, whisperLogMel, type LogMelKernel } from '../ts/features/mel.js';
import { tryLoadNative, type NativeError } from '../ts/lib/native.js';
import { javascriptPasses, samplePasses } from '../ts/lib/samples.js';
import { familyForInputs } from '../ts/model/families.js';
import { smartTurnV3 } from '../ts/model/v3.js';
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
  ['no samples at all', new Float32Array(0)],
  ['a DC offset of 0.5 for 3 s (the zero padding moves the mean)', new Float32Array(3 * SR).fill(0.5)],
];

/** How far the native kernel may stray from the JavaScript one: float64 sums in another order, its
 * own log10, and the log rounded to float32 once before the floor (at most 2e-7 of the output). */
const NATIVE_VS_JAVASCRIPT = 1e-6;

const native = nativeLogMel();
const KERNELS: ReadonlyArray<readonly [string, () => LogMelKernel | undefined]> = [
  ['native', () => native],
  ['javascript', () => new JavascriptLogMel()],
];

/** What the v3 family computes for a clip: features of its last 8 s, by `kernel`. */
function featuresOf(kernel: LogMelKernel, samples: Float32Array, passes = samplePasses()): Float32Array {
  const out = new Float32Array(FEATURES_PER_CLIP);
  new WhisperFeatures(kernel, passes).compute(lastWindow(samples, N_SAMPLES), out);
  return out;
}

function refusal(call: () => void): NativeError {
  try {
    call();
  } catch (error) {
    return error as NativeError;
  }
  throw new Error('expected the call to throw');
}

describe('Whisper log-mel features (smart-turn v3)', () => {
  describe('bad calls', () => {
    const features = new WhisperFeatures(new JavascriptLogMel(), javascriptPasses);

    it('refuses an output buffer too small for one clip, or an offset that is not a place in it', () => {
      expect(() => features.compute(new Float32Array(10), new Float32Array(FEATURES_PER_CLIP - 1))).to.throw(RangeError, /64000/);
      for (const offset of [1, -1, 0.5, Number.NaN]) {
        expect(() => features.compute(new Float32Array(10), new Float32Array(FEATURES_PER_CLIP), offset)).to.throw(RangeError, /offset/);
      }
    });

    it('refuses more than 8 s: the model family cuts the window, once', () => {
      expect(() => features.compute(new Float32Array(N_SAMPLES + 1), new Float32Array(FEATURES_PER_CLIP))).to.throw(RangeError, /at most 128000/);
    });

    describe('the addon refuses what would read or write out of bounds', function () {
      before(function () {
        if (!native) this.skip(); // the JavaScript kernel alone is tested where the addon is not built
      });
      const addon = () => tryLoadNative().addon!;
      const normalized = new Float32Array(N_SAMPLES);
      const dst = new Float32Array(FEATURES_PER_CLIP + 10);

      for (const length of [0, N_SAMPLES - 1, N_SAMPLES + 1]) {
        it(`RangeError for ${length} normalized samples`, () => {
          const e = refusal(() => addon().whisperLogMel(new Float32Array(length), dst, 0));
          expect(e).to.be.instanceOf(RangeError);
          expect(e.code).to.equal('ERR_OUT_OF_RANGE');
          expect(e.message).to.equal(`whisperLogMel: normalized holds ${length} samples, not 128000`);
        });
      }

      for (const [offset, why] of [[11, 'past the end'], [-1, 'negative'], [2.5, 'fractional'], [Number.NaN, 'NaN']] as const) {
        it(`RangeError for an offset ${why} (${offset})`, () => {
          const e = refusal(() => addon().whisperLogMel(normalized, dst, offset));
          expect(e).to.be.instanceOf(RangeError);
          expect(e.code).to.equal('ERR_OUT_OF_RANGE');
          expect(e.message).to.match(/offset .* does not leave room for 64000 features in dst of 64010/);
        });
      }

      it('TypeError for arguments of the wrong type', () => {
        for (const call of [
          () => addon().whisperLogMel(new Float64Array(N_SAMPLES) as unknown as Float32Array, dst, 0),
          () => addon().whisperLogMel(normalized, Array.from(dst) as unknown as Float32Array, 0),
          () => addon().whisperLogMel(normalized, dst, '0' as unknown as number),
          () => (addon().whisperLogMel as (...args: unknown[]) => void)(normalized, dst),
        ]) {
          const e = refusal(call);
          expect(e).to.be.instanceOf(TypeError);
          expect(e.code).to.equal('ERR_INVALID_ARG_TYPE');
        }
      });

      it('writes exactly its 64000 values at the last place that fits', () => {
        const out = new Float32Array(FEATURES_PER_CLIP + 10).fill(42);
        addon().whisperLogMel(normalized, out, 10);
        expect([...out.subarray(0, 10)]).to.deep.equal(new Array(10).fill(42));
        expect(out.subarray(10).every((v) => v === -1.5)).to.equal(true); // silence: all at the log floor
      });
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

    for (const [kernelName, kernel] of KERNELS) {
      describe(`${kernelName} kernel`, function () {
        before(function () {
          if (!kernel()) this.skip(); // no addon: its kernel cannot run here
        });
        CASES.forEach(([name, samples], i) => {
          it(`matches to 1e-4: ${name}`, () => {
            const ours = featuresOf(kernel()!, samples);
            const theirs = reference.subarray(i * FEATURES_PER_CLIP, (i + 1) * FEATURES_PER_CLIP);
            expect(maxAbsDiff(ours, theirs)).to.be.at.most(1e-4);
          });
        });
      });
    }

    it(`the two kernels agree to ${NATIVE_VS_JAVASCRIPT} on every case`, function () {
      if (!native) this.skip();
      const javascript = new JavascriptLogMel();
      for (const [name, samples] of CASES) {
        expect(maxAbsDiff(featuresOf(native, samples), featuresOf(javascript, samples)), name).to.be.at.most(NATIVE_VS_JAVASCRIPT);
      }
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
      const batch = { size: 1, inputs: { input_features: new Float32Array(FEATURES_PER_CLIP) } };
      clip.write(batch, 0);
      expect(maxAbsDiff(batch.inputs.input_features, whisperLogMel(long.subarray(4 * SR)))).to.equal(0);
    });

    it('computes on the kernel SAMPLE_PASSES chose: native with the native passes, JavaScript with JavaScript', function () {
      if (!native) this.skip();
      const samples = speechLike();
      const byNative = featuresOf(native, samples);
      const byJavascript = featuresOf(new JavascriptLogMel(), samples, javascriptPasses);
      expect(maxAbsDiff(byNative, byJavascript)).to.be.above(0); // else this test could not tell them apart
      expect(maxAbsDiff(whisperLogMel(samples, samplePasses('javascript')), byJavascript)).to.equal(0);
      expect(maxAbsDiff(whisperLogMel(samples, samplePasses('native')), byNative)).to.equal(0);
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
});
