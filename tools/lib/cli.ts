// What warmup, bench and client share on the command line: the audio to send (--sample, --seconds,
// --tone), the request timeout, --help, and turning expected failures into one line and an exit code.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { encodeNpy } from './npy.js';
import { UsageError } from './target.js';
import { SAMPLE_RATE } from '../../ts/audio.js';
import { fitToSeconds, readWav, tone, WavError } from './wav.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SAMPLES_DIR = path.join(ROOT, 'samples');
export const DEFAULT_SAMPLE = path.join(SAMPLES_DIR, 'mid.wav');

export const AUDIO_OPTIONS = {
  sample: { type: 'string' },
  seconds: { type: 'string', default: '8' },
  tone: { type: 'boolean', default: false },
  'native-rate': { type: 'boolean', default: false },
  int16: { type: 'boolean', default: false },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export const AUDIO_HELP = `  --sample FILE   WAV to send (any rate, channels, 8/16/24/32-bit or float); a name not found here
                  is looked up in samples/. Default: samples/mid.wav
  --tone          send a generated 220 Hz tone instead of a WAV
  --seconds N     pad (leading silence) or cut (keeping the end) to N seconds. Default 8
  --native-rate   send the WAV at its own rate, declared in X-Sample-Rate, for the server to resample
                  (default: resampled to 16 kHz here, with the server's resampler, and declared 16000)
  --int16         send int16 PCM (<i2), half the bytes of float32`;

export function parse<O extends ParseArgsConfig['options']>(options: O, argv = process.argv.slice(2)) {
  try {
    return parseArgs({ options, args: argv, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function number(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new UsageError(`--${name} must be a number ≥ ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

/** `--sample` as given, else samples/<name>, else a UsageError listing what samples/ has. */
export function resolveSample(name: string): string {
  if (existsSync(name)) return name;
  const shipped = path.join(SAMPLES_DIR, name);
  if (!path.isAbsolute(name) && existsSync(shipped)) return shipped;
  throw new UsageError(`no such sample: ${name} (not in the current folder nor in ${SAMPLES_DIR}); regenerate the shipped ones with bash scripts/make_sample.sh`);
}

export interface Clip {
  /** np.save bytes, ready to post. */
  body: Buffer;
  /** Headers that go with it: the rate the audio really has. */
  headers: Record<string, string>;
  /** The same audio as samples, and their rate, for a stream. */
  samples: Float32Array;
  rate: number;
  /** What was sent, for the report line. */
  description: string;
}

export function loadClip(values: { sample?: string; seconds?: string; tone?: boolean; 'native-rate'?: boolean; int16?: boolean }): Clip {
  const seconds = number('seconds', values.seconds, 8, 0.1);
  const dtype = values.int16 ? '<i2' : '<f4';
  const as = `${dtype === '<i2' ? 'int16' : 'float32'} mono`;
  const sent = (samples: Float32Array, rate: number, description: string): Clip => ({
    body: encodeNpy(samples, dtype),
    headers: { 'x-sample-rate': String(rate) },
    samples,
    rate,
    description: `${description} as ${seconds} s at ${rate} Hz ${as}`,
  });
  if (values.tone) return sent(tone(seconds), SAMPLE_RATE, 'a generated tone');
  const file = resolveSample(values.sample ?? DEFAULT_SAMPLE);
  const wav = readWav(file);
  const from = `${path.relative(process.cwd(), file) || file} (${wav.bitDepth}-bit ${wav.channels} ch ${wav.sourceRate} Hz, ${(wav.samples.length / SAMPLE_RATE).toFixed(2)} s)`;
  if (values['native-rate']) return sent(fitToSeconds(wav.mono, seconds, wav.sourceRate), wav.sourceRate, from);
  return sent(fitToSeconds(wav.samples, seconds), SAMPLE_RATE, from);
}

/**
 * Runs a tool's main, printing an expected failure (bad usage, unreadable WAV) as one line with exit
 * code 2; anything else is a bug and keeps its stack.
 */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      if (error instanceof UsageError || error instanceof WavError) {
        console.error(`error: ${error.message}`);
        process.exitCode = 2;
      } else {
        console.error(error);
        process.exitCode = 1;
      }
    },
  );
}
