// The .npy header: the Python dict literal np.save writes, read as NumPy reads it (numpy/lib/format.py
// `_read_array_header`): at most 10000 characters, `ast.literal_eval` of the text (ts/py-literal.ts;
// for versions 1.0 and 2.0 after `_filter_header`, which round-trips it through Python's tokenize module,
// ts/py-tokenize.ts, dropping the Python 2 'L' of integers), exactly the keys 'descr', 'fortran_order'
// and 'shape', a tuple of ints for the shape and a bool for the order.
import { ServeError } from './errors.js';
import { literalEval, PySyntaxError, type PyValue } from './py-literal.js';
import { tokenize, untokenize, type PyToken } from './py-tokenize.js';

/** numpy/lib/format.py `_MAX_HEADER_SIZE`: longer headers are refused before they are parsed. */
export const MAX_HEADER_CHARS = 10_000;

export interface NpyHeader {
  /** The dtype string; null when the header gives a list or tuple (a structured dtype). */
  descr: string | null;
  fortranOrder: boolean;
  /** Dimensions as Python ints; may be negative or huge: the caller checks them against the body. */
  shape: bigint[];
}

// Clients send the same few headers over and over (one per clip length): the last ones parsed are
// kept, since reading one as Python would costs tens of microseconds. Results are never mutated.
const recent = new Map<string, NpyHeader>();
const RECENT = 32;

/** `text`: the header as decoded (latin1 for versions 1.0 and 2.0, UTF-8 for 3.0). */
export function parseNpyHeader(text: string, major: number): NpyHeader {
  const key = `${major}${text}`;
  let header = recent.get(key);
  if (!header) {
    header = readHeader(text, major);
    if (recent.size >= RECENT) recent.delete(recent.keys().next().value!);
    recent.set(key, header);
  }
  return header;
}

function readHeader(text: string, major: number): NpyHeader {
  let characters = text.length;
  // Python counts code points; a UTF-16 string holds astral ones as two units.
  if (major === 3) for (const c of text.matchAll(/[\ud800-\udbff][\udc00-\udfff]/g)) characters -= c[0].length - 1;
  if (characters > MAX_HEADER_CHARS) {
    throw bad(`.npy header of ${characters} characters is longer than NumPy reads (${MAX_HEADER_CHARS})`);
  }
  let value: PyValue;
  try {
    value = literalEval(major < 3 ? filterHeader(text) : text);
  } catch (error) {
    if (error instanceof PySyntaxError) {
      throw bad(`malformed .npy header${error.position === undefined ? '' : ` at character ${error.position}`}: ${error.message}`);
    }
    throw error;
  }
  if (value.t !== 'dict') throw bad('.npy header is not a Python dict literal');
  const keys = [...value.entries.keys()].sort();
  if (value.otherKeys || keys.join() !== 'descr,fortran_order,shape') {
    throw bad(`.npy header must have exactly the keys 'descr', 'fortran_order' and 'shape', got ${value.otherKeys ? 'non-string keys' : keys.map((k) => `'${k}'`).join(', ') || 'none'}`);
  }
  const descr = value.entries.get('descr')!;
  const fortran = value.entries.get('fortran_order')!;
  const shape = value.entries.get('shape')!;
  if (shape.t !== 'tuple' || !shape.items.every((d) => d.t === 'int' || d.t === 'bool')) {
    throw bad(".npy header's 'shape' is not a tuple of integers");
  }
  if (fortran.t !== 'bool') throw bad(".npy header's 'fortran_order' is not True or False");
  if (descr.t !== 'str' && descr.t !== 'list' && descr.t !== 'tuple') throw bad(".npy header's 'descr' is not a dtype");
  return {
    descr: descr.t === 'str' ? descr.v : null,
    fortranOrder: fortran.v,
    shape: shape.items.map((d) => (d.t === 'int' ? d.v : d.t === 'bool' && d.v ? 1n : 0n)),
  };
}

function bad(message: string): ServeError {
  return new ServeError('BAD_NPY', message);
}

/** numpy/lib/format.py `_filter_header`: the header with Python 2's long suffix 'L' dropped. */
function filterHeader(text: string): string {
  const kept: PyToken[] = [];
  let afterNumber = false;
  for (const token of tokenize(text)) {
    // As numpy: a dropped 'L' leaves afterNumber set, so "1 L L" loses both.
    if (afterNumber && token.type === 'NAME' && token.string === 'L') continue;
    kept.push(token);
    afterNumber = token.type === 'NUMBER';
  }
  return untokenize(kept);
}
