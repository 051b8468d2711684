// Client audio at another rate → the 16 kHz every Smart Turn model was trained on. Pipecat resamples
// with soxr "HQ" before its own v3 inference (local_smart_turn_v3.py `_resample_to_model_rate`); we use
// libsamplerate (WASM build, @alexanderolsen/libsamplerate-js), whose SINC_MEDIUM_QUALITY converter has
// about soxr HQ's passband (90 % of Nyquist) and > 97 dB of alias rejection.
//
// Cost, measured on this project's 2-core machine for 8 s of audio (synchronous, on the calling thread):
// medium 90 ms from 8 kHz, 130 ms from 24 kHz, 160 ms from 48 kHz; fastest (80 % passband) 30–85 ms;
// best (97 %) about 500 ms from 48 kHz. Only requests that declare a rate other than 16 kHz pay it.
import LibSampleRate from '@alexanderolsen/libsamplerate-js';
import { SAMPLE_RATE } from './audio.js';
import { ServeError } from './errors.js';

export const MIN_RATE = 8_000;
export const MAX_RATE = 192_000;

export type ResampleQuality = 'best' | 'medium' | 'fastest';

const CONVERTERS = {
  best: LibSampleRate.ConverterType.SRC_SINC_BEST_QUALITY,
  medium: LibSampleRate.ConverterType.SRC_SINC_MEDIUM_QUALITY,
  fastest: LibSampleRate.ConverterType.SRC_SINC_FASTEST,
} as const;

// One converter for the process (per worker thread): creating one compiles the WASM module, so it is
// done once at import. `simple()` is stateless between calls, so requests never bleed into each other.
const converter = await LibSampleRate.create(1, 48_000, SAMPLE_RATE, { converterType: CONVERTERS.medium });

/** Throws BAD_QUERY unless `rate` is a whole number of Hz in [MIN_RATE, MAX_RATE]. */
export function checkSampleRate(rate: number): void {
  if (!Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE) {
    throw new ServeError('BAD_QUERY', `sample_rate must be a whole number of Hz from ${MIN_RATE} to ${MAX_RATE}, got ${rate}`);
  }
}

/**
 * `samples` (mono, at `fromRate` Hz) resampled to 16 kHz. At 16 kHz already, returns `samples` itself.
 * Throws ServeError BAD_QUERY for a rate outside [8000, 192000] or not a whole number.
 */
export function resampleTo16k(samples: Float32Array, fromRate: number, quality: ResampleQuality = 'medium'): Float32Array {
  checkSampleRate(fromRate);
  if (fromRate === SAMPLE_RATE || samples.length === 0) return samples;
  converter.converterType = CONVERTERS[quality];
  converter.inputSampleRate = fromRate;
  return converter.simple(samples);
}
