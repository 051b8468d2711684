import { expect } from 'chai';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { Batcher, type BatcherOptions, type Rejection } from '../ts/batcher.js';
import { ServeError } from '../ts/errors.js';
import { GatedBackend } from './helpers/backends.js';
import { FIXTURE_V2, fixtureProbability } from './helpers/service.js';

const clipOf = (backend: GatedBackend, n: number) => backend.family.prepare(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
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
    backend = new GatedBackend(await OnnxBackend.open({ modelPath: FIXTURE_V2, buckets: [2, 4, 8] }));
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
    expect((await running).probability).to.be.closeTo(fixtureProbability(100), 1e-6);
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
    expect((await late).probability).to.be.closeTo(fixtureProbability(300), 1e-6);
    await running;
    await drained;
  });

  it('answers 503 at the deadline: a queued request is never computed, a running batch’s answer comes too late', async () => {
    backend.hold();
    const batcher = make({ timeoutMs: 50, windowMs: 0 });
    const running = settle(batcher.submit(clipOf(backend, 100)));
    await sleep(5);
    const late = await settle(batcher.submit(clipOf(backend, 200)));
    expect(late.error?.code).to.equal('DEADLINE_EXCEEDED');
    expect(late.error?.status).to.equal(503);
    expect(late.error?.message).to.match(/REQUEST_TIMEOUT_MS=50 ms \(it was still waiting for a batch\)/);
    // The held batch's request is answered at its deadline: the batch has not ended (the gate is shut).
    const first = await running;
    expect(first.error?.message).to.match(/its batch ran past it/);
    backend.release();
    await batcher.drain();
    expect(backend.rowsComputed).to.equal(1);
    expect(rejected).to.deep.equal(['expired', 'expired']);
  });

  it('answers a queued request at once, never computed, when its batch would typically finish past its deadline', async () => {
    backend.hold();
    const batcher = make({ timeoutMs: 300, windowMs: 0 });
    const running = batcher.submit(clipOf(backend, 100)); // nothing measured yet: admitted, and held
    await sleep(5);
    const queued = settle(batcher.submit(clipOf(backend, 200)));
    await sleep(250);
    backend.release(); // the first batch took 250 ms: the second, dispatched now, would end past 300 ms
    expect((await running).probability).to.be.closeTo(fixtureProbability(100), 1e-6);
    const late = await queued;
    expect(late.error?.code).to.equal('DEADLINE_EXCEEDED');
    expect(late.error?.message).to.match(/its batch could not have finished in time/);
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
    expect(next.probability).to.be.closeTo(fixtureProbability(4000), 1e-6);
  });

  it('batches requests arriving within the window and pads to the smallest bucket that holds them', async () => {
    const batcher = make({ windowMs: 50 });
    const results = await Promise.all([1000, 2000, 3000].map((n) => batcher.submit(clipOf(backend, n))));
    expect(backend.batches).to.deep.equal([3]);
    expect(results.map((r) => [r.batchSize, r.bucket])).to.deep.equal([[3, 4], [3, 4], [3, 4]]);
    results.forEach((r, i) => expect(r.probability).to.be.closeTo(fixtureProbability((i + 1) * 1000), 1e-6));
    expect(results[0]!.inferenceTime).to.be.greaterThan(0);
  });

  it('dispatches as soon as the largest bucket fills, without waiting for the window', async () => {
    const batcher = make({ windowMs: 10_000, timeoutMs: 20_000 }); // a deadline the window fits in
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => batcher.submit(clipOf(backend, 500 * (i + 1)))));
    expect(performance.now() - t0).to.be.lessThan(5000);
    expect(backend.batches).to.deep.equal([8]);
    expect(results.every((r) => r.bucket === 8)).to.equal(true);
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
