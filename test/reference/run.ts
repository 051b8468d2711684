// Runs a NumPy/SciPy reference in test/reference/ over a batch of clips, in one interpreter start.
// Debian's /usr/bin/python3 has python3-numpy and python3-scipy; the python3 first on PATH may not.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PYTHON = process.env['NUMPY_PYTHON'] ?? '/usr/bin/python3';

/** stdin: uint32 count, then per clip uint32 length + float32 samples (little-endian). */
export function runReference(script: string, clips: readonly Float32Array[]): Buffer {
  const parts: Buffer[] = [u32(clips.length)];
  for (const clip of clips) {
    parts.push(u32(clip.length), Buffer.from(clip.buffer, clip.byteOffset, clip.byteLength));
  }
  const path = fileURLToPath(new URL(script, import.meta.url));
  return execFileSync(PYTHON, [path], { input: Buffer.concat(parts), maxBuffer: 1024 * 1024 * 1024 });
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** Deterministic uniform [0, 1) numbers (mulberry32), so a failing case can be replayed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gaussian noise (Box–Muller) of standard deviation `sigma`. */
export function noise(n: number, sigma: number, seed: number): Float32Array {
  const r = random(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = sigma * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

/** Sum of sines (frequency Hz, amplitude) at `rate`. */
export function tones(n: number, parts: ReadonlyArray<readonly [number, number]>, rate = 16_000): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (const [f, a] of parts) v += a * Math.sin((2 * Math.PI * f * i) / rate);
    out[i] = v;
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
