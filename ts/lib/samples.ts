// The front end's passes over every sample of a request: the sums behind the finite check and the
// mean and variance, and the normalized write into a batch row. They are most of the front end's
// work per request, so they run in the native addon's vectorized C++ when it is loaded (several times
// faster per pass than V8's scalar loops: npm run bench:samples) and in plain JavaScript otherwise, with
// the same arithmetic: float64 sums (in another order, so they may differ in the last bits) and
// bit-identical normalized samples.
import type { SamplePassesChoice } from '../config.js';
import { ConfigError } from '../errors.js';
import { tryLoadNative, type NativeAddon } from './native.js';

export interface SampleSums {
  /** Finite exactly when every sample is: a float64 sum of float32 values cannot overflow. */
  sum: number;
  squares: number;
}

export interface SamplePasses {
  readonly implementation: 'native' | 'javascript';
  sums(samples: Float32Array): SampleSums;
  /** Writes (src[i] - mean) * scale into dst from `offset`. */
  normalize(src: Float32Array, dst: Float32Array, offset: number, mean: number, scale: number): void;
}

export const javascriptPasses: SamplePasses = {
  implementation: 'javascript',
  sums(samples) {
    // Two chains of adds each instead of one: every add waits on the one before it in its chain.
    let s0 = 0;
    let s1 = 0;
    let q0 = 0;
    let q1 = 0;
    const n = samples.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const a = samples[i]!;
      const b = samples[i + 1]!;
      s0 += a;
      s1 += b;
      q0 += a * a;
      q1 += b * b;
    }
    if (i < n) {
      const a = samples[i]!;
      s0 += a;
      q0 += a * a;
    }
    return { sum: s0 + s1, squares: q0 + q1 };
  },
  normalize(src, dst, offset, mean, scale) {
    for (let i = 0; i < src.length; i++) dst[offset + i] = (src[i]! - mean) * scale;
  },
};

/** The passes in the addon's vectorized C++. */
function nativePasses(addon: NativeAddon): SamplePasses {
  return {
    implementation: 'native',
    sums(samples) {
      const [sum, squares] = addon.sumSamples(samples);
      return { sum, squares };
    },
    normalize: (src, dst, offset, mean, scale) => addon.normalizeSamples(src, dst, offset, mean, scale),
  };
}

/**
 * The passes SAMPLE_PASSES chooses: `auto` (the default) takes the addon's where it loads, `native`
 * throws, saying why, where it does not. Each service chooses its own and hands them to the steps that
 * run them, so two services in one process never share a choice; the addon is loaded by the first call,
 * not by importing this module.
 */
export function samplePasses(choice: SamplePassesChoice = 'auto', native = tryLoadNative()): SamplePasses {
  if (choice === 'javascript') return javascriptPasses;
  if (native.addon) return nativePasses(native.addon);
  if (choice === 'native') throw new ConfigError('SAMPLE_PASSES', `native: ${native.reason}`);
  return javascriptPasses;
}
