// The audio step: which samples of a request the model sees, and their statistics. Pure functions
// over Float32Array views, so the payload is read in place and copied once, into the batch; the
// per-sample loops themselves are the SamplePasses of lib/samples.ts that the caller hands in.
import type { SamplePasses } from './lib/samples.js';

export const SAMPLE_RATE = 16_000;

/**
 * The last `windowSamples` of the audio: the end of an utterance is what decides whether the turn is
 * over, so a long clip loses its beginning, never its end. Returns a view, not a copy.
 */
export function lastWindow(samples: Float32Array, windowSamples: number): Float32Array {
  return samples.length <= windowSamples ? samples : samples.subarray(samples.length - windowSamples);
}

export interface Moments {
  mean: number;
  /** 1 / sqrt(variance + epsilon) */
  invStd: number;
}

/**
 * Mean and inverse standard deviation (population variance), epsilon included, of `count` samples:
 * `samples`, then zeros. By default over the samples alone, as Hugging Face's `zero_mean_unit_var_norm`
 * computes them for wav2vec2; Whisper's extractor counts its zero padding too.
 */
export function moments(samples: Float32Array, epsilon: number, passes: SamplePasses, count = samples.length): Moments {
  if (count === 0) return { mean: 0, invStd: 1 / Math.sqrt(epsilon) };
  // One pass over the payload instead of two. In float64, E[x²] - mean² is exact enough for float32
  // input: its rounding error (~1e-16 · E[x²]) is below the resolution of the samples themselves
  // (~6e-8 · |x|, squared), and far below the 1e-7 epsilon for audio in [-1, 1].
  const { sum, squares } = passes.sums(samples);
  const mean = sum / count;
  const variance = Math.max(squares / count - mean * mean, 0);
  return { mean, invStd: 1 / Math.sqrt(variance + epsilon) };
}

/** Writes (x - mean) * invStd of `src` into `dst` starting at `offset`. */
export function writeNormalized(src: Float32Array, dst: Float32Array, offset: number, m: Moments, passes: SamplePasses): void {
  passes.normalize(src, dst, offset, m.mean, m.invStd);
}
