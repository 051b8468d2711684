// The fixture models' functions (scripts/make_fixtures.py, whose docstring defines them) in float64,
// and the preprocessing in front of them written out again from upstream's definitions, so a test
// predicts each answer from the values it sent without using the code it tests.
import { fileURLToPath } from 'node:url';

const models = (name: string): string => fileURLToPath(new URL(`../fixtures/models/${name}`, import.meta.url));

/** smart-turn v2 interface, answer from the values and the length. */
export const READOUT_V2 = models('readout-v2.onnx');
/** readout-v2's function after a known amount of work per clip (overload and drain tests). */
export const SLOW_V2 = models('slow-v2.onnx');
/** smart-turn v3 interface, answer from the features. */
export const READOUT_V3 = models('readout-v3.onnx');

/** The clip every test/fixtures/npy file holds: 1600 samples of a ramp from -0.5, exact in every dtype. */
export const RAMP = Float32Array.from({ length: 1600 }, (_, i) => i / 1600 - 0.5);

export const V2_WINDOW = 256_000;
export const V3_FEATURES = 80 * 800;

/**
 * How far a served answer may be from the float64 reference: ONNX Runtime sums float32 products over
 * up to 256000 samples. Several times the largest difference seen over sines, noise and offsets of
 * 0.1-16 s; far below the gaps between the answers of distinct clips that tests rely on.
 */
export const TOLERANCE = 1e-5;

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** w_i: the read-out weight of flat input index i, (((i * 2654435761) mod 2^32) >> 8) * 2^-24 - 0.5. */
export function weight(i: number): number {
  const k = Number((BigInt(i) * 2654435761n) % 4294967296n);
  return Math.floor(k / 256) * 2 ** -24 - 0.5;
}

let table: Float64Array | undefined;
/** Every weight of the v2 window (the v3 features use the first 64000). */
function weights(): Float64Array {
  table ??= Float64Array.from({ length: V2_WINDOW }, (_, i) => weight(i));
  return table;
}

/** readout-v2 on one row of model inputs: sigmoid(4 s / sqrt(max(c, 1)) + 4 (c / 256000 - 0.5)). */
export function readoutV2(values: ArrayLike<number>, mask: ArrayLike<bigint>, row = 0): number {
  const w = weights();
  const base = row * V2_WINDOW;
  let s = 0;
  let c = 0;
  for (let i = 0; i < V2_WINDOW; i++) {
    const m = Number(mask[base + i]!);
    s += w[i]! * values[base + i]! * m;
    c += m;
  }
  return sigmoid((4 * s) / Math.sqrt(Math.max(c, 1)) + 4 * (c / V2_WINDOW - 0.5));
}

/** readout-v3 on one clip's features [80, 800]: sigmoid(mean(f) + 4 sum(w f) / sqrt(64000)). */
export function readoutV3(features: ArrayLike<number>): number {
  const w = weights();
  let sum = 0;
  let s = 0;
  for (let j = 0; j < V3_FEATURES; j++) {
    sum += features[j]!;
    s += w[j]! * features[j]!;
  }
  return sigmoid(sum / V3_FEATURES + (4 * s) / Math.sqrt(V3_FEATURES));
}

/**
 * What a v2 fixture answers for a request's 16 kHz samples, with upstream's preprocessing written out
 * in float64: the last 16 s, zero mean and unit variance over them (epsilon 1e-7), zero padding with
 * mask 0 on the right.
 */
export function expectedV2(samples: ArrayLike<number>): number {
  const n = Math.min(samples.length, V2_WINDOW);
  const start = samples.length - n;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += samples[start + i]!;
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (samples[start + i]! - mean) ** 2;
  variance /= n;
  const inv = 1 / Math.sqrt(variance + 1e-7);
  const w = weights();
  let s = 0;
  for (let i = 0; i < n; i++) s += w[i]! * (samples[start + i]! - mean) * inv;
  return sigmoid((4 * s) / Math.sqrt(n) + 4 * (n / V2_WINDOW - 0.5));
}
