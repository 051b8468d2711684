import { expect } from 'chai';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { Batcher, type BatcherOptions, type Rejection } from '../ts/batcher.js';
import { ServeError } from '../ts/errors.js';
import { GatedBackend } from './helpers/backends.js';
import { expectedV2, READOUT_V2, TOLERANCE } from './helpers/fixtures.js';

/** n samples of a sine whose frequency depends on `seed`: clips of equal length differ by their values. */
const audio = (n: number, seed = 0) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * (1 + seed / 10)));
const clipOf = (backend: GatedBackend, n: number, seed = 0) => backend.family.prepare(audio(n, seed));
const expected = (n: number, seed = 0) => expectedV2(audio(n, seed));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: ServeError }> {
  try {
    return { value: await p };
  } catch (error) {
    return { error: error as ServeError };
  }
}

describe('batcher', () => {
  let backend: GatedBackend;
  const rejected: Rejection[] = [];
  const make = (options: Partial<BatcherOptions> = {}) =>
    new Batcher(backend, { windowMs: 5, maxQueue: 64, timeoutMs: 2000, ...options }, { rejected: (r) => rejected.push(r) });

  beforeEach(async () => {
    backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2, buckets: [2, 4, 8] }));
    rejected.length = 0;
  });
  afterEach(() => backend.close());

  it('refuses a backend without buckets', () => {
    const empty = Object.create(backend, { buckets: { value: [] } }) as GatedBackend;
    expect(() => new Batcher(empty, { windowMs: 1, maxQueue: 1, timeoutMs: 1 })).to.throw(/no batch buckets/);
  });

  it('refuses at once when the queue is full, with Retry-After', async () => {
    backend.hold();
    const batcher = make({ maxQueue: 2, windowMs: 0 });
    const running = batcher.submit(clipOf(backend, 100)); // dispatched at once, held in the backend
    await sleep(5);
    const queued = [batcher.submit(clipOf(backend, 200)), batcher.submit(clipOf(backend, 300))];
    const refused = await settle(batcher.submit(clipOf(backend, 400)));
    expect(refused.error?.code).to.equal('QUEUE_FULL');
    expect(refused.error?.status).to.equal(503);
    expect(refused.error?.retryAfter).to.equal(1);
    expect(rejected).to.deep.equal(['queue_full']);
    backend.release();
    expect((await running).probability).to.be.closeTo(expected(100), TOLERANCE);
    expect((await Promise.all(queued)).map((r) => r.probability)).to.have.length(2);
  });

  it('counts reservations against the queue limit, and drain waits for them', async () => {
    backend.hold();
    const batcher = make({ maxQueue: 2, windowMs: 0 });
    const running = batcher.submit(clipOf(backend, 100));
    await sleep(5);
    const first = batcher.reserve();
    const second = batcher.reserve();
    expect(() => batcher.reserve()).to.throw(ServeError).with.property('code', 'QUEUE_FULL');
    second.cancel();
    const third = batcher.reserve(); // the cancelled place is free again
    third.cancel();
    let drainedYet = false;
    const drained = batcher.drain().then(() => (drainedYet = true));
    expect(() => batcher.reserve()).to.throw(ServeError).with.property('code', 'SHUTTING_DOWN');
    await sleep(20);
    expect(drainedYet, 'drain waits for the reservation').to.equal(false);
    // Reserved before the drain began: still accepted and answered.
    const late = first.submit(clipOf(backend, 300));
    backend.release();
    expect((await late).probability).to.be.closeTo(expected(300), TOLERANCE);
    await running;
    await drained;
  });

  it('answers a request that waits past its deadline with 503 and never computes it', async () => {
    backend.hold();
    const batcher = make({ timeoutMs: 50, windowMs: 0 });
    const running = batcher.submit(clipOf(backend, 100));
    await sleep(5);
    const late = await settle(batcher.submit(clipOf(backend, 200)));
    expect(late.error?.code).to.equal('DEADLINE_EXCEEDED');
    expect(late.error?.status).to.equal(503);
    backend.release();
    await running;
    await batcher.drain();
    expect(backend.rowsComputed).to.equal(1);
    expect(rejected).to.deep.equal(['expired']);
  });

  it('drops a request whose client went away while queued', async () => {
    backend.hold();
    const batcher = make({ windowMs: 0 });
    const running = batcher.submit(clipOf(backend, 100));
    await sleep(5);
    const gone = new AbortController();
    const abandoned = settle(batcher.submit(clipOf(backend, 200), gone.signal));
    gone.abort();
    expect((await abandoned).error?.code).to.equal('CLIENT_GONE');
    backend.release();
    await running;
    expect(backend.rowsComputed).to.equal(1);
    expect(rejected).to.deep.equal(['aborted']);
  });

  it('fails every request of a failed batch with BACKEND_FAILED, then serves the next batch', async () => {
    const batcher = make({ windowMs: 20 });
    backend.failNext(1);
    const first = await Promise.all([1000, 2000, 3000].map((n) => settle(batcher.submit(clipOf(backend, n)))));
    expect(first.map((r) => r.error?.code)).to.deep.equal(['BACKEND_FAILED', 'BACKEND_FAILED', 'BACKEND_FAILED']);
    expect(first[0]!.error!.status).to.equal(500);
    const next = await batcher.submit(clipOf(backend, 4000));
    expect(next.probability).to.be.closeTo(expected(4000), TOLERANCE);
  });

  it('batches requests arriving within the window and pads to the smallest bucket that holds them', async () => {
    const batcher = make({ windowMs: 50 });
    // Equal lengths: only the values tell the clips apart, so a result given to the wrong request shows.
    const results = await Promise.all([1, 2, 3].map((seed) => batcher.submit(clipOf(backend, 2000, seed))));
    expect(backend.batches).to.deep.equal([3]);
    expect(results.map((r) => [r.batchSize, r.bucket])).to.deep.equal([[3, 4], [3, 4], [3, 4]]);
    results.forEach((r, i) => expect(r.probability, `clip ${i}`).to.be.closeTo(expected(2000, i + 1), TOLERANCE));
    expect(results[0]!.inferenceTime).to.be.greaterThan(0);
  });

  it('dispatches as soon as the largest bucket fills, without waiting for the window', async () => {
    const batcher = make({ windowMs: 10_000 });
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => batcher.submit(clipOf(backend, 4000, i))));
    expect(backend.batches).to.deep.equal([8]);
    expect(results.every((r) => r.bucket === 8)).to.equal(true);
    results.forEach((r, i) => expect(r.probability, `clip ${i}`).to.be.closeTo(expected(4000, i), TOLERANCE));
    // Well inside the 10 s window: the batch did not wait for it to close.
    expect(performance.now() - t0).to.be.lessThan(10_000);
  });

  it('forms the next batch while one runs, up to the largest bucket', async () => {
    backend.hold();
    const batcher = make({ windowMs: 0 });
    const first = batcher.submit(clipOf(backend, 100));
    await sleep(5);
    const waiting = Array.from({ length: 10 }, (_, i) => batcher.submit(clipOf(backend, 1000 + i)));
    await sleep(5);
    backend.release();
    await Promise.all([first, ...waiting]);
    expect(backend.batches).to.deep.equal([1, 8, 2]);
  });

  it('drains: refuses new work, finishes what was accepted', async () => {
    backend.hold();
    const batcher = make({ windowMs: 0 });
    const accepted = [batcher.submit(clipOf(backend, 100)), batcher.submit(clipOf(backend, 200))];
    const drained = batcher.drain();
    const refused = await settle(batcher.submit(clipOf(backend, 300)));
    expect(refused.error?.code).to.equal('SHUTTING_DOWN');
    backend.release();
    await drained;
    expect((await Promise.all(accepted)).length).to.equal(2);
    expect(batcher.queueDepth).to.equal(0);
    expect(batcher.inFlight).to.equal(0);
  });
});
