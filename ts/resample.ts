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

/** A declared `sample_rate` (query or header, on /raw and /stream alike) as a rate; throws BAD_QUERY. */
export function parseSampleRate(raw: string): SampleRate {
  if (!/^\d+$/.test(raw)) throw new ServeError('BAD_QUERY', `sample_rate must be a whole number of Hz, got ${JSON.stringify(raw)}`);
  return checkSampleRate(Number(raw));
}

/** `rate` as a SampleRate; throws BAD_QUERY unless it is a whole number of Hz in [MIN_RATE, MAX_RATE]. */
export function checkSampleRate(rate: number): SampleRate {
  if (!Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE) {
    throw new ServeError('BAD_QUERY', `sample_rate must be a whole number of Hz from ${MIN_RATE} to ${MAX_RATE}, got ${rate}`);
  }
  return rate as SampleRate;
}

type Converter = Awaited<ReturnType<typeof LibSampleRate.create>>;

/** A medium-quality converter to 16 kHz in a WASM instance of its own (which holds one converter's state). */
const converter = (fromRate: number): Promise<Converter> =>
  LibSampleRate.create(1, fromRate, SAMPLE_RATE, { converterType: LibSampleRate.ConverterType.SRC_SINC_MEDIUM_QUALITY });

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
    return new Resampler(await converter(48_000));
  }

  /** `samples` (mono, at `fromRate` Hz) resampled to 16 kHz. At 16 kHz already, returns `samples` itself. */
  to16k(samples: Float32Array, fromRate: SampleRate): Float32Array {
    if (fromRate === SAMPLE_RATE || samples.length === 0) return samples;
    this.#converter.inputSampleRate = fromRate;
    return this.#converter.simple(samples);
  }
}

/**
 * A converter whose filter state carries across calls (libsamplerate's `full` API), for audio that
 * arrives in chunks: pushing a turn in any chunking yields what `Resampler.to16k` makes of the whole
 * turn, sample for sample, except the last few output samples, which the filter holds until the audio
 * after them arrives. The library keeps one converter's state per WASM instance, so each stream needs
 * an instance of its own, made on the calling thread (the README gives its memory and time); streams
 * at 16 kHz get none.
 */
export class StreamResampler {
  readonly #converter: Converter;
  #closed = false;

  private constructor(
    readonly fromRate: SampleRate,
    converter: Converter,
  ) {
    this.#converter = converter;
  }

  static async create(fromRate: SampleRate): Promise<StreamResampler> {
    return new StreamResampler(fromRate, await converter(fromRate));
  }

  /** The 16 kHz samples that `samples`, following everything pushed since the last reset, complete. */
  push(samples: Float32Array): Float32Array {
    if (samples.length === 0) return samples;
    return this.#converter.full(samples);
  }

  /** Forgets the audio pushed so far: the next push starts a new signal. */
  reset(): void {
    this.#converter.inputSampleRate = this.fromRate; // re-initializes the converter's state
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#converter.destroy();
  }
}
