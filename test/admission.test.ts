// Admission, deadlines, disconnects and readiness on a real server: what a voice agent's bursts meet.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { GatedBackend } from './helpers/backends.js';
import type { Shot } from './helpers/loadgen.js';
import { expectedV2, RAMP, READOUT_V2 } from './helpers/fixtures.js';
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

  it('sheds load at 4x capacity: every request answered, accepted ones within 1 s, the rest fast 503s', async function () {
    this.timeout(60_000);
    // One ONNX Runtime thread leaves the other core to HTTP and the load generator.
    svc = await startTestService({ MODEL_PATH: SLOW, ORT_INTRA_OP_THREADS: '1' });
    // Capacity from the model's own cost at the largest bucket.
    const largest = svc.backend.buckets[svc.backend.buckets.length - 1]!;
    const clip = svc.backend.family.prepare(new Float32Array(16_000));
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const batch = svc.backend.lease(largest);
      for (let s = 0; s < largest; s++) clip.write(batch, s);
      const t0 = performance.now();
      await svc.backend.infer(batch, largest);
      best = Math.min(best, performance.now() - t0);
    }
    const capacity = (largest / best) * 1000; // clips per second
    const rate = 4 * capacity;
    const total = Math.min(1000, Math.round(rate * 2)); // two seconds of overload, bounded
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/helpers/loadgen.ts', `${svc.url}/raw`, fixture('npy/f4.npy'), String(rate), String(total)], { maxBuffer: 64 << 20 });
    const { seconds, shots } = JSON.parse(stdout) as { seconds: number; shots: Shot[] };
    const ok = shots.filter((a) => a.status === 200);
    const shed = shots.filter((a) => a.status === 503);
    const summary = `capacity ${capacity.toFixed(0)}/s, sent ${total} at ${rate.toFixed(0)}/s in ${seconds.toFixed(1)} s: ${ok.length} answered, ${shed.length} shed; accepted p99 ${quantile(ok.map((a) => a.ms), 0.99).toFixed(0)} ms, shed p99 ${quantile(shed.map((a) => a.ms), 0.99).toFixed(0)} ms`;
    console.log(`      ${summary}`);
    expect(shots.length, summary).to.equal(total);
    expect(ok.length + shed.length, `only 200s and 503s: ${summary}`).to.equal(total);
    expect(ok.length, summary).to.be.greaterThan(0);
    expect(shed.length, summary).to.be.greaterThan(0);
    expect(quantile(ok.map((a) => a.ms), 0.99), summary).to.be.lessThan(1000);
    expect(quantile(shed.map((a) => a.ms), 0.99), summary).to.be.lessThan(250);
    expect(ok.every((a) => Math.abs(a.probability! - expectedV2(RAMP)) < 1e-5)).to.equal(true);
    expect(shed.every((a) => a.code === 'QUEUE_FULL' || a.code === 'DEADLINE_EXCEEDED')).to.equal(true);
    expect(shed.every((a) => a.retryAfter === '1')).to.equal(true);
  });
});
