import { expect } from 'chai';
import { ServeError } from '../ts/errors.js';
import { checkSampleRate, Resampler } from '../ts/resample.js';
import { noise, tones } from './reference/run.js';

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
