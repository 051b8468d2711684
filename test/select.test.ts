// Which backend serves (ts/startup/select.ts): BACKEND=onnx as asked, BACKEND=auto falling back to ONNX
// Runtime with TensorRT's reason in the start-up log, BACKEND=tensorrt refusing to start without it.
// On a machine with TensorRT and engines the two fallback tests do not apply, and skip.
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { loadConfig } from '../ts/config.js';
import { findEngines } from '../ts/startup/engines.js';
import { engineLocation } from '../ts/startup/select.js';
import { READOUT_V2 } from './helpers/fixtures.js';
import { startTestService } from './helpers/service.js';

/** The start-up log's 'backend chosen' line, from a service started with `env`. */
async function chosen(env: Record<string, string>): Promise<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const service = await startTestService(env, undefined, sink);
  await service.stop();
  return lines.find((l) => l['msg'] === 'backend chosen')!;
}

describe('backend selection', function () {
  this.timeout(30_000);
  let trt: { available: boolean; reason: string };
  before(async () => {
    const found = await findEngines(engineLocation(loadConfig({ MODEL_PATH: READOUT_V2 })));
    trt = { available: found.ok, reason: found.reason };
  });

  it('BACKEND=onnx: ONNX Runtime, saying it was asked for', async () => {
    const line = await chosen({ BACKEND: 'onnx' });
    expect(line).to.include({ backend: 'onnx', reason: `BACKEND=onnx; model: MODEL_PATH=${READOUT_V2}` });
  });

  it('BACKEND=auto without TensorRT: ONNX Runtime, logging why TensorRT cannot serve', async function () {
    if (trt.available) this.skip();
    const line = await chosen({ BACKEND: 'auto' });
    expect(line).to.include({
      backend: 'onnx',
      reason: `BACKEND=auto: ONNX Runtime on the CPU, since TensorRT cannot serve (${trt.reason}); model: MODEL_PATH=${READOUT_V2}`,
    });
    expect(trt.reason).to.match(/TensorRT|GPU|CUDA|addon/);
  });

  it('BACKEND=tensorrt without TensorRT: refuses to start, with the reason', async function () {
    if (trt.available) this.skip();
    const error = await startTestService({ BACKEND: 'tensorrt' }).then(
      (service) => service.stop().then(() => undefined),
      (e: unknown) => e as Error,
    );
    expect(error).to.be.instanceOf(Error);
    expect(error!.message).to.equal(`BACKEND=tensorrt, but TensorRT cannot serve: ${trt.reason}`);
  });
});
