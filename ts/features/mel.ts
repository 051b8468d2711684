// Whisper log-mel features as smart-turn v3 was trained on them: transformers' WhisperFeatureExtractor
// (feature_extraction_whisper.py `_np_extract_fbank_features`, audio_utils.py `spectrogram`,
// `mel_filter_bank`) with `do_normalize=True` on an 8 s window, as pipecat vendors it in
// src/pipecat/audio/turn/smart_turn/_whisper_features.py:
//   waveform → zero mean / unit variance over all 128000 samples (leading zero padding included,
//   epsilon 1e-7) → centred STFT (reflect padding of n_fft/2, periodic Hann, n_fft 400, hop 160)
//   → |X|² → 80 Slaney-normalised Slaney-scale mel bins → log10(max(1e-10, ·)) → drop the last of the
//   801 frames → floor at (max − 8) → (x + 4) / 4.
// The normalization is the front end's sample passes (audio.ts), into float32 as in NumPy's reference;
// the rest, a LogMelKernel, runs in the native addon's vectorized C++ (native/src/core/log_mel.cc)
// where it loads, and in JavaScript otherwise, both in float64 like the reference; only the output is
// float32.
import FFT from 'fft.js';
import { moments, SAMPLE_RATE, writeNormalized } from '../audio.js';
import { tryLoadNative } from '../lib/native.js';
import { samplePasses, type SamplePasses } from '../lib/samples.js';

const N_FFT = 400;
const HOP_LENGTH = 160;
export const N_MELS = 80;
/** 8 s at 16 kHz: the window smart-turn v3 sees. */
export const N_SAMPLES = 8 * SAMPLE_RATE;
/** 1 + N_SAMPLES / HOP_LENGTH frames, less the last one, which Whisper drops. */
export const N_FRAMES = N_SAMPLES / HOP_LENGTH;
export const FEATURES_PER_CLIP = N_MELS * N_FRAMES;

const N_BINS = N_FFT / 2 + 1;
const MEL_FLOOR = 1e-10;
const NORM_EPSILON = 1e-7;
const PAD = N_FFT / 2;

