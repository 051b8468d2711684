// A stream's turn: the audio received since the last reset, kept as the model will see it, its window
// at 16 kHz, so that a prediction costs no decoding or resampling of audio the server already has.
import { ServeError } from '../errors.js';
import type { SamplePasses } from '../lib/samples.js';
import { parseSampleRate, type SampleRate, type StreamResampler } from '../resample.js';

export const SAMPLE_TYPES = ['int16', 'float32'] as const;
/** Little-endian PCM: int16 (scaled by 1/32768, as /raw reads `<i2`) or float32. */
export type SampleType = (typeof SAMPLE_TYPES)[number];
const SAMPLE_BYTES: Record<SampleType, number> = { int16: 2, float32: 4 };

export interface AudioFormat {
  rate: SampleRate;
  type: SampleType;
}

/** The format a stream declares in its query (`sample_rate`, `sample_type`); throws BAD_QUERY. */
export function parseFormat(query: URLSearchParams): AudioFormat {
  const rate = query.get('sample_rate');
  const type = query.get('sample_type');
  if (rate === null || type === null) {
    throw new ServeError('BAD_QUERY', `/stream needs the audio's format in its query, e.g. /stream?sample_rate=16000&sample_type=int16 (missing: ${[rate === null ? 'sample_rate' : '', type === null ? 'sample_type' : ''].filter(Boolean).join(', ')})`);
  }
  if (!(SAMPLE_TYPES as readonly string[]).includes(type)) {
    throw new ServeError('BAD_QUERY', `sample_type must be ${SAMPLE_TYPES.join(' or ')} (little-endian), got ${JSON.stringify(type)}`);
  }
  return { rate: parseSampleRate(rate), type: type as SampleType };
}

/**
 * One binary message's samples at the client's rate (a view of `chunk` where its alignment allows).
 * Throws BAD_AUDIO for a message that does not hold whole samples or holds NaN or Inf.
 */
export function decodeChunk(chunk: Buffer, type: SampleType, passes: SamplePasses): Float32Array {
  const size = SAMPLE_BYTES[type];
  if (chunk.length % size !== 0) {
    throw new ServeError('BAD_AUDIO', `a binary message of ${chunk.length} bytes is not whole ${type} samples (${size} bytes each): end every message on a sample boundary; this one was dropped`);
  }
  const n = chunk.length / size;
  // Typed arrays need their element alignment; a message may start anywhere in the socket's buffer.
  const bytes = chunk.byteOffset % size === 0 ? chunk : Buffer.from(chunk);
  if (type === 'float32') {
    const samples = new Float32Array(bytes.buffer, bytes.byteOffset, n);
    if (!Number.isFinite(passes.sums(samples).sum)) {
      const i = samples.findIndex((x) => !Number.isFinite(x));
      throw new ServeError('BAD_AUDIO', `sample ${i} of this message is ${samples[i]}: audio must be finite (no NaN or Inf); the message was dropped`);
    }
    return samples;
  }
  const pcm = new Int16Array(bytes.buffer, bytes.byteOffset, n);
  const samples = new Float32Array(n);
  for (let i = 0; i < n; i++) samples[i] = pcm[i]! / 32768;
  return samples;
}

export class Turn {
  readonly #ring: Float32Array;
  readonly #resampler: StreamResampler | undefined;
  /** Where the next 16 kHz sample goes, and how many the ring holds. */
  #end = 0;
  #held = 0;
  #received = 0;

  /**
   * @param windowSamples the model's window at 16 kHz: older audio is forgotten.
   * @param resampler for audio at another rate; the turn owns it (closes it).
   */
  constructor(windowSamples: number, resampler?: StreamResampler) {
    this.#ring = new Float32Array(windowSamples);
    this.#resampler = resampler;
  }

  /** Samples received since the last reset, at the client's rate. */
  get received(): number {
    return this.#received;
  }

  /** 16 kHz samples held (at most the window). */
  get held(): number {
    return this.#held;
  }

  /** Appends samples at the client's rate. */
  append(samples: Float32Array): void {
    this.#received += samples.length;
    this.#write(this.#resampler ? this.#resampler.push(samples) : samples);
  }

  /** A copy of the 16 kHz samples held, oldest first. */
  window(): Float32Array {
    const ring = this.#ring;
    const out = new Float32Array(this.#held);
    const start = (this.#end - this.#held + ring.length) % ring.length;
    const first = Math.min(this.#held, ring.length - start);
    out.set(ring.subarray(start, start + first));
    out.set(ring.subarray(0, this.#held - first), first);
    return out;
  }

  /** Starts a new turn: nothing held, the resampler's filter empty. */
  reset(): void {
    this.#end = 0;
    this.#held = 0;
    this.#received = 0;
    this.#resampler?.reset();
  }

  close(): void {
    this.#resampler?.close();
  }

  #write(x: Float32Array): void {
    const ring = this.#ring;
    const cap = ring.length;
    if (x.length >= cap) {
      ring.set(x.subarray(x.length - cap));
      this.#end = 0;
      this.#held = cap;
      return;
    }
    const first = Math.min(x.length, cap - this.#end);
    ring.set(x.subarray(0, first), this.#end);
    ring.set(x.subarray(first), 0);
    this.#end = (this.#end + x.length) % cap;
    this.#held = Math.min(cap, this.#held + x.length);
  }
}
