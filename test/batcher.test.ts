import { expect } from 'chai';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { Batcher, type BatcherEvents, type BatcherOptions, type Rejection } from '../ts/batcher.js';
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
    expect((await running).probability).to.be.closeTo(expected(100), TOLERANCE);
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
    const batcher = make({ windowMs: 10_000, timeoutMs: 20_000 }); // a deadline the window fits in
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
  describe('what it reports and what it says', () => {
    interface Seen {
      batches: Array<Parameters<NonNullable<BatcherEvents['batch']>>[0]>;
      waits: number[];
      rejected: Rejection[];
    }
    const listen = (seen: Seen): BatcherEvents => ({
      batch: (info) => seen.batches.push(info),
      dispatched: (wait) => seen.waits.push(wait),
      rejected: (reason) => seen.rejected.push(reason),
    });

    it('tells every listener of each batch, dispatch wait (in seconds) and refusal', async () => {
      const seen: Seen[] = [0, 1].map(() => ({ batches: [], waits: [], rejected: [] }));
      backend.hold();
      const batcher = new Batcher(backend, { windowMs: 0, maxQueue: 2, timeoutMs: 5000 }, listen(seen[0]!));
      batcher.observe(listen(seen[1]!));
      const first = batcher.submit(clipOf(backend, 100)); // runs at once, held
      await sleep(5);
      const queued = [batcher.submit(clipOf(backend, 200, 1)), batcher.submit(clipOf(backend, 200, 2))];
      const refused = await settle(batcher.submit(clipOf(backend, 200, 3)));
      expect(refused.error?.message).to.equal('server is at capacity (MAX_QUEUE=2 requests waiting); retry shortly');
      await sleep(50); // the held batch takes at least this long, and the queued ones wait at least this long
      backend.release();
      const [one, two, three] = await Promise.all([first, ...queued]);
      for (const s of seen) {
        expect(s.rejected).to.deep.equal(['queue_full']);
        expect(s.batches.map((b) => [b.size, b.bucket, b.ok])).to.deep.equal([[1, 2, true], [2, 2, true]]);
        // Seconds, not milliseconds: the held batch took 50 ms or more, and far less than the test's 20 s.
        expect(s.batches[0]!.seconds).to.be.at.least(0.05).and.below(20);
        expect(s.waits).to.have.length(3);
        expect(s.waits.slice(1).every((w) => w >= 0.05 && w < 20)).to.equal(true);
      }
      expect(one!.inferenceTime).to.equal(seen[0]!.batches[0]!.seconds);
      expect([two!.queueWait, three!.queueWait]).to.deep.equal(seen[0]!.waits.slice(1));
      expect([one!.batchSize, two!.batchSize, three!.batchSize]).to.deep.equal([1, 2, 2]);
    });

    it('says why a request was refused, with Retry-After where a retry can succeed', async () => {
      backend.hold();
      const batcher = make({ windowMs: 0, timeoutMs: 50 });
      const running = batcher.submit(clipOf(backend, 100));
      await sleep(5);
      const late = await settle(batcher.submit(clipOf(backend, 200)));
      expect([late.error?.message, late.error?.retryAfter]).to.deep.equal(['request not answered within REQUEST_TIMEOUT_MS=50 ms (it was still waiting for a batch); the server is overloaded, retry shortly', 1]);
      // The held batch's own request: its deadline holds while its batch runs.
      const overran = await settle(running);
      expect(overran.error?.message).to.equal('request not answered within REQUEST_TIMEOUT_MS=50 ms (its batch ran past it); the server is overloaded, retry shortly');
      const gone = new AbortController();
      const abandoned = settle(batcher.submit(clipOf(backend, 200), gone.signal));
      gone.abort();
      expect((await abandoned).error?.message).to.equal('client disconnected while its request was queued');
      const draining = batcher.drain();
      const closed = await settle(batcher.submit(clipOf(backend, 200)));
      expect([closed.error?.message, closed.error?.retryAfter]).to.deep.equal(['the server is shutting down; retry on another replica', 1]);
      expect(rejected).to.deep.equal(['expired', 'expired', 'aborted', 'shutting_down']);
      backend.release();
      await draining;
    });

    it('fails a batch whose rows cannot be written: BACKEND_FAILED with the cause, nothing run, and serves on', async () => {
      const seen: Seen = { batches: [], waits: [], rejected: [] };
      const batcher = new Batcher(backend, { windowMs: 0, maxQueue: 8, timeoutMs: 5000 }, listen(seen));
      const broken = new Error('row write failed');
      const failed = await settle(batcher.submit({ write: () => { throw broken; } }));
      expect([failed.error?.code, failed.error?.message, failed.error?.cause]).to.deep.equal(['BACKEND_FAILED', 'the model failed on the batch this request was in; retry', broken]);
      expect(seen.batches).to.deep.equal([{ size: 1, bucket: 2, seconds: 0, ok: false, error: broken }]);
      expect(backend.batches, 'nothing was run').to.deep.equal([]);
      expect((await batcher.submit(clipOf(backend, 300))).probability).to.be.closeTo(expected(300), TOLERANCE);
    });

    it('a reservation: used once; a request whose client left before it was queued is refused and frees its place', async () => {
      const batcher = make({ maxQueue: 1, windowMs: 0 });
      const reservation = batcher.reserve();
      const gone = await settle(reservation.submit(clipOf(backend, 100), AbortSignal.abort()));
      expect([gone.error?.code, gone.error?.message]).to.deep.equal(['CLIENT_GONE', 'client disconnected before its request was queued']);
      expect(rejected).to.deep.equal(['aborted']);
      expect((await settle(reservation.submit(clipOf(backend, 100)))).error?.message).to.equal('reservation already used');
      expect(backend.rowsComputed, 'never computed').to.equal(0);
      expect((await batcher.submit(clipOf(backend, 100))).probability).to.be.closeTo(expected(100), TOLERANCE);
    });

    it('a client leaving after its batch left changes nothing: it and the queue behind it are answered', async () => {
      backend.hold();
      const batcher = make({ windowMs: 0 });
      const leaving = new AbortController();
      const dispatched = batcher.submit(clipOf(backend, 100), leaving.signal);
      await sleep(5);
      const behind = batcher.submit(clipOf(backend, 200, 1));
      leaving.abort();
      expect(batcher.queueDepth).to.equal(1);
      backend.release();
      expect((await dispatched).probability).to.be.closeTo(expected(100), TOLERANCE);
      expect((await behind).probability).to.be.closeTo(expected(200, 1), TOLERANCE);
      expect(rejected).to.deep.equal([]);
    });

    it('drain resolves at once when idle, and otherwise only after the last batch and the last reservation', async () => {
      await make().drain();
      const order: string[] = [];
      backend.hold();
      const running = make({ windowMs: 0 });
      const answer = running.submit(clipOf(backend, 100)).then(() => order.push('answered'));
      await sleep(5);
      const drained = running.drain().then(() => order.push('drained'));
      await sleep(20);
      backend.release();
      await Promise.all([answer, drained]);
      expect(order).to.deep.equal(['answered', 'drained']);

      const reserving = make({ windowMs: 0 });
      const reservation = reserving.reserve();
      let drainedYet = false;
      const waiting = reserving.drain().then(() => (drainedYet = true));
      await sleep(20);
      expect(drainedYet, 'a reservation alone holds the drain').to.equal(false);
      reservation.cancel();
      await waiting;
    });
  });
});