/** Periodic Hann (torch.hann_window, np.hanning(n + 1)[:-1]). */
function hannWindow(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

function hertzToMelSlaney(hz: number): number {
  const minLogHz = 1000;
  const minLogMel = 15;
  const logStep = 27 / Math.log(6.4);
  return hz >= minLogHz ? minLogMel + Math.log(hz / minLogHz) * logStep : (3 * hz) / 200;
}

function melToHertzSlaney(mel: number): number {
  const minLogHz = 1000;
  const minLogMel = 15;
  const logStep = Math.log(6.4) / 27;
  return mel >= minLogMel ? minLogHz * Math.exp(logStep * (mel - minLogMel)) : (200 * mel) / 3;
}

interface MelFilter {
  /** First FFT bin with a non-zero weight. */
  start: number;
  weights: Float64Array;
}

/**
 * transformers' `mel_filter_bank(num_frequency_bins=201, num_mel_filters=80, min_frequency=0,
 * max_frequency=8000, sampling_rate=16000, norm="slaney", mel_scale="slaney")`, kept sparse: each
 * triangle covers a handful of bins, so the projection costs ~400 multiplies a frame, not 16 000.
 */
function melFilters(): MelFilter[] {
  const melMin = hertzToMelSlaney(0);
  const melMax = hertzToMelSlaney(SAMPLE_RATE / 2);
  const edges = new Float64Array(N_MELS + 2);
  for (let i = 0; i < edges.length; i++) {
    edges[i] = melToHertzSlaney(melMin + ((melMax - melMin) * i) / (N_MELS + 1));
  }
  const filters: MelFilter[] = [];
  for (let m = 0; m < N_MELS; m++) {
    const [lo, mid, hi] = [edges[m]!, edges[m + 1]!, edges[m + 2]!];
    const enorm = 2 / (hi - lo);
    const dense = new Float64Array(N_BINS);
    let start = -1;
    let end = -1;
    for (let k = 0; k < N_BINS; k++) {
      const f = (k * (SAMPLE_RATE / 2)) / (N_BINS - 1);
      const w = Math.max(0, Math.min((f - lo) / (mid - lo), (hi - f) / (hi - mid))) * enorm;
      dense[k] = w;
      if (w > 0) {
        if (start < 0) start = k;
        end = k;
      }
    }
    filters.push(start < 0 ? { start: 0, weights: new Float64Array(0) } : { start, weights: dense.slice(start, end + 1) });
  }
  return filters;
}

/**
 * A length-400 DFT from power-of-two FFTs (Bluestein's chirp z-transform): fft.js is fast but only
 * does powers of two, and Whisper's frame is 400 samples. The chirp is computed with n² mod 2N so
 * the angles stay exact for every n.
 */
class Bluestein {
  readonly #n: number;
  readonly #fft: FFT;
  readonly #chirpRe: Float64Array;
  readonly #chirpIm: Float64Array;
  // fft.js runs about 3x faster on plain arrays of doubles than on Float64Arrays (measured, Node 20).
  /** FFT of the conjugate chirp, wrapped for circular convolution. */
  readonly #kernel: number[];
  readonly #a: number[];
  readonly #fa: number[];
  readonly #product: number[];
  readonly #conv: number[];

  constructor(n: number) {
    let m = 1;
    while (m < 2 * n - 1) m <<= 1;
    this.#n = n;
    this.#fft = new FFT(m);
    this.#chirpRe = new Float64Array(n);
    this.#chirpIm = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const angle = (Math.PI * ((i * i) % (2 * n))) / n;
      this.#chirpRe[i] = Math.cos(angle);
      this.#chirpIm[i] = -Math.sin(angle);
    }
    const b: number[] = this.#fft.createComplexArray().fill(0);
    for (let i = 0; i < n; i++) {
      // conj(chirp) at ±i
      b[2 * i] = this.#chirpRe[i]!;
      b[2 * i + 1] = -this.#chirpIm[i]!;
      if (i > 0) {
        b[2 * (m - i)] = this.#chirpRe[i]!;
        b[2 * (m - i) + 1] = -this.#chirpIm[i]!;
      }
    }
    this.#kernel = this.#fft.createComplexArray();
    this.#fft.transform(this.#kernel, b);
    // The inverse FFT is done as conj(FFT(conj(·))): its 1 / m goes into the kernel once.
    for (let i = 0; i < this.#kernel.length; i++) this.#kernel[i]! /= m;
    this.#a = this.#fft.createComplexArray().fill(0);
    this.#fa = this.#fft.createComplexArray().fill(0);
    this.#product = this.#fft.createComplexArray().fill(0);
    this.#conv = this.#fft.createComplexArray().fill(0);
  }

  /** DFT of the complex sequence (re, im), length n, into (outRe, outIm). */
  transform(re: Float64Array, im: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    const n = this.#n;
    const a = this.#a; // entries past 2n stay zero
    const cr = this.#chirpRe;
    const ci = this.#chirpIm;
    for (let i = 0; i < n; i++) {
      const xr = re[i]!;
      const xi = im[i]!;
      a[2 * i] = xr * cr[i]! - xi * ci[i]!;
      a[2 * i + 1] = xr * ci[i]! + xi * cr[i]!;
    }
    const fa = this.#fa;
    const kern = this.#kernel;
    const product = this.#product;
    this.#fft.transform(fa, a);
    for (let i = 0; i < fa.length; i += 2) {
      const ar = fa[i]!;
      const ai = fa[i + 1]!;
      const br = kern[i]!;
      const bi = kern[i + 1]!;
      product[i] = ar * br - ai * bi;
      product[i + 1] = -(ar * bi + ai * br); // conjugated for the inverse
    }
    const conv = this.#conv;
    this.#fft.transform(conv, product);
    for (let k = 0; k < n; k++) {
      const yr = conv[2 * k]!;
      const yi = -conv[2 * k + 1]!;
      outRe[k] = yr * cr[k]! - yi * ci[k]!;
      outIm[k] = yr * ci[k]! + yi * cr[k]!;
    }
  }
}

/** The part of the features after normalization, over exactly N_SAMPLES normalized samples. */
export interface LogMelKernel {
  readonly implementation: 'native' | 'javascript';
  /** Features of `normalized` (N_SAMPLES samples) as float32 [80, 800], mel-major, into `out` at `offset`. */
  compute(normalized: Float32Array, out: Float32Array, offset: number): void;
}

/**
 * The kernel in JavaScript: the fallback where the addon is not built, and the implementation the
 * native one is measured against (`npm run bench:features`). Reusable scratch for one computation at
 * a time (about 2 MB).
 */
export class JavascriptLogMel implements LogMelKernel {
  readonly implementation = 'javascript';
  readonly #window = hannWindow(N_FFT);
  readonly #filters = melFilters();
  readonly #dft = new Bluestein(N_FFT);
  readonly #padded = new Float64Array(N_SAMPLES + 2 * PAD);
  readonly #log = new Float64Array(FEATURES_PER_CLIP);
  readonly #re = new Float64Array(N_FFT);
  readonly #im = new Float64Array(N_FFT);
  readonly #outRe = new Float64Array(N_FFT);
  readonly #outIm = new Float64Array(N_FFT);
  readonly #powerA = new Float64Array(N_BINS);
  readonly #powerB = new Float64Array(N_BINS);

  compute(normalized: Float32Array, out: Float32Array, offset: number): void {
    this.#pad(normalized);
    let max = -Infinity;
    for (let t = 0; t < N_FRAMES; t += 2) {
      this.#framePair(t);
      max = Math.max(max, this.#project(this.#powerA, t), this.#project(this.#powerB, t + 1));
    }
    const floor = max - 8;
    const log = this.#log;
    for (let i = 0; i < FEATURES_PER_CLIP; i++) {
      const v = log[i]!;
      out[offset + i] = ((v > floor ? v : floor) + 4) / 4;
    }
  }

  /** The samples with `PAD` reflected samples each side (np.pad mode="reflect"). */
  #pad(normalized: Float32Array): void {
    const p = this.#padded;
    p.set(normalized, PAD);
    for (let i = 1; i <= PAD; i++) {
      p[PAD - i] = p[PAD + i]!;
      p[PAD + N_SAMPLES - 1 + i] = p[PAD + N_SAMPLES - 1 - i]!;
    }
  }

  /** Power spectra of frames t and t + 1, one complex DFT for both (real frames packed as re/im). */
  #framePair(t: number): void {
    const p = this.#padded;
    const w = this.#window;
    const re = this.#re;
    const im = this.#im;
    const a = t * HOP_LENGTH;
    const b = a + HOP_LENGTH;
    for (let i = 0; i < N_FFT; i++) {
      re[i] = p[a + i]! * w[i]!;
      im[i] = p[b + i]! * w[i]!;
    }
    this.#dft.transform(re, im, this.#outRe, this.#outIm);
    const zr = this.#outRe;
    const zi = this.#outIm;
    for (let k = 0; k < N_BINS; k++) {
      const j = k === 0 ? 0 : N_FFT - k;
      // A = (Z[k] + conj Z[N-k]) / 2, B = (Z[k] - conj Z[N-k]) / 2i
      const ar = (zr[k]! + zr[j]!) / 2;
      const ai = (zi[k]! - zi[j]!) / 2;
      const br = (zi[k]! + zi[j]!) / 2;
      const bi = (zr[j]! - zr[k]!) / 2;
      this.#powerA[k] = ar * ar + ai * ai;
      this.#powerB[k] = br * br + bi * bi;
    }
  }

  /** log10 mel energies of one frame into column t of the log buffer; returns their maximum. */
  #project(power: Float64Array, t: number): number {
    let max = -Infinity;
    for (let m = 0; m < N_MELS; m++) {
      const { start, weights } = this.#filters[m]!;
      let e = 0;
      for (let i = 0; i < weights.length; i++) e += weights[i]! * power[start + i]!;
      const v = Math.log10(e > MEL_FLOOR ? e : MEL_FLOOR);
      this.#log[m * N_FRAMES + t] = v;
      if (v > max) max = v;
    }
    return max;
  }
}

