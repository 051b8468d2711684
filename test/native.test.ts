// The native addon's N-API surface (ts/lib/native.ts declares it), on the host TEST executor, which
// runs everywhere: argument checks, error mapping, buffer lending, slot rotation, Promise
// settlement and close. The CUDA path is in native-cuda.test.ts.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import type { NativeAddon, NativeEngine, NativeOpenOptions } from '../ts/lib/native.js';
import { readoutV2 } from './helpers/fixtures.js';
import { rejection, requireAddon, sleep, views, WINDOW, writeRow } from './helpers/native.js';

let addon: NativeAddon;
const open = (extra: Record<string, unknown> = {}) =>
  addon.open({ executor: 'test-host', buckets: [1, 2, 4], ...extra } as NativeOpenOptions);

describe('native addon', () => {
  before(function () {
    addon = requireAddon(this);
  });

  describe('bad calls', () => {
    it('open() checks its options: TypeError for types, RangeError for values', () => {
      const bad = (options: unknown) => () => (addon.open as (o: unknown) => unknown)(options);
      expect(bad(undefined)).to.throw(TypeError, /options must be an object/);
      expect(bad({ executor: 'test-host', buckets: '16' })).to.throw(TypeError, /buckets must be an array/);
      expect(bad({ executor: 'test-host', buckets: ['16'] })).to.throw(TypeError, /buckets\[0\] must be a number/);
      expect(bad({ executor: 'gpu', buckets: [1] })).to.throw(RangeError, /executor must be one of tensorrt, test-host, test-cuda/);
      expect(bad({ executor: 'test-host', buckets: [0] })).to.throw(RangeError, /buckets\[0\] must be between 1 and 4096/);
      expect(bad({ executor: 'test-host', buckets: [1.5] })).to.throw(RangeError, /whole number/);
      expect(bad({ executor: 'test-host', buckets: [1], slotsPerBucket: 0 })).to.throw(RangeError, /slotsPerBucket/);
      expect(bad({ executor: 'tensorrt', buckets: [1] })).to.throw(TypeError, /plans must be an array/);
      expect(bad({ executor: 'tensorrt', buckets: [1, 2], plans: ['a'] })).to.throw(RangeError, /one plan file per bucket/);
      expect(bad({ executor: 'tensorrt', buckets: [1], plans: ['a'], test: {} })).to.throw(RangeError, /test options/);
      expect(bad({ executor: 'test-host', buckets: [1], test: { fault: { rows: 1, at: 'later' } } })).to.throw(RangeError, /at must be one of/);
      expect(bad({ executor: 'test-cuda', buckets: [1], test: { device: {} } })).to.throw(RangeError, /test\.device applies to the test-host executor only/);
      expect(bad({ executor: 'test-host', buckets: [1], test: { device: { freeMiB: 1, totalMiB: 1, scratchBytesPerRow: 0 } } })).to.throw(
        RangeError,
        /scratchBytesPerRow must be between 1/,
      );
      expect(() => addon.status(-1)).to.throw(RangeError, /device must be between 0 and 1024/);
      const error = (() => {
        try {
          bad({ executor: 'gpu', buckets: [1] })();
        } catch (e) {
          return e as { code?: string };
        }
      })();
      expect(error?.code).to.equal('ERR_OUT_OF_RANGE');
    });

    it('open() rejects buckets that are not ascending and distinct', async () => {
      const error = await rejection(open({ buckets: [4, 2] }));
      expect(error).to.be.instanceOf(RangeError);
      expect(error.message).to.match(/ascending and distinct, got 4, 2/);
    });

    it('Engine cannot be constructed from JS', () => {
      const Engine = (addon as unknown as { Engine: new () => unknown }).Engine;
      expect(() => new Engine()).to.throw(TypeError, /use open\(options\)/);
    });

    describe('on an open engine', () => {
      let engine: NativeEngine;
      beforeEach(async () => (engine = await open()));
      afterEach(() => engine.close());

      it('lease() takes exactly a bucket size', () => {
        expect(() => engine.lease('2' as unknown as number)).to.throw(TypeError, /bucket must be a number/);
        expect(() => engine.lease(3)).to.throw(RangeError, /batch size 3 is not a bucket \(1, 2, 4\)/);
        expect(() => engine.lease(2.5)).to.throw(RangeError, /whole number/);
      });

      it('buffers() and release() check the slot', () => {
        expect(() => engine.buffers(99)).to.throw(RangeError, /slot must be between 0 and 5/);
        expect(() => engine.buffers(-1)).to.throw(RangeError);
        expect(() => engine.release(3)).to.throw(Error, /slot 3 is not leased/).with.property('code', 'ERR_NATIVE_STATE');
        expect(() => engine.release(99)).to.throw(RangeError, /slot 99 does not exist/);
      });

      it('infer() throws TypeError for wrong types and rejects for everything else', async () => {
        expect(() => engine.infer('0' as unknown as number, 1)).to.throw(TypeError, /must be numbers/);
        const slot = engine.lease(2);
        const tooMany = await rejection(engine.infer(slot, 3));
        expect(tooMany).to.be.instanceOf(RangeError);
        expect(tooMany.message).to.match(/row count 3 is outside 1\.\.2/);
        expect(engine.stats().leased, 'the lease ends even when infer fails').to.equal(0);
        const notLeased = await rejection(engine.infer(slot, 1));
        expect(notLeased.code).to.equal('ERR_NATIVE_STATE');
        expect((await rejection(engine.infer(99, 1))).code).to.equal('ERR_OUT_OF_RANGE');
      });
    });
  });

  describe('expected failures', () => {
    it('status() reports what is missing, with a reason a person can act on', () => {
      const status = addon.status();
      expect(status.executors).to.include('test-host');
      expect(status.versions.napi).to.be.at.least(8);
      expect(status.build.tensorrt).to.equal(status.executors.includes('tensorrt'));
      if (!status.tensorrt) {
        expect(status.reason).to.match(/TensorRT|GPU|CUDA/);
        expect(status.reason).to.match(/install|set|rebuild|check/i);
      }
      if (!status.cuda) {
        expect(status.gpu).to.equal(null);
        expect(status.reason).to.match(/GPU|CUDA/);
      } else {
        expect(status.gpu?.computeCapability).to.match(/^\d+\.\d+$/);
      }
    });

    it('open() of a GPU executor rejects with the status reason when it cannot run', async function () {
      const status = addon.status();
      if (status.cuda) this.skip();
      for (const executor of ['test-cuda', 'tensorrt'] as const) {
        const error = await rejection(addon.open({ executor, buckets: [1], plans: ['missing.plan'] }));
        expect(error.code).to.equal('ERR_NATIVE_UNAVAILABLE');
        expect(error.message).to.include(status.reason);
      }
    });

    it('buildEngine() rejects with the status reason without TensorRT', async function () {
      const status = addon.status();
      if (status.tensorrt) this.skip();
      const error = await rejection(addon.buildEngine({ onnx: 'x.onnx', plan: '/tmp/x.plan', bucket: 1, dtype: 'float32' }));
      expect(error.code).to.equal('ERR_NATIVE_UNAVAILABLE');
      expect(error.message).to.match(/^cannot build engines: /);
    });

    it('open() refuses buckets whose activations and buffers do not fit the device, naming them and what to lower', async () => {
      const device = { freeMiB: 600, totalMiB: 1000, scratchBytesPerRow: 64 * 2 ** 20 };
      const error = await rejection(open({ test: { device } }));
      expect(error.code).to.equal('ERR_NATIVE_MEMORY');
      expect(error.message).to.match(/^not enough free memory on GPU 0 for buckets 1, 2, 4 with 2 slots each: they need /);
      expect(error.message).to.contain("activations 2 lanes x 256.0 MiB (bucket 4's, shared by the lane's slots of every bucket)");
      expect(error.message).to.contain('but 600.0 MiB of 1000.0 MiB is free');
      expect(error.message).to.match(/Lower the largest bucket \(BATCH_BUCKETS.*slots per bucket.*DTYPE/);
      // Lanes share activations: 2 x 256 MiB fits where every slot of every bucket (2 x 448 MiB) would not.
      const engine = await open({ test: { device: { ...device, freeMiB: 900 } } });
      await engine.close();
    });

    it('lease() says when every slot of a bucket is in use', async () => {
      const engine = await open();
      try {
        engine.lease(4);
        engine.lease(4);
        expect(() => engine.lease(4)).to.throw(Error, /all 2 slots of bucket 4 are in use/).with.property('code', 'ERR_NATIVE_BUSY');
        expect(engine.lease(2)).to.be.a('number'); // other buckets unaffected
      } finally {
        await engine.close();
      }
    });

    it('maps executor failures to rejected Promises naming the failed call, and frees the slot', async () => {
      const cases = [
        { at: 'wait', code: 'cuda', message: 'cudaEventSynchronize failed: an illegal memory access was encountered', js: 'ERR_CUDA' },
        { at: 'launch', code: 'tensorrt', message: 'IExecutionContext::enqueueV3 failed', js: 'ERR_TENSORRT' },
        { at: 'wait', code: 'internal', message: 'broken', js: 'ERR_NATIVE_INTERNAL' },
      ] as const;
      for (const c of cases) {
        const engine = await open({ test: { fault: { rows: 2, at: c.at, code: c.code, message: c.message } } });
        try {
          const slot = engine.lease(4);
          const error = await rejection(engine.infer(slot, 2));
          expect(error).to.be.instanceOf(Error);
          expect(error.code).to.equal(c.js);
          expect(error.message).to.equal(c.message);
          expect(engine.stats()).to.deep.equal({ leased: 0, running: 0, closed: false });
          // The same slot works again for a batch the fault does not hit.
          const again = engine.lease(4);
          const { values, mask } = views(engine, again);
          writeRow(values, mask, 0, 1000);
          expect((await engine.infer(again, 1))[0]).to.be.closeTo(readoutV2(values, mask, 0), 1e-5);
        } finally {
          await engine.close();
        }
      }
    });
  });

  describe('normal path', () => {
    let engine: NativeEngine;
    beforeEach(async () => (engine = await open()));
    afterEach(() => engine.close());

    it('describes itself', () => {
      const info = engine.info();
      expect(info).to.deep.include({ executor: 'test-host', buckets: [1, 2, 4], slotsPerBucket: 2, pinned: false });
      expect(info.inputs).to.deep.equal([
        { name: 'input_values', type: 'float32', shape: [WINDOW] },
        { name: 'attention_mask', type: 'int64', shape: [WINDOW] },
      ]);
      expect(info.outputs).to.deep.equal([{ name: 'logits', type: 'float32', shape: [1] }]);
      expect(info.description).to.match(/TEST executor/);
    });

    it('lends each slot its own input buffers, the same objects on every call', () => {
      const slot = engine.lease(4);
      const [values, mask] = engine.buffers(slot);
      expect(values!.byteLength).to.equal(4 * WINDOW * 4);
      expect(mask!.byteLength).to.equal(4 * WINDOW * 8);
      expect(engine.buffers(slot)[0]).to.equal(values);
      const other = engine.lease(4);
      expect(other).to.not.equal(slot);
      expect(engine.buffers(other)[0]).to.not.equal(values);
      engine.release(slot);
      engine.release(other);
      expect(engine.stats().leased).to.equal(0);
    });

    it('rotates through a bucket\'s slots, so consecutive batches land in different buffers', () => {
      const a = engine.lease(2);
      engine.release(a);
      const b = engine.lease(2);
      engine.release(b);
      const c = engine.lease(2);
      expect(b).to.not.equal(a);
      expect(c).to.equal(a);
    });

    it('computes what JS wrote into the lent memory and returns only the real rows', async () => {
      const slot = engine.lease(4);
      const { values, mask } = views(engine, slot);
      const lengths = [WINDOW, 16000, 1];
      lengths.forEach((n, row) => writeRow(values, mask, row, n, row + 1));
      const out = await engine.infer(slot, 3);
      expect(out).to.be.instanceOf(Float32Array);
      expect(out.length, 'padding rows are not returned').to.equal(3);
      out.forEach((p, row) => expect(p).to.be.closeTo(readoutV2(values, mask, row), 1e-5));
      expect(engine.stats()).to.deep.equal({ leased: 0, running: 0, closed: false });
    });

    it('waits off the event loop', async () => {
      const slow = await open({ test: { delayMs: 150 } });
      try {
        let ticks = 0;
        const timer = setInterval(() => ticks++, 10);
        const slot = slow.lease(1);
        const result = slow.infer(slot, 1);
        expect(slow.stats().running).to.equal(1);
        await result;
        clearInterval(timer);
        expect(ticks).to.be.at.least(5);
      } finally {
        await slow.close();
      }
    });

    it('runs batches of every slot at once and settles each Promise with its own rows', async () => {
      const jobs: Array<Promise<void>> = [];
      for (const bucket of [1, 2, 4]) {
        for (let k = 0; k < 2; k++) {
          const slot = engine.lease(bucket);
          const { values, mask } = views(engine, slot);
          const rows = Math.max(1, bucket - k);
          for (let r = 0; r < rows; r++) writeRow(values, mask, r, 1000 * (slot + 1) + r * 7, 0.1 * slot);
          const expected = Array.from({ length: rows }, (_, r) => readoutV2(values, mask, r));
          jobs.push(engine.infer(slot, rows).then((out) => expect(Array.from(out)).to.have.length(rows) && out.forEach((p, r) => expect(p).to.be.closeTo(expected[r]!, 1e-5))));
        }
      }
      expect(engine.stats().running).to.equal(6);
      await Promise.all(jobs);
      expect(engine.stats()).to.deep.equal({ leased: 0, running: 0, closed: false });
    });

    it('close() lets running batches finish, then detaches the lent buffers and refuses work', async () => {
      const slow = await open({ test: { delayMs: 100 } });
      const slot = slow.lease(2);
      const { values, mask } = views(slow, slot);
      writeRow(values, mask, 0, 5000);
      const expected = readoutV2(values, mask, 0);
      const leasedOnly = slow.lease(4);
      const order: string[] = [];
      const running = slow.infer(slot, 1).then((out) => {
        order.push('infer');
        return out;
      });
      const closing = slow.close().then(() => order.push('close'));
      expect(slow.stats().closed).to.equal(true);
      expect((await running)[0]).to.be.closeTo(expected, 1e-5);
      await closing;
      expect(order).to.deep.equal(['infer', 'close']);
      expect(values.length, 'typed arrays over lent memory read as empty once it is freed').to.equal(0);
      expect(() => slow.lease(2)).to.throw(Error, /closed/).with.property('code', 'ERR_NATIVE_CLOSED');
      expect(() => slow.buffers(slot)).to.throw(Error, /closed/);
      expect((await rejection(slow.infer(leasedOnly, 1))).code).to.equal('ERR_NATIVE_CLOSED');
      slow.release(leasedOnly); // a no-op once closed
      await slow.close(); // idempotent
    });

    it('plans device memory per lane, not per slot, and reports the plan', async () => {
      const scratch = 2 ** 20;
      const onDevice = await open({ test: { device: { freeMiB: 10_000, totalMiB: 16_000, scratchBytesPerRow: scratch } } });
      try {
        const io = (4 * WINDOW + 8 * WINDOW + 4) * (1 + 2 + 4) * 2;
        expect(onDevice.info().memory).to.deep.equal({
          device: 0,
          lanes: 2,
          laneBytes: 4 * scratch,
          activationBytes: { '1': scratch, '2': 2 * scratch, '4': 4 * scratch },
          slotBytes: io,
          neededBytes: 2 * 4 * scratch + io,
          freeBytes: 10_000 * 2 ** 20,
          totalBytes: 16_000 * 2 ** 20,
          description: onDevice.info().memory.description,
        });
        expect(onDevice.info().memory.description).to.match(/^GPU 0 memory for buckets 1, 2, 4 x 2 slots: .* was free$/);
      } finally {
        await onDevice.close();
      }
      expect(engine.info().memory).to.deep.include({ device: null, laneBytes: 0, slotBytes: 0, freeBytes: null });
    });

    it('runs one batch at a time per lane, so slots of different buckets can share its activations', async () => {
      const shared = await open({ test: { delayMs: 30, device: { freeMiB: 10_000, totalMiB: 16_000, scratchBytesPerRow: 1024 } } });
      try {
        // Every slot at once: lane k's batches of buckets 1, 2 and 4 run one after another, never together
        // (the pretend device fails a batch given to a lane that is still running another).
        const jobs: Array<Promise<void>> = [];
        for (const bucket of [1, 2, 4]) {
          for (let k = 0; k < 2; k++) {
            const slot = shared.lease(bucket);
            const { values, mask } = views(shared, slot);
            writeRow(values, mask, 0, 1000 * (slot + 1), 0.1 * slot);
            const expected = readoutV2(values, mask, 0);
            jobs.push(shared.infer(slot, 1).then((out) => void expect(out[0]).to.be.closeTo(expected, 1e-5)));
          }
        }
        await Promise.all(jobs);
        expect(shared.stats()).to.deep.equal({ leased: 0, running: 0, closed: false });
      } finally {
        await shared.close();
      }
    });

    it('answers a batch on an idle lane without waiting for a slower batch on another lane', async () => {
      const delayMs = 800;
      const slow = await open({ test: { delayMs } });
      try {
        const done: Record<string, number> = {};
        const large = slow.infer(slow.lease(4), 4).then(() => (done['large'] = performance.now()));
        // The least busy lane: the other one, not bucket 1's first slot, which shares the large batch's lane.
        const small = slow.infer(slow.lease(1), 1).then(() => (done['small'] = performance.now()));
        await Promise.all([large, small]);
        // One completion thread for every batch would answer the small one a whole delay after the large one.
        expect(done['small']! - done['large']!).to.be.below(delayMs);
      } finally {
        await slow.close();
      }
    });

    it('a worker thread terminated with batches in flight neither crashes the process nor leaves it hanging', function () {
      this.timeout(60_000);
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/native-teardown.ts', '24'], { encoding: 'utf8', timeout: 50_000 });
      expect(r.stderr).to.equal('');
      expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim() }).to.deep.equal({ status: 0, signal: null, stdout: 'ok' });
    });

    it('close() while idle resolves at once', async () => {
      const idle = await open();
      await idle.close();
      expect(idle.stats()).to.deep.equal({ leased: 0, running: 0, closed: true });
    });

    it('an engine dropped without close() does not keep the process alive or crash when collected', async () => {
      await open(); // nothing to assert beyond mocha exiting; the GC path runs the Runner's destructor
      await sleep(1);
    });
  });
});
