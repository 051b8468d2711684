// WAV files → the 16 kHz mono float32 samples the server takes. wavefile parses the container (PCM
// 8/16/24/32-bit, float 32/64, WAVE_FORMAT_EXTENSIBLE); channels are averaged; the rate conversion is
// the server's own (ts/resample.ts, libsamplerate), so a tool sends what a resampling client would.
import { readFileSync } from 'node:fs';
import wavefile from 'wavefile';
import { SAMPLE_RATE } from '../../ts/audio.js';
import { checkSampleRate, Resampler } from '../../ts/resample.js';

export interface DecodedWav {
  /** Mono, 16 kHz, nominally in [-1, 1]. */
  samples: Float32Array;
  /** Mono at the file's own rate (`sourceRate`), before resampling. */
  mono: Float32Array;
  sourceRate: number;
  channels: number;
  /** wavefile's bit depth code: '8', '16', '24', '32', '32f', '64'. */
  bitDepth: string;
}

// A tool that reads WAVs resamples them: one converter for the tool's process.
const resampler = await Resampler.create();

/** Thrown for a file that is not a WAV this tool can read; the message says what to do. */
export class WavError extends Error {
  override name = 'WavError';
}

export function readWav(file: string): DecodedWav {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new WavError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return decodeWav(bytes, file);
}

export function decodeWav(bytes: Uint8Array, name = 'the WAV'): DecodedWav {
  const wav = new wavefile.WaveFile();
  try {
    wav.fromBuffer(bytes);
  } catch (error) {
    throw new WavError(`${name} is not a WAV file wavefile can parse (${(error as Error).message}); convert it, e.g. sox in.mp3 -r 16000 -c 1 out.wav`);
  }
  const fmt = wav.fmt as { numChannels: number; sampleRate: number; audioFormat: number };
  const bitDepth = wav.bitDepth;
  if (!['8', '16', '24', '32', '32f', '64'].includes(bitDepth)) {
    throw new WavError(`${name} holds ${bitDepth}-bit samples (format ${fmt.audioFormat}); expected PCM 8/16/24/32-bit or float 32/64`);
  }
  // Read before toBitDepth, which rebuilds the header.
  const { numChannels: channels, sampleRate } = fmt;
  // toBitDepth('32f') maps every integer format (8-bit unsigned included) onto [-1, 1].
  if (bitDepth !== '32f' && bitDepth !== '64') wav.toBitDepth('32f');
  const interleaved = wav.getSamples(true, Float64Array) as unknown as Float64Array;
  const frames = Math.floor(interleaved.length / channels);
  const mono = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += interleaved[i * channels + c]!;
    mono[i] = sum / channels;
  }
  let samples: Float32Array;
  try {
    samples = resampler.to16k(mono, checkSampleRate(sampleRate));
  } catch (error) {
    throw new WavError(`${name}: ${(error as Error).message}`);
  }
  return { samples, mono, sourceRate: sampleRate, channels, bitDepth };
}

/**
 * Exactly `seconds` of audio at `rate`: a longer clip keeps its end (as Pipecat keeps the last
 * max_duration_secs, since the end decides the turn); a shorter one gets leading silence.
 */
export function fitToSeconds(samples: Float32Array, seconds: number, rate: number = SAMPLE_RATE): Float32Array {
  const n = Math.round(seconds * rate);
  if (samples.length >= n) return samples.slice(samples.length - n);
  const out = new Float32Array(n);
  out.set(samples, n - samples.length);
  return out;
}

/** A 220 Hz tone with a slow tremolo, for when no sample is given. */
export function tone(seconds: number): Float32Array {
  const n = Math.round(seconds * SAMPLE_RATE);
  return Float32Array.from({ length: n }, (_, i) => {
    const t = i / SAMPLE_RATE;
    return 0.3 * Math.sin(2 * Math.PI * 220 * t) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t));
  });
}
