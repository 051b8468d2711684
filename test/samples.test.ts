// The per-sample passes (ts/lib/samples.ts): the native addon's SIMD C++ against the JavaScript passes on
// awkward inputs, the addon's argument checks, and SAMPLE_PASSES end to end through the real server.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Batch } from '../ts/tensor.js';
import { loadConfig } from '../ts/config.js';
import type { NativeAddon, NativeError } from '../ts/lib/native.js';
import { ConfigError } from '../ts/errors.js';
import { javascriptPasses, samplePasses, type SamplePasses } from '../ts/lib/samples.js';
import { npyBody } from '../bench/lib/bench.js';
import { ZeroCostBackend } from '../bench/lib/zero-cost-backend.js';
import { hasAddon, requireAddon } from './helpers/native.js';
import { post, startTestService } from './helpers/service.js';

function seeded(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

const with_ = (x: Float32Array, at: number, value: number): Float32Array => {
  const copy = x.slice();
  copy[at] = value;
  return copy;
};

// Lengths around the vector widths (4, 8, 16 floats) and their remainders; values from denormals to
// the float32 maximum; non-finite values first, last and in the middle.
const INPUTS: ReadonlyArray<readonly [string, Float32Array]> = [
  ['empty', new Float32Array(0)],
  ['one sample', Float32Array.of(-0.25)],
  ...[3, 7, 8, 15, 17, 33, 1001].map((n) => [`${n} samples`, seeded(n, n)] as const),
  ['8 s of noise', seeded(128_000, 1)],
  ['16 s plus one sample', seeded(256_001, 2, 0.3)],
  ['denormals', seeded(999, 3, 1e-39)],
  ['float32 maximum', new Float32Array(1027).fill(3.4028234663852886e38)],
  ['mixed magnitudes', Float32Array.from(seeded(4099, 4), (x, i) => x * 10 ** ((i % 40) - 20))],
  ['NaN first', with_(seeded(4096, 5), 0, Number.NaN)],
  ['Infinity last', with_(seeded(4097, 6), 4096, Number.POSITIVE_INFINITY)],
  ['-Infinity inside', with_(seeded(4097, 7), 2049, Number.NEGATIVE_INFINITY)],
  ['+Infinity and -Infinity', with_(with_(seeded(64, 8), 3, Number.POSITIVE_INFINITY), 9, Number.NEGATIVE_INFINITY)],
];

/** Equal as float64 sums taken in another order can be: relative to the sum of magnitudes. */
function expectSameSum(ours: number, theirs: number, magnitude: number, what: string): void {
  if (!Number.isFinite(theirs) || Number.isNaN(theirs)) {
    expect(Object.is(ours, theirs) || (Number.isNaN(ours) && Number.isNaN(theirs)), `${what}: ${ours} vs ${theirs}`).to.equal(true);
    return;
  }
  expect(Math.abs(ours - theirs), what).to.be.at.most(1e-12 * magnitude + Number.MIN_VALUE);
}

describe('per-sample passes (ts/lib/samples.ts)', () => {
  it('runs natively where the addon loads, in JavaScript where it does not', () => {
    expect(samplePasses().implementation).to.equal(hasAddon ? 'native' : 'javascript');
  });

  it('SAMPLE_PASSES=native refuses to start without the addon, naming the variable and why', function () {
    if (hasAddon) this.skip();
    expect(() => samplePasses('native')).to.throw(/^SAMPLE_PASSES: native: the native addon is not built or does not load/);
    expect(samplePasses().implementation).to.equal('javascript');
  });

  describe('native against JavaScript', () => {
    let native: SamplePasses;
    before(function () {
      requireAddon(this);
      native = samplePasses('native');
    });

    for (const [name, x] of INPUTS) {
      it(`sums and squares agree, finiteness included: ${name}`, () => {
        const n = native.sums(x);
        const j = javascriptPasses.sums(x);
        let magnitude = 0;
        let squares = 0;
        for (const v of x) {
          magnitude += Math.abs(v);
          squares += v * v;
        }
        expectSameSum(n.sum, j.sum, magnitude, 'sum');
        expectSameSum(n.squares, j.squares, squares, 'squares');
        expect(Number.isFinite(n.sum)).to.equal(x.every(Number.isFinite));
      });

      it(`normalize writes bit-identical samples at an offset and nothing else: ${name}`, () => {
        const run = (passes: SamplePasses): Float32Array => {
          const dst = new Float32Array(x.length + 10).fill(42);
          passes.normalize(x, dst, 5, 0.125, 3.5);
          return dst;
        };
        const n = run(native);
        const j = run(javascriptPasses);
        expect(Buffer.from(n.buffer).equals(Buffer.from(j.buffer))).to.equal(true);
        expect([...n.subarray(0, 5), ...n.subarray(x.length + 5)]).to.deep.equal(new Array(10).fill(42));
      });
    }
  });

  describe('the addon refuses what would read or write out of bounds', () => {
    let addon: NativeAddon;
    before(function () {
      addon = requireAddon(this);
    });
    const dst = new Float32Array(100);
    const src = new Float32Array(10);
    const refusal = (call: () => void): NativeError => {
      try {
        call();
      } catch (error) {
        return error as NativeError;
      }
      throw new Error('expected the call to throw');
    };

    for (const [offset, why] of [[91, 'past the end'], [-1, 'negative'], [2.5, 'fractional'], [Number.NaN, 'NaN']] as const) {
      it(`RangeError for an offset ${why} (${offset})`, () => {
        const e = refusal(() => addon.normalizeSamples(src, dst, offset, 0, 1));
        expect(e).to.be.instanceOf(RangeError);
        expect(e.code).to.equal('ERR_OUT_OF_RANGE');
        expect(e.message).to.match(/offset .* does not leave room for 10 samples in dst of 100/);
      });
    }

    it('TypeError for arrays that are not Float32Array', () => {
      for (const call of [
        () => addon.sumSamples(new Float64Array(4) as unknown as Float32Array),
        () => addon.sumSamples([1, 2] as unknown as Float32Array),
        () => addon.normalizeSamples(src, new Uint8Array(40) as unknown as Float32Array, 0, 0, 1),
        () => addon.normalizeSamples(src, dst, '0' as unknown as number, 0, 1),
      ]) {
        const e = refusal(call);
        expect(e).to.be.instanceOf(TypeError);
        expect(e.code).to.equal('ERR_INVALID_ARG_TYPE');
      }
    });

    it('the last place that fits is accepted', () => {
      addon.normalizeSamples(src, dst, 90, 0, 1);
    });
  });

  describe('SAMPLE_PASSES', () => {
    it('is validated like every other variable', () => {
      expect(() => loadConfig({ SAMPLE_PASSES: 'simd' })).to.throw(/SAMPLE_PASSES: expected one of auto, native, javascript/);
      expect(loadConfig({}).samplePasses).to.equal('auto');
    });

    it('native refuses to start without the addon, saying why; auto falls back to JavaScript', () => {
      const missing = { addon: undefined, reason: 'the native addon is not built' };
      expect(() => samplePasses('native', missing)).to.throw(ConfigError, /SAMPLE_PASSES: native: the native addon is not built/);
      expect(samplePasses('auto', missing)).to.equal(javascriptPasses);
      expect(samplePasses('javascript')).to.equal(javascriptPasses);
    });

    it('each service runs its own choice, whatever a later one in the same process chose', async function () {
      this.timeout(30_000);
      const addon = requireAddon(this);
      const javascript = await startTestService({ SAMPLE_PASSES: 'javascript' }, new ZeroCostBackend());
      const nativeService = await startTestService({ SAMPLE_PASSES: 'native' }, new ZeroCostBackend());
      const sumSamples = addon.sumSamples;
      let nativeCalls = 0;
      addon.sumSamples = (samples) => {
        nativeCalls++;
        return sumSamples.call(addon, samples);
      };
      try {
        expect((await post(`${javascript.url}/raw`, npyBody(300 * 1024))).status).to.equal(200);
        expect(nativeCalls, 'native sums for the javascript service').to.equal(0);
        expect((await post(`${nativeService.url}/raw`, npyBody(300 * 1024))).status).to.equal(200);
        expect(nativeCalls, 'native sums for the native service').to.be.greaterThan(0);
      } finally {
        addon.sumSamples = sumSamples;
        await javascript.stop();
        await nativeService.stop();
      }
    });

    it('fills the same batch rows through the server either way', async function () {
      this.timeout(30_000);
      requireAddon(this);
      const rows: Record<string, string> = {};
      for (const choice of ['native', 'javascript'] as const) {
        const backend = new ZeroCostBackend();
        const service = await startTestService({ SAMPLE_PASSES: choice }, backend);
        try {
          expect(service.passes.implementation).to.equal(choice);
          backend.onInfer = (batch: Batch, count: number) => {
            const values = batch.inputs['input_values'] as Float32Array;
            rows[choice] = createHash('sha256').update(values.subarray(0, count * 256_000)).digest('hex');
          };
          expect((await post(`${service.url}/raw`, npyBody(300 * 1024))).status).to.equal(200);
        } finally {
          await service.stop();
        }
      }
      expect(rows['native']).to.be.a('string');
      expect(rows['native']).to.equal(rows['javascript']);
    });
  });
});
