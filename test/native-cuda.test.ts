// The addon's real CUDA path on the CUDA TEST executor (a kernel computing the readout-v2 fixture in
// place of TensorRT): pinned lent buffers, per-slot streams, graph capture and replay, fall-back
// when capture fails, and completion off the event loop. Skips, saying why, without a GPU.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { Batcher } from '../ts/batcher.js';
import type { NativeAddon, NativeEngine, NativeOpenOptions } from '../ts/lib/native.js';
import { expectedV2, readoutV2 } from './helpers/fixtures.js';
import { openTestBackend, rejection, skipWithoutGpu, views, WINDOW, writeRow } from './helpers/native.js';

let addon: NativeAddon;
const open = (extra: Partial<NativeOpenOptions> = {}) => addon.open({ executor: 'test-cuda', buckets: [16, 32, 64], ...extra });

/** Fills `rows` rows of a slot with distinct clips and returns what readout-v2 says for each. */
function fill(engine: NativeEngine, slot: number, rows: number, seed: number): number[] {
  const { values, mask } = views(engine, slot);
  const expected: number[] = [];
  for (let r = 0; r < rows; r++) {
    writeRow(values, mask, r, 1 + ((seed * 7919 + r * 104_729) % WINDOW), 0.5 + 0.01 * r);
    expected.push(readoutV2(values, mask, r));
  }
  return expected;
}

describe('native addon on the CUDA TEST executor', function () {
  this.timeout(60_000);
  before(function () {
    addon = skipWithoutGpu(this);
  });

  it('lends pinned buffers and captures one CUDA graph per slot', async () => {
    const engine = await open();
    try {
      const info = engine.info();
      expect(info.pinned).to.equal(true);
      expect(info.description).to.match(/CUDA graphs captured for 6 of 6 slots$/);
      expect(engine.buffers(engine.lease(64))[0]!.byteLength).to.equal(64 * WINDOW * 4);
    } finally {
      await engine.close();
    }
  });

  for (const cudaGraphs of [true, false]) {
    it(`computes every row it is given, replaying batch after batch (graphs ${cudaGraphs ? 'on' : 'off'})`, async () => {
      const engine = await open({ cudaGraphs });
      try {
        if (!cudaGraphs) expect(engine.info().description).to.match(/CUDA graphs off/);
        for (let round = 0; round < 3; round++) {
          const jobs = [16, 16, 32, 32, 64, 64].map(async (bucket, k) => {
            const slot = engine.lease(bucket);
            const rows = bucket - k * 3 - round;
            const expected = fill(engine, slot, rows, round * 10 + k);
            const out = await engine.infer(slot, rows);
            expect(out).to.have.length(rows);
            out.forEach((p, r) => expect(p, `bucket ${bucket} row ${r}`).to.be.closeTo(expected[r]!, 1e-5));
          });
          await Promise.all(jobs);
        }
        expect(engine.stats()).to.deep.equal({ leased: 0, running: 0, closed: false });
      } finally {
        await engine.close();
      }
    });
  }

  it('falls back to plain enqueue when capture fails, says so once, and still computes', async () => {
    const engine = await open({ buckets: [16], test: { breakCapture: true } });
    try {
      expect(engine.info().description).to.match(/captured for 0 of 2 slots; capture failed, those slots use plain enqueue: cudaStreamSynchronize failed: /);
      const slot = engine.lease(16);
      const expected = fill(engine, slot, 5, 1);
      const out = await engine.infer(slot, 5);
      out.forEach((p, r) => expect(p).to.be.closeTo(expected[r]!, 1e-5));
    } finally {
      await engine.close();
    }
  });

  it('rejects with the failed call after real GPU work, and keeps serving', async () => {
    const engine = await open({ buckets: [16], test: { fault: { rows: 3, at: 'wait', code: 'cuda', message: 'cudaEventSynchronize failed: injected' } } });
    try {
      const error = await rejection(engine.infer(engine.lease(16), 3));
      expect(error.code).to.equal('ERR_CUDA');
      const slot = engine.lease(16);
      const expected = fill(engine, slot, 4, 2);
      expect((await engine.infer(slot, 4))[3]).to.be.closeTo(expected[3]!, 1e-5);
    } finally {
      await engine.close();
    }
  });

  it('close() while batches run lets them finish, then frees the pinned memory', async () => {
    const engine = await open();
    const slot = engine.lease(64);
    const expected = fill(engine, slot, 64, 3);
    const { values } = views(engine, slot);
    const running = engine.infer(slot, 64);
    await engine.close();
    (await running).forEach((p, r) => expect(p).to.be.closeTo(expected[r]!, 1e-5));
    expect(values.length).to.equal(0);
  });

  it('status() describes the device asked for, and says when it does not exist', () => {
    expect(addon.status(0).gpu?.index).to.equal(0);
    const missing = addon.status(1023);
    expect(missing.cuda).to.equal(false);
    expect(missing.reason).to.match(/^CUDA device 1023 does not exist: \d+ visible/);
  });

  it('plans its device memory from cudaMemGetInfo before allocating, and reports it', async () => {
    const engine = await open();
    try {
      const memory = engine.info().memory;
      expect(memory.device).to.equal(0);
      expect(memory.freeBytes).to.be.above(0).and.at.most(memory.totalBytes!);
      // The CUDA TEST executor's scratch is per slot: no lane buffers, every slot's I/O and scratch.
      expect(memory.laneBytes).to.equal(0);
      expect(memory.slotBytes).to.be.above(2 * (16 + 32 + 64) * WINDOW * 12);
      expect(memory.description).to.match(/^GPU 0 memory for buckets 16, 32, 64 x 2 slots: /);
    } finally {
      await engine.close();
    }
  });

  it('a worker thread terminated with batches on the GPU neither crashes the process nor leaves it hanging', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/native-teardown.ts', '12', 'test-cuda'], { encoding: 'utf8', timeout: 50_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim() }, r.stderr).to.deep.equal({ status: 0, signal: null, stdout: 'ok' });
  });

  it('serves through the Batcher as TensorRtBackend, 500 concurrent requests', async () => {
    const backend = await openTestBackend(addon, { executor: 'test-cuda', buckets: [16, 32, 64] });
    try {
      const batcher = new Batcher(backend, { windowMs: 2, maxQueue: 1000, timeoutMs: 30_000 });
      // Distinct clips (a sine per request), so rows swapped or mixed within a batch show.
      const clips = Array.from({ length: 500 }, (_, i) => Float32Array.from({ length: 1 + ((i * 7919) % WINDOW) }, (_, j) => Math.sin(j / (50 + i)) + 0.1 * i));
      const results = await Promise.all(clips.map((clip) => batcher.submit(backend.family.prepare(clip))));
      results.forEach((r, i) => expect(r.probability, `clip ${i}`).to.be.closeTo(expectedV2(clips[i]!), 1e-5));
      expect(new Set(results.map((r) => r.bucket))).to.include(64);
      await batcher.drain();
      expect(backend.stats()).to.deep.equal({ leased: 0, running: 0, closed: false });
    } finally {
      await backend.close();
    }
  });
});
