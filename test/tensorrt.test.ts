// The TensorRT backend (ts/backends/tensorrt.ts) on the addon's host TEST executor, serving through
// the real Batcher next to the ONNX Runtime backend on the same fixture model. Which plans it opens,
// and whether they may serve, is test/engines.test.ts.
import { expect } from 'chai';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { TensorRtBackend } from '../ts/backends/tensorrt.js';
import { Batcher } from '../ts/batcher.js';
import type { NativeAddon } from '../ts/lib/native.js';
import { expectedV2, READOUT_V2 } from './helpers/fixtures.js';
import { openTestBackend, rejection, requireAddon, WINDOW } from './helpers/native.js';

/** A clip of n samples of a slow sine with a DC offset, distinct per seed. */
const samples = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i / (50 + seed)) + 0.1 * seed);

describe('tensorrt backend', () => {
  let addon: NativeAddon;
  before(function () {
    addon = requireAddon(this);
  });

  it('opens what it is given, and says which plans did not fit the device', async () => {
    const error = await rejection(
      TensorRtBackend.open({
        addon,
        options: { executor: 'test-host', buckets: [8, 16], test: { device: { freeMiB: 100, totalMiB: 100, scratchBytesPerRow: 2 ** 20 } } },
        model: 'smart-turn-v2 (bfloat16, engines/smart-turn-v2/bfloat16)',
        reason: 'test',
      }),
    );
    expect(error.message).to.match(/^smart-turn-v2 \(bfloat16, engines\/smart-turn-v2\/bfloat16\): not enough free memory on GPU 0 for buckets 8, 16 with 2 slots each/);
  });

  describe('on the host TEST executor', () => {
    let backend: TensorRtBackend;
    beforeEach(async () => (backend = await openTestBackend(addon, { executor: 'test-host', buckets: [2, 4, 8] })));
    afterEach(() => backend.close());

    it('implements Backend: buckets, family, one batch in flight per slot', () => {
      expect(backend.info.name).to.equal('tensorrt');
      expect(backend.info.reason).to.match(/TEST executor test-host/);
      expect(backend.buckets).to.deep.equal([2, 4, 8]);
      expect(backend.family.id).to.equal('smart-turn-v2');
      expect(backend.maxInFlight).to.equal(2);
    });

    it('leases batches whose inputs are the addon\'s own memory, clear from the start', () => {
      const batch = backend.lease(4);
      const values = batch.inputs['input_values'] as Float32Array;
      const mask = batch.inputs['attention_mask'] as BigInt64Array;
      expect(values.length).to.equal(4 * WINDOW);
      expect(mask.length).to.equal(4 * WINDOW);
      expect(values.every((v) => v === 0)).to.equal(true);
      expect(mask.every((m) => m === 1n), 'padding attends to silence').to.equal(true);
      expect(() => backend.lease(3)).to.throw(RangeError, /not a bucket/);
      backend.release(batch);
      expect(backend.stats().leased).to.equal(0);
      expect(() => backend.release({ size: 4, inputs: {} })).to.throw(TypeError, /not leased from this backend/);
    });

    it('clears the rows a previous batch left behind, and only computes the real rows', async () => {
      const first = backend.lease(4);
      const clips = [100, 2000, 30_000].map((n, i) => backend.family.prepare(samples(n, i)));
      clips.forEach((clip, row) => clip.write(first, row));
      const three = await backend.infer(first, 3);
      expect(three).to.have.length(3);
      // Rotation hands out the other slot first: lease both to get this one back.
      const leased = [backend.lease(4), backend.lease(4)];
      const again = leased.find((b) => b === first)!;
      leased.filter((b) => b !== first).forEach((b) => backend.release(b));
      clips[0]!.write(again, 0);
      const one = await backend.infer(again, 1);
      expect(one[0]).to.be.closeTo(three[0]!, 1e-6);
      const values = again.inputs['input_values'] as Float32Array;
      const mask = again.inputs['attention_mask'] as BigInt64Array;
      expect(values.subarray(WINDOW).every((v) => v === 0), 'rows 1..3 cleared').to.equal(true);
      expect(mask.subarray(WINDOW).every((m) => m === 1n)).to.equal(true);
    });

    it('rejects a bad row count and still takes the lease back', async () => {
      const batch = backend.lease(2);
      expect((await rejection(backend.infer(batch, 3))).message).to.match(/row count 3 is outside 1\.\.2/);
      expect(backend.stats().leased).to.equal(0);
    });

    it('serves through the Batcher with the same probabilities as ONNX Runtime', async () => {
      const onnx = await OnnxBackend.open({ modelPath: READOUT_V2, buckets: [2, 4, 8] });
      try {
        const lengths = [1, 160, 16_000, 100_000, 255_999, 256_000, 300_000, 7];
        const run = async (b: TensorRtBackend | OnnxBackend) => {
          const batcher = new Batcher(b, { windowMs: 2, maxQueue: 100, timeoutMs: 5000 });
          const results = await Promise.all(lengths.map((n, i) => batcher.submit(b.family.prepare(samples(n, i)))));
          await batcher.drain();
          return results;
        };
        const [trt, ort] = [await run(backend), await run(onnx)];
        trt.forEach((r, i) => expect(r.probability, `clip ${i}`).to.be.closeTo(ort[i]!.probability, 2e-6));
        trt.forEach((r, i) => expect(r.probability, `clip ${i}`).to.be.closeTo(expectedV2(samples(lengths[i]!, i)), 2e-6));
        expect(trt.some((r) => r.batchSize > 1)).to.equal(true);
      } finally {
        await onnx.close();
      }
    });

    it('answers 500 concurrent requests, each its own, and leaks nothing', async function () {
      this.timeout(120_000);
      const batcher = new Batcher(backend, { windowMs: 2, maxQueue: 1000, timeoutMs: 60_000 });
      // Distinct clips of one length per round (only their values tell them apart); the length changes
      // between rounds, so reused rows are rewritten over a longer and then a shorter previous clip.
      // Made before the memory is measured, so only what serving allocates is counted.
      const rounds = [16_000, 24_000, 4_000].map((length) => {
        const clips = Array.from({ length: 500 }, (_, i) => samples(length, i));
        return { clips, expected: clips.map((clip) => expectedV2(clip)) };
      });
      const serve = async ({ clips, expected }: (typeof rounds)[number]) => {
        const results = await Promise.all(clips.map((clip) => batcher.submit(backend.family.prepare(clip))));
        results.forEach((r, i) => expect(r.probability, `clip ${i}`).to.be.closeTo(expected[i]!, 2e-6));
        return results;
      };
      const first = await serve(rounds[0]!);
      expect(new Set(first.map((r) => r.bucket))).to.include(8);
      expect(backend.stats()).to.deep.equal({ leased: 0, running: 0, closed: false });
      const before = process.memoryUsage();
      await serve(rounds[1]!);
      await serve(rounds[2]!);
      const after = process.memoryUsage();
      expect(backend.stats()).to.deep.equal({ leased: 0, running: 0, closed: false });
      // Lent buffers are made once per slot, so steady serving allocates nothing that lasts.
      expect(after.arrayBuffers - before.arrayBuffers).to.be.below(16 * 1024 * 1024);
      await batcher.drain();
    });
  });
});
