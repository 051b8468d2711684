import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ServeError } from '../../ts/errors.js';
import { javascriptPasses } from '../../ts/lib/samples.js';
import { decodeNpy } from '../../ts/npy.js';
import { checkSampleRate, StreamResampler } from '../../ts/resample.js';
import { decodeChunk, parseFormat, Turn } from '../../ts/stream/turn.js';
import { noise, random } from '../reference/run.js';
import { fixture } from '../helpers/service.js';
import { float32Bytes, int16Bytes } from '../helpers/stream.js';

const throwsCode = (call: () => unknown, code: string, message: RegExp): void => {
  expect(call).to.throw(ServeError).with.property('code', code);
  expect(call).to.throw(message);
};

/** Random chunk sizes (in samples) that add up to n. */
function chunks(x: Float32Array, seed: number, max: number): Float32Array[] {
  const next = random(seed);
  const out: Float32Array[] = [];
  for (let at = 0; at < x.length; ) {
    const size = 1 + Math.floor(next() * max);
    out.push(x.subarray(at, at + size));
    at += size;
  }
  return out;
}

describe('stream/turn', () => {
  describe('parseFormat: the query a stream declares', () => {
    const parse = (q: string) => (): unknown => parseFormat(new URLSearchParams(q));
    it('needs both sample_rate and sample_type, naming what is missing', () => {
      throwsCode(parse('sample_type=int16'), 'BAD_QUERY', /missing: sample_rate/);
      throwsCode(parse(''), 'BAD_QUERY', /missing: sample_rate, sample_type/);
    });
    it("refuses a rate /raw refuses, with /raw's message", () => {
      throwsCode(parse('sample_rate=7999&sample_type=int16'), 'BAD_QUERY', /8000 to 192000, got 7999/);
      throwsCode(parse('sample_rate=16k&sample_type=int16'), 'BAD_QUERY', /whole number of Hz/);
    });
    it('refuses other sample types', () => {
      throwsCode(parse('sample_rate=16000&sample_type=int8'), 'BAD_QUERY', /int16 or float32.*"int8"/);
    });
    it('reads a good one', () => {
      expect(parseFormat(new URLSearchParams('sample_rate=48000&sample_type=float32'))).to.deep.equal({ rate: 48_000, type: 'float32' });
    });
  });

  describe('decodeChunk', () => {
    it('refuses a message that ends mid-sample', () => {
      throwsCode(() => decodeChunk(Buffer.alloc(3), 'int16', javascriptPasses), 'BAD_AUDIO', /3 bytes is not whole int16 samples/);
      throwsCode(() => decodeChunk(Buffer.alloc(6), 'float32', javascriptPasses), 'BAD_AUDIO', /6 bytes is not whole float32 samples/);
    });
    it('refuses NaN and Inf, saying which sample', () => {
      throwsCode(() => decodeChunk(float32Bytes(Float32Array.of(0, 0.5, Number.NaN)), 'float32', javascriptPasses), 'BAD_AUDIO', /sample 2 .* NaN/);
    });
    it("scales int16 exactly as /raw reads '<i2' .npy", () => {
      const npy = readFileSync(fixture('npy/i2.npy'));
      const data = npy.subarray(npy.length - decodeNpy(npy).samples.length * 2);
      expect(Array.from(decodeChunk(data, 'int16', javascriptPasses))).to.deep.equal(Array.from(decodeNpy(npy).samples));
    });
    it('reads samples at any byte offset of the socket buffer', () => {
      const x = noise(100, 0.3, 2);
      for (const type of ['int16', 'float32'] as const) {
        const bytes = type === 'int16' ? int16Bytes(x) : float32Bytes(x);
        const odd = Buffer.alloc(bytes.length + 1);
        bytes.copy(odd, 1);
        expect(Array.from(decodeChunk(odd.subarray(1), type, javascriptPasses))).to.deep.equal(Array.from(decodeChunk(bytes, type, javascriptPasses)));
      }
    });
  });

  describe('Turn', () => {
    it('holds the last window of audio, oldest first, however it was chunked', () => {
      const x = noise(10_000, 0.3, 3);
      for (const seed of [1, 2, 3]) {
        const turn = new Turn(4000);
        for (const c of chunks(x, seed, 5000)) turn.append(c);
        expect(turn.received).to.equal(10_000);
        expect(turn.held).to.equal(4000);
        expect(Array.from(turn.window())).to.deep.equal(Array.from(x.subarray(6000)));
      }
    });

    it('holds less than the window as it is, and a copy (later audio does not change a window taken)', () => {
      const turn = new Turn(4000);
      turn.append(Float32Array.of(0.1, 0.2));
      const w = turn.window();
      turn.append(Float32Array.of(0.3));
      expect(Array.from(w)).to.deep.equal([Math.fround(0.1), Math.fround(0.2)]);
    });

    it('starts a new turn on reset', () => {
      const turn = new Turn(4000);
      turn.append(noise(3000, 0.3, 4));
      turn.reset();
      expect([turn.held, turn.received]).to.deep.equal([0, 0]);
      turn.append(Float32Array.of(0.5));
      expect(Array.from(turn.window())).to.deep.equal([0.5]);
    });

    it('resamples other rates as it goes, the filter state carried across chunks', async () => {
      const x = noise(48_000 * 3, 0.3, 5);
      const parts = chunks(x, 6, 2000);
      const turn = new Turn(32_000, await StreamResampler.create(checkSampleRate(48_000)));
      for (const c of parts) turn.append(c);
      const alone = await StreamResampler.create(checkSampleRate(48_000));
      const out = parts.flatMap((c) => Array.from(alone.push(c)));
      alone.close();
      expect(Array.from(turn.window())).to.deep.equal(out.slice(out.length - 32_000));
      turn.close();
    });
  });
});
