import { expect } from 'chai';
import { ServeError } from '../ts/errors.js';
import { checkSampleRate, Resampler, StreamResampler } from '../ts/resample.js';
import { maxAbsDiff, noise, random, tones } from './reference/run.js';

const resampler = await Resampler.create();
/** The server's path: the declared rate is checked where it comes in, then the audio resampled. */
const resampleTo16k = (samples: Float32Array, rate: number): Float32Array => resampler.to16k(samples, checkSampleRate(rate));

function sine(n: number, freq: number, rate: number, amp = 0.5): Float32Array {
  return tones(n, [[freq, amp]], rate);
}

/** Largest deviation from the ideal 16 kHz sine away from the edges (filter start-up). */
function errorAgainstSine(y: Float32Array, freq: number, amp = 0.5): number {
  let max = 0;
  for (let i = 400; i < y.length - 400; i++) max = Math.max(max, Math.abs(y[i]! - amp * Math.sin((2 * Math.PI * freq * i) / 16_000)));
  return max;
}

function peak(y: Float32Array): number {
  let max = 0;
  for (let i = 400; i < y.length - 400; i++) max = Math.max(max, Math.abs(y[i]!));
  return max;
}

describe('checkSampleRate, Resampler.to16k', () => {
  describe('bad calls', () => {
    for (const rate of [0, -16000, 7999, 192_001, 44_100.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      it(`refuses sample_rate ${rate} with BAD_QUERY (400)`, () => {
        const call = (): unknown => resampleTo16k(new Float32Array(100), rate);
        expect(call).to.throw(ServeError).with.property('code', 'BAD_QUERY');
        expect(call).to.throw(/8000 to 192000/);
      });
    }
  });

  describe('normal path', () => {
    it('returns 16 kHz audio as it is, without a copy', () => {
      const x = noise(1000, 0.1, 1);
      expect(resampleTo16k(x, 16_000)).to.equal(x);
    });

    it('returns empty audio as it is', () => {
      expect(resampleTo16k(new Float32Array(0), 48_000)).to.have.length(0);
    });

    for (const rate of [8_000, 22_050, 24_000, 44_100, 48_000, 96_000]) {
      it(`keeps a 440 Hz tone from ${rate} Hz, with the right length`, () => {
        const y = resampleTo16k(sine(rate * 2, 440, rate), rate);
        expect(Math.abs(y.length - 32_000)).to.be.at.most(1);
        expect(errorAgainstSine(y, 440)).to.be.below(1e-3);
      });
    }

    it('keeps a 6 kHz tone (inside the passband) from 48 kHz', () => {
      expect(errorAgainstSine(resampleTo16k(sine(48_000, 6000, 48_000), 48_000), 6000)).to.be.below(1e-2);
    });

    it('removes a 12 kHz tone from 48 kHz audio instead of folding it to 4 kHz (a naive decimator would not)', () => {
      const x = sine(48_000, 12_000, 48_000);
      const naive = new Float32Array(16_000).map((_, i) => x[3 * i]!);
      expect(peak(naive)).to.be.above(0.4);
      expect(peak(resampleTo16k(x, 48_000))).to.be.below(1e-3);
    });

    it('gives the same answer twice: no state carried between requests', () => {
      const x = noise(48_000, 0.3, 2);
      const a = resampleTo16k(x, 48_000);
      resampleTo16k(noise(24_000, 0.3, 3), 24_000);
      expect(Array.from(resampleTo16k(x, 48_000))).to.deep.equal(Array.from(a));
    });

    it('8 s at 48 kHz becomes the 128000 samples smart-turn v3 takes', () => {
      expect(resampleTo16k(noise(8 * 48_000, 0.3, 4), 48_000)).to.have.length(128_000);
    });
  });
});

describe('StreamResampler', () => {
  /** Chunk sizes from 1 to `max` samples, reproducible. */
  function chunkings(n: number, max: number, seed: number): number[] {
    const next = random(seed);
    const sizes: number[] = [];
    for (let total = 0; total < n; ) {
      const size = Math.min(n - total, 1 + Math.floor(next() * max));
      sizes.push(size);
      total += size;
    }
    return sizes;
  }

  function pushAll(stream: StreamResampler, x: Float32Array, sizes: number[]): Float32Array {
    const parts: Float32Array[] = [];
    for (let at = 0, i = 0; at < x.length; at += sizes[i++]!) parts.push(stream.push(x.subarray(at, at + sizes[i]!)));
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    return out;
  }

  for (const rate of [8_000, 44_100, 48_000]) {
    it(`gives what to16k gives for the whole audio, sample for sample, in any chunking (${rate} Hz)`, async () => {
      const x = noise(rate * 2, 0.3, rate);
      const whole = resampleTo16k(x, rate);
      for (const [seed, max] of [[1, 7], [2, 960], [3, 20_000]] as const) {
        const stream = await StreamResampler.create(checkSampleRate(rate));
        const streamed = pushAll(stream, x, chunkings(x.length, max, seed));
        stream.close();
        // The filter holds the last few milliseconds until audio after them arrives.
        expect(whole.length - streamed.length).to.be.within(1, 16_000 * 0.01);
        expect(maxAbsDiff(streamed, whole.subarray(0, streamed.length))).to.equal(0);
      }
    });
  }

  it('starts a new signal after reset', async () => {
    const stream = await StreamResampler.create(checkSampleRate(48_000));
    pushAll(stream, noise(48_000, 0.3, 5), [960]);
    stream.reset();
    const x = noise(48_000, 0.3, 6);
    const after = pushAll(stream, x, [960]);
    stream.close();
    expect(maxAbsDiff(after, resampleTo16k(x, 48_000).subarray(0, after.length))).to.equal(0);
  });
});
