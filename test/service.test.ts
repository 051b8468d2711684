// The composition root's own decisions: which batching window the batcher gets.
import { expect } from 'chai';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { GatedBackend } from './helpers/backends.js';
import { READOUT_V2 } from './helpers/fixtures.js';
import { startTestService, type TestService } from './helpers/service.js';

describe('service', () => {
  let svc: TestService | undefined;
  afterEach(async () => svc?.stop());

  // Buckets 1,2: a batching window would hold a lone request back for a second one.
  const gated = async (): Promise<GatedBackend> => new GatedBackend(await OnnxBackend.open({ modelPath: READOUT_V2, buckets: [1, 2] }));
  const clip = (backend: GatedBackend) => backend.family.prepare(new Float32Array(16_000));

  it('dispatches a lone request on the CPU backend at once: its window is 0 unless MICRO_BATCH_WINDOW_MS says', async () => {
    const backend = await gated();
    svc = await startTestService({}, backend);
    expect(backend.windowMs).to.equal(0);
    const warmUp = backend.batches.length;
    const answer = svc.batcher.submit(clip(backend));
    expect(backend.batches.slice(warmUp), 'dispatched within submit()').to.deep.equal([1]);
    expect((await answer).batchSize).to.equal(1);
  });

  it('holds a lone request for company for MICRO_BATCH_WINDOW_MS when it is set', async () => {
    const backend = await gated();
    svc = await startTestService({ MICRO_BATCH_WINDOW_MS: '50' }, backend);
    const warmUp = backend.batches.length;
    const first = svc.batcher.submit(clip(backend));
    expect(backend.batches.slice(warmUp), 'held within submit()').to.deep.equal([]);
    const second = svc.batcher.submit(clip(backend)); // fills the largest bucket
    expect(backend.batches.slice(warmUp)).to.deep.equal([2]);
    expect((await Promise.all([first, second])).map((r) => r.batchSize)).to.deep.equal([2, 2]);
  });
});
