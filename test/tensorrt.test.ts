// The TensorRT backend (ts/backends/tensorrt.ts): engine manifests and their checks, the
// availability probe BACKEND=auto uses, and the backend itself on the addon's host TEST executor,
// serving through the real Batcher next to the ONNX Runtime backend on the same fixture model.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OnnxBackend } from '../ts/backends/onnx.js';
import {
  engineDir,
  manifestMismatch,
  modelKey,
  readManifest,
  sha256File,
  tensorRtAvailability,
  TensorRtBackend,
  type EngineManifest,
} from '../ts/backends/tensorrt.js';
import { Batcher } from '../ts/batcher.js';
import { tryLoadNative, type NativeStatus } from '../ts/native.js';
import { expectedV2, READOUT_V2 } from './helpers/fixtures.js';
import { rejection, requireAddon, WINDOW } from './helpers/native.js';

const STATUS: NativeStatus = {
  cuda: true,
  tensorrt: true,
  gpu: { index: 0, name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', memoryBytes: 80e9 },
  versions: { napi: 8, cudaToolkit: '13.0', cudaRuntime: '13.0', cudaDriver: '13.0', tensorrtHeaders: '10.16.1', tensorrtLibrary: '10.13.3' },
  build: { cuda: true, tensorrt: true },
  executors: ['test-host', 'test-cuda', 'tensorrt'],
  reason: '',
};

const MANIFEST: EngineManifest = {
  format: 1,
  model: 'smart-turn-v2',
  dtype: 'bfloat16',
  onnx: { file: 'smart-turn-v2.onnx', sha256: 'ab'.repeat(32) },
  tensorrt: '10.13.3',
  cuda: { toolkit: '13.0', runtime: '13.0', driver: '13.0' },
  gpu: { name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0' },
  buckets: [16, 32, 64],
  plans: { '16': 'b16.plan', '32': 'b32.plan', '64': 'b64.plan' },
  inputs: [],
  outputs: [],
  validation: { tolerance: 0.05, maxAbsDiff: 0.001, rows: 4 },
  builtAt: '2026-01-01T00:00:00Z',
};

/** A clip of n samples of a slow sine with a DC offset, distinct per seed. */
const samples = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i / (50 + seed)) + 0.1 * seed);

describe('tensorrt backend', () => {
  describe('engine manifests', () => {
    it('names one folder per model and dtype', () => {
      expect(modelKey('pipecat-ai/smart-turn-v2')).to.equal('pipecat-ai--smart-turn-v2');
      expect(modelKey('smart-turn v2.onnx')).to.equal('smart-turn_v2');
      expect(engineDir('engines', 'pipecat-ai/smart-turn-v2', 'float16')).to.equal(path.join('engines', 'pipecat-ai--smart-turn-v2', 'float16'));
    });

    it('accepts plans built here, for this model', () => {
      expect(manifestMismatch(MANIFEST, STATUS, 'ab'.repeat(32))).to.equal(undefined);
      expect(manifestMismatch(MANIFEST, STATUS)).to.equal(undefined);
    });

    it('refuses another TensorRT version, another GPU or another model, and says to rebuild', () => {
      const trt = manifestMismatch(MANIFEST, { ...STATUS, versions: { ...STATUS.versions, tensorrtLibrary: '10.14.1' } });
      expect(trt).to.match(/built with TensorRT 10\.13\.3 but this machine has 10\.14\.1; rebuild them here with npm run build:engines/);
      const gpu = manifestMismatch(MANIFEST, { ...STATUS, gpu: { ...STATUS.gpu!, name: 'NVIDIA L40S', computeCapability: '8.9' } });
      expect(gpu).to.match(/built for NVIDIA H100 80GB HBM3 \(compute 9\.0\) but this GPU is NVIDIA L40S \(compute 8\.9\); rebuild/);
      expect(manifestMismatch(MANIFEST, STATUS, 'cd'.repeat(32))).to.match(/built from another model .*rebuild/);
      expect(manifestMismatch(MANIFEST, { ...STATUS, gpu: null, reason: 'no GPU here' })).to.match(/no GPU here/);
    });

    it('reads a manifest, and says how to get one when it is missing', async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'st-manifest-'));
      try {
        expect((await rejection(readManifest(dir))).message).to.match(/manifest\.json missing\): build them with npm run build:engines/);
        await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...MANIFEST, format: 99 }));
        expect((await rejection(readManifest(dir))).message).to.match(/format 99.*rebuild/);
        await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(MANIFEST));
        expect(await readManifest(dir)).to.deep.equal(MANIFEST);
      } finally {
        await rm(dir, { recursive: true });
      }
    });

    it('hashes the ONNX file', async () => {
      expect(await sha256File(READOUT_V2)).to.match(/^[0-9a-f]{64}$/);
    });
  });

  describe('availability', () => {
    // Without the addon the loader's reason; with it, what status() says is missing.
    const native = tryLoadNative();
    const reason = native.addon ? native.addon.status().reason : native.reason;
    const tensorrt = native.addon?.status().tensorrt ?? false;

    it('tells BACKEND=auto why TensorRT cannot be used here', async function () {
      if (tensorrt) this.skip();
      const probe = await tensorRtAvailability({ enginesDir: 'engines', model: 'smart-turn-v2', dtype: 'bfloat16' });
      expect(probe.available).to.equal(false);
      expect(probe.reason).to.equal(reason);
    });

    it('open() refuses with the same reason', async function () {
      if (tensorrt) this.skip();
      const error = await rejection(TensorRtBackend.open({ enginesDir: 'engines', model: 'smart-turn-v2', dtype: 'bfloat16' }));
      expect(error.message).to.equal(native.addon ? `TensorRT backend unavailable: ${reason}` : reason);
    });
  });

  describe('on the host TEST executor', () => {
    before(function () {
      requireAddon(this);
    });
    let backend: TensorRtBackend;
    beforeEach(async () => (backend = await TensorRtBackend.openTest({ executor: 'test-host', buckets: [2, 4, 8] })));
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
