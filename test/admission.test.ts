// Admission by deadline: the rule (ts/admission.ts) on its own, then on a real server what a voice
// agent's bursts meet: no refusal below capacity, fast refusals above it, answers within the deadline.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { admit, BatchTimes, predict, queueLimit, type AdmissionPolicy, type BatchShape } from '../ts/admission.js';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { loadConfig } from '../ts/config.js';
import { encodeNpy } from '../tools/lib/npy.js';
import { GatedBackend } from './helpers/backends.js';
import type { Shot } from './helpers/loadgen.js';
import { READOUT_V2 } from './helpers/fixtures.js';
import { fixture, post, startTestService, type TestService } from './helpers/service.js';

const f4 = readFileSync(fixture('npy/f4.npy'));
const SLOW = fixture('models/slow-v2.onnx');
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

/** Runs test/helpers/loadgen.ts in its own process: `mode` is a rate per second or `closed:C`. */
async function load(url: string, body: Buffer, mode: string, total: number): Promise<{ seconds: number; shots: Shot[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'admission-'));
  try {
    writeFileSync(path.join(dir, 'body.npy'), body);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/helpers/loadgen.ts', `${url}/raw`, path.join(dir, 'body.npy'), mode, String(total)], { maxBuffer: 64 << 20 });
    return JSON.parse(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const loadConfigDefaultTimeout = (): number => loadConfig({}).requestTimeoutMs;

const statuses = (shots: Shot[]): Record<string, number> => {
  const count: Record<string, number> = {};
  for (const s of shots) count[s.code ?? String(s.status)] = (count[s.code ?? String(s.status)] ?? 0) + 1;
  return count;
};

/** A labelled or unlabelled sample's value from Prometheus text. */
const sample = (text: string, name: string): number => Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

/**
 * Buckets for the tests about batches of several sizes: the CPU plan's own on a small machine is one
 * clip at a time (test/cpu-plan.test.ts), right for a real model, where a batch is no faster per clip,
 * but not what these tests are about.
 */
const BATCHING = [1, 2, 4, 8];

/** The rule on its own, with batch times set by hand. */
describe('admission rule (ts/admission.ts)', () => {
  const shape: BatchShape = { buckets: [1, 2, 4, 8], slots: 1, windowMs: 2 };
  const policy: AdmissionPolicy = { deadlineMs: 1000, margin: 0.2, maxQueue: undefined };
  const measured = (seconds: Record<number, number>): BatchTimes => {
    const times = new BatchTimes();
    for (const [bucket, s] of Object.entries(seconds)) times.observe(Number(bucket), Number(bucket), s);
    return times;
  };

  it('knows nothing until a batch is seeded or measured: predicts no wait, sets no limit', () => {
    const times = new BatchTimes();
    expect(times.of(8)).to.equal(0);
    expect(queueLimit(shape, times, policy)).to.equal(Infinity);
    expect(queueLimit(shape, times, { ...policy, maxQueue: 5 })).to.equal(5);
  });

  it('takes a bucket’s time from real batches: the first replaces warm-up’s seed, later ones move mean and deviation', () => {
    const times = new BatchTimes();
    times.seed(8, 0.5, 0);
    expect(times.of(8, BatchTimes.DEVIATIONS, 0)).to.equal(0.5);
    times.observe(8, 8, 0.1, 0); // RFC 6298: mean R, deviation R / 2
    expect(times.of(8, 0, 0)).to.equal(0.1);
    expect(times.of(8, 1, 0)).to.be.closeTo(0.15, 1e-12);
    times.seed(8, 0.5, 0); // a late seed never overrides a measurement
    times.observe(8, 8, 0.2, 0);
    expect(times.of(8, 0, 0)).to.be.closeTo(0.1 + BatchTimes.WEIGHT * 0.1, 1e-12);
    expect(times.of(8, 1, 0) - times.of(8, 0, 0)).to.be.closeTo(0.05 + BatchTimes.DEVIATION_WEIGHT * (0.1 - 0.05), 1e-12);
    // Steady batches: the deviation fades and the estimate settles on what they take.
    for (let i = 0; i < 80; i++) times.observe(8, 8, 0.3, 0);
    expect(times.of(8, BatchTimes.DEVIATIONS, 0)).to.be.closeTo(0.3, 1e-3);
  });

  it('counts a partly filled batch at its cost per request; a seeded or stale bucket gives way to a smaller one run since', () => {
    const times = new BatchTimes();
    times.observe(8, 2, 0.05, 0);
    expect(times.of(8, 0, 0)).to.be.closeTo(0.2, 1e-12);
    expect(times.of(4, 0, 0)).to.be.closeTo(0.1, 1e-12); // unmeasured: the nearest, per request
    times.observe(1, 1, 0.01, 5000);
    // Batches of 8 may cost more per request than single ones: a fresh figure for 8 stands.
    expect(times.of(8, 0, BatchTimes.STALE_MS)).to.be.closeTo(0.2, 1e-12);
    // Not run for longer than STALE_MS while 1 ran: 8 is tried again at 1's cost per request.
    expect(times.of(8, 0, BatchTimes.STALE_MS + 1)).to.be.closeTo(0.08, 1e-12);
    // Warm-up's cold first run gives way at once.
    const cold = new BatchTimes();
    cold.seed(8, 2, 0);
    cold.observe(1, 1, 0.01, 1);
    expect(cold.of(8, 0, 1)).to.be.closeTo(0.08, 1e-12);
  });

  it('predicts from the queue ahead, the running batches and the slots', () => {
    const times = measured({ 1: 0.02, 4: 0.06, 8: 0.1 });
    const [t1, t8] = [times.of(1), times.of(8)];
    // Idle: leaves after the window, alone.
    expect(predict({ waiting: 0, running: [] }, shape, times)).to.deep.equal({ ms: t1 * 1000 + 2, bucket: 1, batchSeconds: t1 });
    // Three wait in the window: the batch of four leaves now.
    expect(predict({ waiting: 3, running: [] }, shape, times).bucket).to.equal(4);
    // The slot is busy for 0.5 s more: the request waits, and rides in a full batch.
    expect(predict({ waiting: 0, running: [0.5] }, shape, times)).to.deep.include({ bucket: 8 }).and.have.property('ms').closeTo((0.5 + t8) * 1000, 1e-9);
    // Twenty waiting: two full batches go first, then its own.
    expect(predict({ waiting: 20, running: [] }, shape, times).ms).to.be.closeTo(3 * t8 * 1000, 1e-9);
    // Two slots take the full batches in turn.
    expect(predict({ waiting: 20, running: [] }, { ...shape, slots: 2 }, times).ms).to.be.closeTo(2 * t8 * 1000, 1e-9);
    expect(predict({ waiting: 20, running: [0.05, 0.3] }, { ...shape, slots: 2 }, times).ms).to.be.closeTo((0.05 + 2 * t8) * 1000, 1e-9);
  });

  it('admits while the prediction fits in the deadline less its margin, and says why it refuses', () => {
    const times = measured({ 8: 0.1 / 1.5 }); // a full batch may take 100 ms
    expect(times.of(8)).to.be.closeTo(0.1, 1e-12);
    expect(admit({ waiting: 63, running: [] }, shape, times, policy).admit).to.equal(true); // 8 batches: 800 ms
    const refused = admit({ waiting: 64, running: [] }, shape, times, policy);
    expect(refused).to.deep.include({ admit: false, reason: 'deadline' });
    expect(refused.admit === false && refused.message).to.match(/about 900 ms, past the 800 ms that REQUEST_TIMEOUT_MS=1000 allows/);
    expect(queueLimit(shape, times, policy)).to.equal(64);
    const capped = admit({ waiting: 10, running: [] }, shape, times, { ...policy, maxQueue: 10 });
    expect(capped.admit === false && capped.message).to.match(/MAX_QUEUE=10 requests waiting/);
    expect(queueLimit(shape, times, { ...policy, maxQueue: 10 })).to.equal(10);
    expect(queueLimit(shape, times, { ...policy, margin: 0 })).to.equal(80);
  });
});

describe('admission', function () {
  let svc: TestService;
  afterEach(async () => svc?.stop());

  it('does not compute requests whose clients went away while queued', async () => {
    const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2 }));
    svc = await startTestService({ MICRO_BATCH_WINDOW_MS: '0' }, backend);
    const computedBefore = backend.rowsComputed;
    backend.hold();
    const running = post(`${svc.url}/raw`, f4);
    await until(() => svc.batcher.inFlight === 1, 'the first batch to start');
    const aborts = Array.from({ length: 5 }, () => new AbortController());
    const abandoned = aborts.map((a) =>
      fetch(`${svc.url}/raw`, { method: 'POST', body: f4 as unknown as string, headers: { 'content-type': 'application/octet-stream' }, signal: a.signal }).catch((e: Error) => e.name),
    );
    await until(() => svc.batcher.queueDepth === 5, 'five queued requests');
    aborts.forEach((a) => a.abort());
    expect(await Promise.all(abandoned)).to.deep.equal(Array(5).fill('AbortError'));
    await until(() => svc.batcher.queueDepth === 0, 'the queue to empty');
    backend.release();
    expect((await running).status).to.equal(200);
    expect(backend.rowsComputed - computedBefore).to.equal(1);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).to.match(/^smart_turn_rejected_total\{reason="aborted"\} 5$/m);
  });

  it('turns /ready false after repeated backend failures, and true again once a probe succeeds', async () => {
    const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2 }));
    svc = await startTestService({ MICRO_BATCH_WINDOW_MS: '0' }, backend);
    expect((await fetch(`${svc.url}/ready`)).status).to.equal(200);
    backend.failNext(3);
    for (let i = 0; i < 3; i++) expect((await post(`${svc.url}/raw`, f4)).status).to.equal(500);
    const failing = await fetch(`${svc.url}/ready`);
    expect(failing.status).to.equal(503);
    expect((await failing.json()).reason).to.match(/last 3 batches failed/);
    await until(() => svc.readiness.check().ready, 'the probe to restore readiness');
    expect((await fetch(`${svc.url}/health`)).status).to.equal(200);
  });

  it('protects /metrics with METRICS_AUTH_KEY', async () => {
    svc = await startTestService({ METRICS_AUTH_KEY: 'scrape-me', AUTH_KEY: 'other' });
    expect((await fetch(`${svc.url}/metrics`)).status).to.equal(401);
    expect((await fetch(`${svc.url}/metrics`, { headers: { authorization: 'Key other' } })).status).to.equal(401);
    const ok = await fetch(`${svc.url}/metrics`, { headers: { authorization: 'Key scrape-me' } });
    expect(ok.status).to.equal(200);
    const text = await ok.text();
    expect(text).to.include('smart_turn_backend_info{backend="onnx"');
    expect(text).to.include('process_cpu_user_seconds_total');
  });

  it('a closed loop of 8× the largest bucket on a fast model gets no refusal', async function () {
    this.timeout(60_000);
    svc = await startTestService();
    const largest = svc.backend.buckets[svc.backend.buckets.length - 1]!;
    const clip = encodeNpy(new Float32Array(2 * 16_000).map((_, i) => Math.sin(i / 7)));
    const { seconds, shots } = await load(svc.url, clip, `closed:${8 * largest}`, 10 * 8 * largest);
    const summary = `${shots.length} requests from ${8 * largest} connections in ${seconds.toFixed(1)} s: ${JSON.stringify(statuses(shots))}, p99 ${quantile(shots.map((s) => s.ms), 0.99).toFixed(0)} ms`;
    console.log(`      ${summary}`);
    expect(statuses(shots), summary).to.deep.equal({ 200: 10 * 8 * largest });
    const lone = (await post(`${svc.url}/raw`, clip)).json.probability as number;
    expect(shots.every((s) => Math.abs(s.probability! - lone) < 1e-6), 'each answered as the same clip alone').to.equal(true);
  });

  it('a burst of 64 Pipecat-style requests (8 s each) at once is answered in full', async function () {
    this.timeout(60_000);
    svc = await startTestService({ BATCH_BUCKETS: BATCHING.join(',') });
    const clip = encodeNpy(new Float32Array(8 * 16_000).map((_, i) => 0.3 * Math.sin(i / 11)));
    const { shots } = await load(svc.url, clip, 'closed:64', 64);
    const summary = `${JSON.stringify(statuses(shots))}, slowest ${Math.max(...shots.map((s) => s.ms)).toFixed(0)} ms`;
    console.log(`      burst of 64: ${summary}`);
    expect(statuses(shots), summary).to.deep.equal({ 200: 64 });
  });

  it('sheds load at 4× capacity: refusals come fast, and every accepted request is answered within its deadline', async function () {
    this.timeout(90_000);
    // What this machine does now, measured in this run: the model's capacity at the largest bucket (one
    // ONNX Runtime thread leaves the other core to HTTP and the load generator)...
    const model = await OnnxBackend.open({ modelPath: SLOW, intraOpThreads: 1 });
    const largest = model.buckets[model.buckets.length - 1]!;
    const clip = model.family.prepare(new Float32Array(16_000));
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const batch = model.lease(largest);
      for (let s = 0; s < largest; s++) clip.write(batch, s);
      const t0 = performance.now();
      await model.infer(batch, largest);
      best = Math.min(best, performance.now() - t0);
    }
    await model.close();
    const capacity = (largest / best) * 1000; // clips per second
    // ...so that the deadline holds a few full batches here as on any machine.
    const deadlineMs = Math.max(1000, Math.round(4 * best));
    svc = await startTestService({ MODEL_PATH: SLOW, ORT_INTRA_OP_THREADS: '1', REQUEST_TIMEOUT_MS: String(deadlineMs) });
    // ...and a lone request's latency through the server.
    const idle: number[] = [];
    let alone = NaN;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const answer = await post(`${svc.url}/raw`, f4);
      idle.push(performance.now() - t0);
      expect(answer.status).to.equal(200);
      alone = answer.json.probability;
    }
    const idleMs = Math.max(...idle);
    const rate = 4 * capacity;
    // Four seconds of overload, bounded: several batches, so that one slow batch on a busy machine
    // does not decide the outcome.
    const total = Math.min(1000, Math.round(rate * 4));
    const { seconds, shots } = await load(svc.url, f4, String(rate), total);
    const ok = shots.filter((a) => a.status === 200);
    const refused = shots.filter((a) => a.code === 'QUEUE_FULL');
    const expired = shots.filter((a) => a.code === 'DEADLINE_EXCEEDED');
    const summary =
      `capacity ${capacity.toFixed(0)}/s, REQUEST_TIMEOUT_MS ${deadlineMs}, lone request ${idleMs.toFixed(0)} ms at most; sent ${total} at ${rate.toFixed(0)}/s in ${seconds.toFixed(1)} s: ` +
      `${JSON.stringify(statuses(shots))}; accepted p50 ${quantile(ok.map((a) => a.ms), 0.5).toFixed(0)} max ${Math.max(...ok.map((a) => a.ms)).toFixed(0)} ms, ` +
      `refused p50 ${quantile(refused.map((a) => a.ms), 0.5).toFixed(0)} p99 ${quantile(refused.map((a) => a.ms), 0.99).toFixed(0)} ms`;
    console.log(`      ${summary}`);
    expect(shots.length, summary).to.equal(total);
    expect(ok.length + refused.length + expired.length, `only answers and 503s: ${summary}`).to.equal(total);
    expect(ok.length, summary).to.be.greaterThan(0);
    expect(refused.length, summary).to.be.greaterThan(0);
    expect(ok.every((a) => Math.abs(a.probability! - alone) < 1e-6), 'each answered as the same clip alone').to.equal(true);
    expect([...refused, ...expired].every((a) => a.retryAfter === '1')).to.equal(true);
    // Accepted: answered within the deadline, which runs from admission, plus what comes before it
    // (sending and reading the request) and after (the answer's way back), each bounded by a lone
    // request's whole round trip; with its probability, for most of them: the prediction holds.
    expect(Math.max(...[...ok, ...expired].map((a) => a.ms)), summary).to.be.at.most(deadlineMs + 2 * idleMs);
    expect(expired.length, summary).to.be.below(ok.length);
    // Refused: at once, in about what a lone request takes, well before an accepted request's answer.
    const refusedP99 = quantile(refused.map((a) => a.ms), 0.99);
    expect(refusedP99, summary).to.be.at.most(4 * idleMs);
    expect(refusedP99, summary).to.be.below(quantile(ok.map((a) => a.ms), 0.5));
  });

  it('MAX_QUEUE from the environment caps the requests waiting, whatever the deadline allows; the limit is exported and refusals logged', async () => {
    const lines: string[] = [];
    const logs = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2 }));
    svc = await startTestService({ MAX_QUEUE: '2', MICRO_BATCH_WINDOW_MS: '0' }, backend, logs);
    expect(svc.batcher.policy.maxQueue).to.equal(2);
    expect(sample(await (await fetch(`${svc.url}/metrics`)).text(), 'smart_turn_admission_limit')).to.equal(2);
    backend.hold();
    const running = post(`${svc.url}/raw`, f4);
    await until(() => svc.batcher.inFlight === 1, 'the first batch to start');
    const queued = [post(`${svc.url}/raw`, f4), post(`${svc.url}/raw`, f4)];
    await until(() => svc.batcher.queueDepth === 2, 'two queued requests');
    const refused = await Promise.all([post(`${svc.url}/raw`, f4), post(`${svc.url}/raw`, f4)]);
    expect(refused.map((r) => [r.status, r.json.error.code])).to.deep.equal([[503, 'QUEUE_FULL'], [503, 'QUEUE_FULL']]);
    expect(refused[0]!.json.error.message).to.match(/MAX_QUEUE=2 requests waiting/);
    backend.release();
    expect((await Promise.all([running, ...queued])).map((r) => r.status)).to.deep.equal([200, 200, 200]);
    // One log line for the spell of refusals, not one per request.
    const shed = lines.map((l) => JSON.parse(l)).filter((l) => /^shedding load/.test(l.msg));
    expect(shed).to.have.length(1);
    expect(shed[0]).to.deep.include({ level: 40, reason: 'max_queue', waiting: 2, refused: 1 });
    expect(lines.map((l) => JSON.parse(l)).find((l) => /^warm-up done/.test(l.msg))).to.include({ queueLimit: 2, maxQueue: 2 });
  });

  it('REQUEST_TIMEOUT_MS from the environment is the deadline: a request stuck behind a held batch gets 503 at it', async () => {
    const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2 }));
    svc = await startTestService({ REQUEST_TIMEOUT_MS: '300', MICRO_BATCH_WINDOW_MS: '0' }, backend);
    expect(svc.batcher.policy.deadlineMs).to.equal(300);
    backend.hold();
    const t0 = performance.now();
    const [running, queued] = await Promise.all([post(`${svc.url}/raw`, f4), post(`${svc.url}/raw`, f4)]);
    const elapsed = performance.now() - t0;
    backend.release();
    expect([running.status, running.json.error.code, queued.status, queued.json.error.code]).to.deep.equal([503, 'DEADLINE_EXCEEDED', 503, 'DEADLINE_EXCEEDED']);
    expect(running.json.error.message).to.match(/REQUEST_TIMEOUT_MS=300 ms/);
    // At its deadline: not before it, and before the default deadline (2500 ms) could have fired.
    expect(elapsed).to.be.within(300 - svc.batcher.admission().batchSeconds.reduce((m, [, s]) => Math.max(m, s * 1000), 0), loadConfigDefaultTimeout());
  });

  it('learns batch times from real batches and predicts the wait from them; both exported', async () => {
    const backend = new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2, buckets: BATCHING }));
    svc = await startTestService({ MICRO_BATCH_WINDOW_MS: '0' }, backend);
    const estimate = async (bucket: number): Promise<number> => sample(await (await fetch(`${svc.url}/metrics`)).text(), `smart_turn_batch_seconds_estimate{bucket="${bucket}"}`);
    const seeded = await estimate(1);
    expect(seeded).to.be.above(0); // warm-up's run of bucket 1
    // A batch held for 300 ms: the estimate for bucket 1 becomes what it took.
    backend.hold();
    const t0 = performance.now();
    const slow = post(`${svc.url}/raw`, f4);
    await until(() => svc.batcher.inFlight === 1, 'the batch to start');
    await sleep(300);
    // While it runs, a newcomer would wait for it: the predicted answer is about its remaining time plus a batch.
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(sample(metrics, 'smart_turn_predicted_answer_seconds')).to.be.above(0).and.below(seeded + (await estimate(8)) + 0.01);
    backend.release();
    expect((await slow).status).to.equal(200);
    const held = (performance.now() - t0) / 1000;
    // RFC 6298's first measurement: its mean R and a deviation of R / 2, one of which is added.
    expect(await estimate(1)).to.be.at.least(0.3 * 1.5).and.at.most(held * 1.5);
    // Fast batches again: the estimate comes back down, batch by batch.
    for (let i = 0; i < 10; i++) expect((await post(`${svc.url}/raw`, f4)).status).to.equal(200);
    expect(await estimate(1)).to.be.below(0.3);
  });
});
