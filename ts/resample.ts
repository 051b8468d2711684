// Client audio at another rate → the 16 kHz every Smart Turn model was trained on. Pipecat resamples
// with soxr "HQ" before its own v3 inference (local_smart_turn_v3.py `_resample_to_model_rate`); we use
// libsamplerate (WASM build, @alexanderolsen/libsamplerate-js), whose SINC_MEDIUM_QUALITY converter has
// about soxr HQ's passband (90 % of Nyquist) and > 97 dB of alias rejection.
//
// It runs synchronously on the calling thread, and only for requests that declare a rate other than
// 16 kHz; its cost per clip is in the README (SINC_FASTEST narrows the passband, SINC_BEST costs ~3×).
import { createRequire } from 'node:module';
import { SAMPLE_RATE } from './audio.js';
import { ServeError } from './errors.js';

// Through require: the package is a CommonJS bundle whose exports Node's ESM loader cannot name, and
// whose `default` exists only when a loader adds one, so an ESM import of it differs between loaders.
const LibSampleRate = createRequire(import.meta.url)('@alexanderolsen/libsamplerate-js') as typeof import('@alexanderolsen/libsamplerate-js');

export const MIN_RATE = 8_000;
export const MAX_RATE = 192_000;

/** A rate checkSampleRate has accepted: the type makes the check happen once, where the rate comes in. */
export type SampleRate = number & { readonly checked: unique symbol };

/** `rate` as a SampleRate; throws BAD_QUERY unless it is a whole number of Hz in [MIN_RATE, MAX_RATE]. */
export function checkSampleRate(rate: number): SampleRate {
  if (!Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE) {
    throw new ServeError('BAD_QUERY', `sample_rate must be a whole number of Hz from ${MIN_RATE} to ${MAX_RATE}, got ${rate}`);
  }
  return rate as SampleRate;
}

type Converter = Awaited<ReturnType<typeof LibSampleRate.create>>;

/**
 * One converter, made by `create` (which compiles the WASM module) for whoever resamples: the service
 * at start-up, a tool once. `simple()` keeps no state between calls, so requests never bleed into each
 * other; a converter belongs to the thread that made it.
 */
export class Resampler {
  readonly #converter: Converter;

  private constructor(converter: Converter) {
    this.#converter = converter;
  }

  static async create(): Promise<Resampler> {
    return new Resampler(await LibSampleRate.create(1, 48_000, SAMPLE_RATE, { converterType: LibSampleRate.ConverterType.SRC_SINC_MEDIUM_QUALITY }));
  }

  /** `samples` (mono, at `fromRate` Hz) resampled to 16 kHz. At 16 kHz already, returns `samples` itself. */
  to16k(samples: Float32Array, fromRate: SampleRate): Float32Array {
    if (fromRate === SAMPLE_RATE || samples.length === 0) return samples;
    this.#converter.inputSampleRate = fromRate;
    return this.#converter.simple(samples);
  }
}
