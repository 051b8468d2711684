// Client audio at another rate → the 16 kHz every Smart Turn model was trained on. Pipecat resamples
// with soxr "HQ" before its own v3 inference (local_smart_turn_v3.py `_resample_to_model_rate`); we use
// libsamplerate (WASM build, @alexanderolsen/libsamplerate-js), whose SINC_MEDIUM_QUALITY converter has
// about soxr HQ's passband (90 % of Nyquist) and > 97 dB of alias rejection.
//
// It runs synchronously on the calling thread, and only for requests that declare a rate other than
// 16 kHz; its cost per clip is in the README (SINC_FASTEST narrows the passband, SINC_BEST costs ~3×).
import LibSampleRate from '@alexanderolsen/libsamplerate-js';
import { SAMPLE_RATE as TARGET_RATE } from './audio.js';
import { ServeError } from './errors.js';

export { TARGET_RATE };
export const MIN_RATE = 8_000;
export const MAX_RATE = 192_000;

// One converter for the process (per worker thread): creating one compiles the WASM module, so it is
// done once at import. `simple()` is stateless between calls, so requests never bleed into each other.
const converter = await LibSampleRate.create(1, 48_000, TARGET_RATE, { converterType: LibSampleRate.ConverterType.SRC_SINC_MEDIUM_QUALITY });

/** A rate checkSampleRate has accepted: the type makes the check happen once, where the rate comes in. */
export type SampleRate = number & { readonly checked: unique symbol };

/** `rate` as a SampleRate; throws BAD_QUERY unless it is a whole number of Hz in [MIN_RATE, MAX_RATE]. */
export function checkSampleRate(rate: number): SampleRate {
  if (!Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE) {
    throw new ServeError('BAD_QUERY', `sample_rate must be a whole number of Hz from ${MIN_RATE} to ${MAX_RATE}, got ${rate}`);
  }
  return rate as SampleRate;
}

/** `samples` (mono, at `fromRate` Hz) resampled to 16 kHz. At 16 kHz already, returns `samples` itself. */
export function resampleTo16k(samples: Float32Array, fromRate: SampleRate): Float32Array {
  if (fromRate === TARGET_RATE || samples.length === 0) return samples;
  converter.inputSampleRate = fromRate;
  return converter.simple(samples);
}