/** The native addon's kernel (native/src/core/log_mel.cc), where the addon loads. */
export function nativeLogMel(): LogMelKernel | undefined {
  const addon = tryLoadNative().addon;
  return addon && { implementation: 'native', compute: (normalized, out, offset) => addon.whisperLogMel(normalized, out, offset) };
}

/** Features of one clip: the sample passes' normalization, then a kernel. One computation at a time. */
export class WhisperFeatures {
  readonly #normalized = new Float32Array(N_SAMPLES);

  constructor(
    readonly kernel: LogMelKernel,
    readonly passes: SamplePasses,
  ) {}

  /** The kernel that goes with `passes`: the native one when they are native. */
  static for(passes: SamplePasses): WhisperFeatures {
    const native = passes.implementation === 'native' ? nativeLogMel() : undefined;
    return new WhisperFeatures(native ?? new JavascriptLogMel(), passes);
  }

  /**
   * Features of `window`, the last 8 s or less of a clip at 16 kHz, zero-padded at the beginning as
   * pipecat's `truncate_audio_to_last_n_seconds` does, written as float32 [80, 800] (mel-major) into
   * `out` at `offset`.
   */
  compute(window: Float32Array, out: Float32Array, offset = 0): void {
    if (window.length > N_SAMPLES) {
      throw new RangeError(`${window.length} samples: the features take at most ${N_SAMPLES} (8 s); cut the window first`);
    }
    if (!(Number.isInteger(offset) && offset >= 0 && out.length - offset >= FEATURES_PER_CLIP)) {
      throw new RangeError(`output holds ${out.length - offset} values from offset ${offset}, features need ${FEATURES_PER_CLIP}`);
    }
    const lead = N_SAMPLES - window.length;
    // Upstream normalizes the zero-padded 8 s: the padding counts in the mean and the variance.
    const m = moments(window, NORM_EPSILON, this.passes, N_SAMPLES);
    this.#normalized.fill(-m.mean * m.invStd, 0, lead);
    writeNormalized(window, this.#normalized, lead, m, this.passes);
    this.kernel.compute(this.#normalized, out, offset);
  }

  /** Features of `window` (see compute) in a new [80 × 800] float32 array. */
  features(window: Float32Array): Float32Array {
    const out = new Float32Array(FEATURES_PER_CLIP);
    this.compute(window, out);
    return out;
  }
}

/**
 * Features of one window (see WhisperFeatures.compute) in a new [80 × 800] float32 array, on the
 * calling thread, with scratch made for this call: for tools and tests; a service keeps one
 * WhisperFeatures. The kernel follows the sample passes (SAMPLE_PASSES): native when they are.
 */
export function whisperLogMel(window: Float32Array, passes: SamplePasses = samplePasses()): Float32Array {
  return WhisperFeatures.for(passes).features(window);
}
