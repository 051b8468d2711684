// The front end's passes over every sample of a request: the sums behind the finite check and the
// mean and variance, and the normalized write into a batch row. They are most of the front end's
// work per request, so they run in the native addon's vectorized C++ when it is loaded (several times
// faster per pass than V8's scalar loops: npm run bench:samples) and in plain JavaScript otherwise, with
// the same arithmetic: float64 sums (in another order, so they may differ in the last bits) and
// bit-identical normalized samples.
import { ConfigError } from './errors.js';
import { tryLoadNative } from './native.js';

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

const loaded = tryLoadNative();
const addon = loaded.addon;
const nativePasses: SamplePasses | undefined = addon && {
  implementation: 'native',
  sums(samples) {
    const [sum, squares] = addon.sumSamples(samples);
    return { sum, squares };
  },
  normalize: (src, dst, offset, mean, scale) => addon.normalizeSamples(src, dst, offset, mean, scale),
};

export type SamplePassesChoice = 'auto' | 'native' | 'javascript';

let current: SamplePasses = nativePasses ?? javascriptPasses;

/** The passes in use: native where the addon loads, unless `useSamplePasses` said otherwise. */
export function samplePasses(): SamplePasses {
  return current;
}

/** Chooses the passes at start-up (SAMPLE_PASSES); `native` throws, saying why, if the addon does not load. */
export function useSamplePasses(choice: SamplePassesChoice): SamplePasses {
  if (choice === 'native' && !loaded.addon) throw new ConfigError('SAMPLE_PASSES', `native: ${loaded.reason}`);
  current = choice === 'javascript' ? javascriptPasses : (nativePasses ?? javascriptPasses);
  return current;
}
