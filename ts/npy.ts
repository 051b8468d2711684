// Decoding of the `.npy` bytes that `np.save` writes (format versions 1.0, 2.0, 3.0) into mono float32
// samples. Little-endian float32 data is returned as a view of the body, not a copy. Every size is
// checked against the body before anything is allocated, so a claimed shape cannot cost memory.
import { ServeError } from './errors.js';
import { samplePasses, type SamplePasses } from './lib/samples.js';

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
  const header = body.toString(major === 3 ? 'utf8' : 'latin1', headerStart, dataStart);
  const { descr, fortranOrder, shape } = parseHeader(header);
  void fortranOrder; // A single row or column has the same bytes in either order.

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

function normaliseDescr(descr: string): string {
  if (descr.startsWith('=')) return `<${descr.slice(1)}`;
  return descr;
}

/** Mono audio may come as (N,), (1, N) or (N, 1). */
function sampleCount(shape: number[]): number {
  const text = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
  let n: number;
  if (shape.length === 1) n = shape[0]!;
  else if (shape.length === 2 && (shape[0] === 1 || shape[1] === 1)) n = shape[0]! * shape[1]!;
  else if (shape.length === 2) {
    throw bad(`shape ${text} looks like ${Math.min(...shape)} channels: send mono audio, shape (N,)`);
  } else throw bad(`shape ${text} is not mono audio: expected (N,), (1, N) or (N, 1)`);
  if (n === 0) throw bad(`the array is empty (shape ${text}): send at least one sample`);
  return n;
}

interface Header {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

// The header is a Python dict literal. A small tokenizer over exactly the value kinds np.save writes
// (strings, booleans, tuples of ints) accepts any key order and spacing without an eval.
function parseHeader(text: string): Header {
  const p = new LiteralParser(text);
  const dict = p.parseDict();
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shape = dict.get('shape');
  if (Array.isArray(descr) || (typeof descr === 'object' && descr !== null)) {
    throw bad('structured (record) dtypes are not accepted: send a plain float32 array');
  }
  if (typeof descr !== 'string') throw bad(".npy header has no 'descr' string");
  if (descr.includes('O')) throw bad('object arrays (pickled data) are not accepted: send a float32 array');
  if (typeof fortran !== 'boolean') throw bad(".npy header has no 'fortran_order' boolean");
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number')) {
    throw bad(".npy header has no 'shape' tuple of integers");
  }
  return { descr, fortranOrder: fortran, shape: shape as number[] };
}

// Tuples are arrays; lists are kept apart, since NumPy itself refuses a shape that is not a tuple.
type Literal = string | number | boolean | Literal[] | { list: Literal[] } | Map<string, Literal>;

class LiteralParser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly s: string) {}

  parseDict(): Map<string, Literal> {
    this.skip();
    if (this.s[this.pos] !== '{') throw bad('.npy header is not a Python dict literal');
    const value = this.value();
    this.skip();
    if (this.pos !== this.s.length) throw bad('.npy header has text after its dict');
    return value as Map<string, Literal>;
  }

  private skip(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }

  private fail(what: string): never {
    throw bad(`malformed .npy header at character ${this.pos}: ${what}`);
  }

  private value(): Literal {
    this.skip();
    const c = this.s[this.pos];
    if (c === '{') return this.sequence('{', '}', true) as Map<string, Literal>;
    if (c === '(') return this.sequence('(', ')', false) as Literal[];
    if (c === '[') return { list: this.sequence('[', ']', false) as Literal[] };
    if (c === "'" || c === '"') return this.string(c);
    const word = /^(True|False|-?\d+L?)/.exec(this.s.slice(this.pos, this.pos + 24));
    if (!word) this.fail(c === undefined ? 'unexpected end' : `unexpected ${JSON.stringify(c)}`);
    this.pos += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    const n = Number(word[0].replace('L', ''));
    if (n < 0) throw bad(`shape has a negative dimension (${n})`);
    if (!Number.isSafeInteger(n)) throw bad(`shape dimension ${word[0]} is too large`);
    return n;
  }

  private string(quote: string): string {
    const end = this.s.indexOf(quote, this.pos + 1);
    if (end < 0) this.fail('unterminated string');
    const text = this.s.slice(this.pos + 1, end);
    this.pos = end + 1;
    return text;
  }

  private sequence(open: string, close: string, isDict: boolean): Literal[] | Map<string, Literal> {
    this.pos++; // past `open`
    if (++this.depth > 4) this.fail('nested too deeply');
    const items: Literal[] = [];
    const map = new Map<string, Literal>();
    for (;;) {
      this.skip();
      if (this.s[this.pos] === close) {
        this.pos++;
        this.depth--;
        return isDict ? map : items;
      }
      if (isDict) {
        const key = this.value();
        if (typeof key !== 'string') this.fail('dict key is not a string');
        this.skip();
        if (this.s[this.pos] !== ':') this.fail("expected ':'");
        this.pos++;
        map.set(key, this.value());
      } else {
        items.push(this.value());
      }
      this.skip();
      const c = this.s[this.pos];
      if (c === ',') this.pos++;
      else if (c !== close) this.fail(`expected ',' or '${open === '{' ? '}' : close}'`);
    }
  }
}
