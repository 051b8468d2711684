// ONNX Runtime on its own thread (ts/backends/onnx.ts) when that thread dies mid-batch: the batch in
// flight and every later one fail at once (no hang), and through the server those requests get 500
// BACKEND_FAILED while /ready turns 503, so an orchestrator replaces the replica.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { expectedV2, RAMP, READOUT_V2, TOLERANCE } from './helpers/fixtures.js';
import { fixture, post, startTestService, type TestService } from './helpers/service.js';

const f4 = readFileSync(fixture('npy/f4.npy'));

/**
 * Opens the backend with a way to kill its session thread as the next batch is posted to it. The
 * thread is found by watching Worker.prototype.postMessage (the backend keeps it private), which is
 * put back as soon as it has seen that batch: from the main thread, this is what a crash looks like.
 * The batch is swallowed, not delivered: a thread terminated inside onnxruntime-node's session.run can
 * abort the whole process (its binding throws a Napi::Error during the thread's teardown).
 */
async function withKillSwitch(modelPath: string): Promise<{ backend: OnnxBackend; killOnNextBatch(): Promise<void> }> {
  const backend = await OnnxBackend.open({ modelPath, buckets: [1, 2] });
  const killOnNextBatch = (): Promise<void> =>
    new Promise((resolve) => {
      const original = Worker.prototype.postMessage;
      Worker.prototype.postMessage = function (this: Worker, message: unknown, transfer?: readonly unknown[]) {
        if ((message as { type?: string }).type !== 'run') return original.call(this, message, transfer as never);
        Worker.prototype.postMessage = original;
        void this.terminate().then(() => resolve());
      };
    });
  return { backend, killOnNextBatch };
}

describe('onnx backend', () => {
  let svc: TestService | undefined;
  afterEach(async () => svc?.stop());

  it('rejects the batch in flight and every later one when its thread dies, without hanging', async () => {
    const { backend, killOnNextBatch } = await withKillSwitch(READOUT_V2);
    const batch = backend.lease(1);
    backend.family.prepare(RAMP).write(batch, 0);
    const dead = killOnNextBatch();
    const error = await backend.infer(batch, 1).then(
      () => undefined,
      (e: Error) => e,
    );
    await dead;
    expect(error?.message).to.match(/^ONNX Runtime thread exited \(code \d+\)$/);
    const later = await backend.infer(backend.lease(1), 1).catch((e: Error) => e);
    expect((later as Error).message).to.equal(error!.message);
    await backend.close(); // and closing a dead backend returns
  });

  it('through the server: that batch and later ones answer 500 BACKEND_FAILED, /ready turns 503', async () => {
    const { backend, killOnNextBatch } = await withKillSwitch(READOUT_V2);
    svc = await startTestService({ MICRO_BATCH_WINDOW_MS: '0' }, backend);
    const served = await post(`${svc.url}/raw`, f4);
    expect(served.json.probability).to.be.closeTo(expectedV2(RAMP), TOLERANCE);
    const dead = killOnNextBatch();
    const answers = [await post(`${svc.url}/raw`, f4)];
    await dead;
    answers.push(await post(`${svc.url}/raw`, f4), await post(`${svc.url}/raw`, f4));
    expect(answers.map((a) => [a.status, a.json.error.code])).to.deep.equal(Array(3).fill([500, 'BACKEND_FAILED']));
    const ready = await fetch(`${svc.url}/ready`);
    expect(ready.status).to.equal(503);
    expect((await ready.json()).reason).to.match(/the last 3 batches failed/);
    expect((await fetch(`${svc.url}/health`)).status).to.equal(200);
  });
});
