// Decoding of the `.npy` bytes that `np.save` writes (format versions 1.0, 2.0, 3.0) into mono float32
// samples. Little-endian float32 data is returned as a view of the body, not a copy. Every size is
// checked against the body before anything is allocated, so a claimed shape cannot cost memory.
import { ServeError } from './errors.js';
import { samplePasses, type SamplePasses } from './lib/samples.js';
import { parseNpyHeader } from './npy-header.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

interface Dtype {
  bytes: number;
  read: (view: DataView, offset: number) => number;
}

// Keys are NumPy `descr` strings. '|' and '=' mean no byte order / native (little-endian here).
const DTYPES: Record<string, Dtype> = {
  '<f4': { bytes: 4, read: (v, o) => v.getFloat32(o, true) },
  '>f4': { bytes: 4, read: (v, o) => v.getFloat32(o, false) },
  '<f8': { bytes: 8, read: (v, o) => v.getFloat64(o, true) },
  '>f8': { bytes: 8, read: (v, o) => v.getFloat64(o, false) },
  '<i2': { bytes: 2, read: (v, o) => v.getInt16(o, true) / 32768 },
  '>i2': { bytes: 2, read: (v, o) => v.getInt16(o, false) / 32768 },
};
const SUPPORTED = 'float32 (<f4, >f4), float64 (<f8) or int16 (<i2)';

export interface NpyAudio {
  samples: Float32Array;
  dtype: string;
  /** True when `samples` is a view of the body rather than a converted copy. */
  zeroCopy: boolean;
}

function bad(message: string): ServeError {
  return new ServeError('BAD_NPY', message);
}

/** `passes` runs the finite check: the service's own, or SAMPLE_PASSES' default for other callers. */
export function decodeNpy(body: Buffer, passes: SamplePasses = samplePasses()): NpyAudio {
  if (body.length < 10 || !body.subarray(0, 6).equals(MAGIC)) {
    throw bad('body is not a .npy file: it must start with \\x93NUMPY, as np.save writes it');
  }
  const major = body[6]!;
  const minor = body[7]!;
  if (minor !== 0 || major < 1 || major > 3) {
    throw bad(`unsupported .npy format version ${major}.${minor}; expected 1.0, 2.0 or 3.0`);
  }
  const lengthBytes = major === 1 ? 2 : 4;
  const headerStart = 8 + lengthBytes;
  if (body.length < headerStart) throw bad('truncated .npy header: the header length field is incomplete');
  const headerLength = major === 1 ? body.readUInt16LE(8) : body.readUInt32LE(8);
  const dataStart = headerStart + headerLength;
  if (dataStart > body.length) {
    throw bad(`truncated .npy header: it claims ${headerLength} bytes but only ${body.length - headerStart} follow`);
  }
  // A single row or column has the same bytes in either order, so fortran_order is only validated.
  const { descr, shape } = parseNpyHeader(headerText(body, headerStart, dataStart, major), major);
  if (descr === null) throw bad('structured (record) dtypes are not accepted: send a plain float32 array');
  if (descr.includes('O')) throw bad('object arrays (pickled data) are not accepted: send a float32 array');
  const length = sampleCount(shape);
  const dtype = normaliseDescr(descr);
  const info = DTYPES[dtype];
  if (!info) throw bad(`unsupported dtype ${JSON.stringify(descr)}: send ${SUPPORTED} samples`);

  const dataBytes = body.length - dataStart;
  const expected = length * info.bytes;
  if (dataBytes < expected) {
    throw bad(`truncated .npy data: shape (${shape.join(', ')}) of ${dtype} needs ${expected} bytes, got ${dataBytes}`);
  }
  if (dataBytes > expected) {
    throw bad(`.npy data length ${dataBytes} does not match shape (${shape.join(', ')}) of ${dtype} (${expected} bytes)`);
  }

  const absolute = body.byteOffset + dataStart;
  let samples: Float32Array;
  let zeroCopy = false;
  if (dtype === '<f4' && absolute % 4 === 0) {
    samples = new Float32Array(body.buffer, absolute, length);
    zeroCopy = true;
  } else {
    samples = new Float32Array(length);
    const view = new DataView(body.buffer, absolute, expected);
    for (let i = 0; i < length; i++) samples[i] = info.read(view, i * info.bytes);
  }
  if (!Number.isFinite(passes.sums(samples).sum)) {
    const i = samples.findIndex((x) => !Number.isFinite(x));
    throw bad(`sample ${i} is ${samples[i]}: audio must be finite (no NaN or Inf)`);
  }
  return { samples, dtype, zeroCopy };
}

// Version 3.0 headers are UTF-8 (as Python decodes them: invalid bytes refused, a BOM kept as text).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function headerText(body: Buffer, start: number, end: number, major: number): string {
  if (major !== 3) return body.toString('latin1', start, end);
  try {
    return utf8.decode(body.subarray(start, end));
  } catch {
    throw bad('.npy version 3.0 header is not valid UTF-8');
  }
}

function normaliseDescr(descr: string): string {
  if (descr.startsWith('=')) return `<${descr.slice(1)}`;
  return descr;
}

/** Mono audio may come as (N,), (1, N) or (N, 1). */
function sampleCount(shape: bigint[]): number {
  const text = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
  const negative = shape.find((d) => d < 0n);
  if (negative !== undefined) throw bad(`shape has a negative dimension (${negative})`);
  let n: bigint;
  if (shape.length === 1) n = shape[0]!;
  else if (shape.length === 2 && (shape[0] === 1n || shape[1] === 1n)) n = shape[0]! * shape[1]!;
  else if (shape.length === 2) {
    throw bad(`shape ${text} looks like ${shape[0]! < shape[1]! ? shape[0] : shape[1]} channels: send mono audio, shape (N,)`);
  } else throw bad(`shape ${text} is not mono audio: expected (N,), (1, N) or (N, 1)`);
  if (n === 0n) throw bad(`the array is empty (shape ${text}): send at least one sample`);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`shape dimension ${n} is too large`);
  return Number(n);
}
