import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ServeError } from '../ts/errors.js';
import { decodeNpy } from '../ts/npy.js';
import { fixture } from './helpers/service.js';
import { python } from './helpers/numpy.js';
import { numpyVerdicts } from './helpers/npy-oracle.js';
import { DICT, mutatedHeaders } from './helpers/python-syntax.js';

const npy = (name: string): Buffer => readFileSync(fixture(`npy/${name}`));
const RAMP = Float32Array.from({ length: 1600 }, (_, i) => i / 1600 - 0.5);

/** A version-1.0 .npy with a hand-written header dict, padded as np.save pads it. */
function handmade(header: string, data: Buffer, version = 1): Buffer {
  const prefix = version === 1 ? 10 : 12;
  const padded = header + ' '.repeat((64 - ((prefix + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(prefix);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(padded.length, 8);
  else head.writeUInt32LE(padded.length, 8);
  return Buffer.concat([head, Buffer.from(padded, 'latin1'), data]);
}

function rejects(body: Buffer, message: RegExp): void {
  let caught: unknown;
  try {
    decodeNpy(body);
  } catch (error) {
    caught = error;
  }
  expect(caught, 'decodeNpy should throw').to.be.instanceOf(ServeError);
  expect((caught as ServeError).status).to.equal(400);
  expect((caught as ServeError).code).to.equal('BAD_NPY');
  expect((caught as ServeError).message).to.match(message);
}

const floats = (values: number[]): Buffer => Buffer.from(Float32Array.from(values).buffer);

describe('npy', () => {
  describe('rejects what is not mono float audio', () => {
    it('bytes that are not .npy', () => rejects(Buffer.from('RIFF....WAVEfmt '), /must start with \\x93NUMPY/));
    it('an empty body', () => rejects(Buffer.alloc(0), /not a \.npy file/));
    it('an unknown format version', () => {
      const body = npy('f4.npy');
      body[6] = 4;
      rejects(body, /format version 4\.0/);
    });
    it('a header cut short', () => rejects(npy('f4.npy').subarray(0, 40), /truncated \.npy header/));
    it('a header length field cut short', () => rejects(npy('f4-v2.npy').subarray(0, 11), /header length field/));
    it('a header that is not a dict', () => rejects(handmade("['descr', '<f4']", floats([1])), /not a Python dict/));
    it('a malformed dict', () =>
      rejects(handmade("{'descr': '<f4' 'shape': (1,)}", floats([1])), /malformed \.npy header.*expected ','/));
    it('a dict without shape', () =>
      rejects(handmade("{'descr': '<f4', 'fortran_order': False}", floats([1])), /exactly the keys 'descr', 'fortran_order' and 'shape', got 'descr', 'fortran_order'/));
    it('a dict with a key more', () =>
      rejects(handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", floats([1])), /exactly the keys/));
    it('text after the dict', () =>
      rejects(handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } trailing", floats([1])), /text after the literal/));
    it('a parenthesized number as the shape (an int, not a tuple)', () =>
      rejects(handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", floats([1])), /'shape' is not a tuple of integers/));
    it('brackets nested as deep as CPython refuses', () =>
      rejects(handmade(`{'descr': '<f4', 'fortran_order': False, 'shape': ${'('.repeat(200)}1${',)'.repeat(200)}}`, floats([1])), /too many nested brackets/));
    it('a header longer than NumPy reads', () =>
      rejects(handmade(`{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}${' '.repeat(10_000)}`, floats([1]), 2), /longer than NumPy reads \(10000\)/));
    it('a negative dimension', () =>
      rejects(handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,)}", floats([1])), /negative dimension/));
    it('a huge claimed shape without allocating it', () =>
      rejects(handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000000,)}", floats([1])), /truncated \.npy data.*needs 16000000000000 bytes, got 4/));
    it('object (pickled) arrays', () => rejects(npy('object.npy'), /object arrays/));
    it('structured dtypes', () => rejects(npy('structured.npy'), /structured/));
    it('other dtypes, naming the accepted ones', () => rejects(npy('i4.npy'), /unsupported dtype "<i4".*float32/));
    it('stereo audio', () => rejects(npy('stereo.npy'), /2 channels/));
    it('three-dimensional arrays', () =>
      rejects(handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1)}", floats([1])), /not mono audio/));
    it('an empty array', () => rejects(npy('empty.npy'), /empty/));
    it('NaN samples', () => rejects(npy('nan.npy'), /sample 1 is NaN/));
    it('infinite samples', () => rejects(npy('inf.npy'), /sample 1 is Infinity/));
    it('data shorter than the shape', () => rejects(npy('f4.npy').subarray(0, 1000), /truncated \.npy data/));
    it('data longer than the shape', () => rejects(Buffer.concat([npy('f4.npy'), Buffer.alloc(4)]), /does not match shape/));
  });

  describe('decodes what np.save writes', () => {
    for (const name of ['f4.npy', 'f4-v2.npy', 'f4-v3.npy', 'f4-big-endian.npy', 'f8.npy', 'f4-row.npy', 'f4-column.npy', 'f4-fortran-column.npy']) {
      it(name, () => {
        const { samples } = decodeNpy(npy(name));
        expect(Array.from(samples)).to.deep.equal(Array.from(RAMP));
      });
    }

    it('int16, scaled by 1/32768', () => {
      const { samples, dtype } = decodeNpy(npy('i2.npy'));
      expect(dtype).to.equal('<i2');
      // The fixture is (ramp * 32768).astype(int16), which truncates toward zero.
      expect(Array.from(samples)).to.deep.equal(Array.from(RAMP, (x) => Math.fround(Math.trunc(x * 32768) / 32768)));
    });

    it('little-endian float32 as a view of the body, not a copy', () => {
      const body = npy('f4.npy');
      const { samples, zeroCopy } = decodeNpy(body);
      expect(zeroCopy).to.equal(true);
      expect(samples.buffer).to.equal(body.buffer);
      body.writeFloatLE(0.25, body.length - 4);
      expect(samples[samples.length - 1]).to.equal(0.25);
    });

    it('misaligned float32 by copying', () => {
      const body = npy('f4.npy');
      const shifted = Buffer.alloc(body.length + 1).subarray(1);
      body.copy(shifted);
      const { samples, zeroCopy } = decodeNpy(shifted);
      expect(zeroCopy).to.equal(false);
      expect(Array.from(samples)).to.deep.equal(Array.from(RAMP));
    });

    it('header keys in any order and spacing', () => {
      const data = floats([0.5, -0.25, 1]);
      for (const header of [
        "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
        "{ 'fortran_order' : False , 'descr':'<f4','shape':( 3 , ) , }",
        '{"descr": "<f4", "fortran_order": False, "shape": (3,)}',
      ]) {
        expect(Array.from(decodeNpy(handmade(header, data)).samples)).to.deep.equal([0.5, -0.25, 1]);
      }
    });

    it('a long clip from NumPy (8 s of noise, float64)', () => {
      const body = python('rng = np.random.default_rng(7); out = save(rng.standard_normal(128000))');
      const reference = python('rng = np.random.default_rng(7); out = rng.standard_normal(128000).astype("<f4").tobytes()');
      const { samples } = decodeNpy(body);
      expect(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).equals(reference)).to.equal(true);
    });
  });
  describe('reads the header as NumPy does (numpy/lib/format.py _read_array_header)', () => {
    /** A .npy holding 16 samples after `header` verbatim (no padding added), in format `major`.0. */
    const withHeader = (header: string, major: number): Buffer => {
      const text = Buffer.from(header, major === 3 ? 'utf8' : 'latin1');
      const head = Buffer.alloc(major === 1 ? 10 : 12);
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]).copy(head);
      if (major === 1) head.writeUInt16LE(text.length, 8);
      else head.writeUInt32LE(text.length, 8);
      return Buffer.concat([head, text, floats(Array.from({ length: 16 }, (_, i) => i / 16 - 0.5))]);
    };
    const accepts = (body: Buffer): boolean => {
      try {
        decodeNpy(body);
        return true;
      } catch (error) {
        if (!(error instanceof ServeError) || error.code !== 'BAD_NPY') throw error;
        return false;
      }
    };

    // Python's literal syntax in the places NumPy's own reader allows it, each checked against NumPy.
    const CASES: ReadonlyArray<readonly [string, number, boolean]> = [
      [`${DICT}   \n`, 1, true],
      [`${DICT} x \n`, 1, false], // issue 12: trailing garbage
      [`${DICT}  # a comment\n`, 1, true],
      [`${DICT}\n\n  \n`, 3, true],
      [`${DICT}\n  `, 3, false], // a last line of spaces is an unexpected indent to CPython...
      [`${DICT}\n  `, 1, true], // ...but numpy's _filter_header drops it for versions 1.0 and 2.0
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (16L,), }\n", 1, true],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (16L,), }\n", 3, false],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (0x10,), }\n", 3, true],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (016,), }\n", 3, false],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': ((16,)), }\n", 3, true],
      ["{'descr': '<f4', 'fortran_order': (False), 'shape': (+16,), }\n", 3, true],
      ["{'descr': '<' 'f4', 'fortran_order': False, 'shape': (16,), }\n", 3, true],
      ["{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (16,), }\n", 3, true],
      ["{'descr': '<f4', 'fortran_order': 0, 'shape': (16,), }\n", 3, false],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (16,), 'shape': [16], }\n", 3, false],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': [16], 'shape': (16,), }\n", 3, true],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (16,), 1: {[1]: 2}}\n", 3, false],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (16,), }\x0b\n", 1, false],
      ["{'descr': '<f4',\r'fortran_order': False, 'shape': (16,), }\n", 3, true],
      ["\\\n{'descr': '<f4', 'fortran_order': False, 'shape': (16,), }\n", 3, true],
    ];

    it('accepts and refuses what NumPy does, for literal syntax beyond what np.save writes', () => {
      const bodies = CASES.map(([header, major]) => withHeader(header, major));
      const numpy = numpyVerdicts(bodies);
      CASES.forEach(([header, major, served], i) => {
        expect(numpy[i] === 'served', `NumPy on v${major} ${JSON.stringify(header)}`).to.equal(served);
        expect(accepts(bodies[i]!), `v${major} ${JSON.stringify(header)}`).to.equal(served);
      });
    });

    it('agrees with np.load on 3000 headers mutated at random, in format versions 1.0, 2.0 and 3.0', function () {
      this.timeout(60_000);
      const headers = mutatedHeaders(3000, 20261201);
      const majors = headers.map((_, i) => 1 + (i % 3));
      const names = headers.map((h, i) => `v${majors[i]} ${JSON.stringify(h)}`);
      const bodies = headers.map((h, i) => withHeader(h, majors[i]!));
      const numpy = numpyVerdicts(bodies);
      const disagree = bodies.map((body, i) => [accepts(body), numpy[i]] as const).flatMap(([ours, theirs], i) => (ours === (theirs === 'served') ? [] : [`${names[i]}: NumPy ${theirs}, ours ${ours}`]));
      expect(disagree).to.deep.equal([]);
      // The corpus reaches both sides of the line, and past np.load into what the server refuses itself.
      expect(numpy.filter((v) => v === 'served').length).to.be.above(50);
      expect(numpy.filter((v) => v === 'loads-but-not-served').length).to.be.above(5);
    });
  });
});
