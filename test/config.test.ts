import { expect } from 'chai';
import path from 'node:path';
import { loadConfig, redactedConfig } from '../ts/config.js';
import { ConfigError } from '../ts/errors.js';

function refuses(env: Record<string, string>, variable: string, message: RegExp): void {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  expect(caught, `${JSON.stringify(env)} should be refused`).to.be.instanceOf(ConfigError);
  expect((caught as ConfigError).variable).to.equal(variable);
  expect((caught as ConfigError).message).to.match(new RegExp(`^${variable}: `)).and.to.match(message);
}

describe('config', () => {
  describe('refuses bad values, naming the variable', () => {
    it('BATCH_BUCKETS with a non-number', () => refuses({ BATCH_BUCKETS: '16,x' }, 'BATCH_BUCKETS', /whole number, got "x"/));
    it('BATCH_BUCKETS with zero', () => refuses({ BATCH_BUCKETS: '0,16' }, 'BATCH_BUCKETS', /between 1 and 1024/));
    it('BATCH_BUCKETS with a repeat', () => refuses({ BATCH_BUCKETS: '16,16' }, 'BATCH_BUCKETS', /repeats/));
    it('THRESHOLD above 1', () => refuses({ THRESHOLD: '2' }, 'THRESHOLD', /between 0 and 1/));
    it('THRESHOLD that is not a number', () => refuses({ THRESHOLD: '0.5x' }, 'THRESHOLD', /expected a number/));
    it('MICRO_BATCH_WINDOW_MS negative', () => refuses({ MICRO_BATCH_WINDOW_MS: '-1' }, 'MICRO_BATCH_WINDOW_MS', /between 0 and 1000/));
    it('PORT out of range', () => refuses({ PORT: '70000' }, 'PORT', /between 0 and 65535/));
    it('DTYPE unknown', () => refuses({ DTYPE: 'int8' }, 'DTYPE', /bfloat16, float16, float32/));
    it('BACKEND unknown', () => refuses({ BACKEND: 'cuda' }, 'BACKEND', /auto, onnx, tensorrt/));
    it('CUDA_GRAPHS not a flag', () => refuses({ CUDA_GRAPHS: 'maybe' }, 'CUDA_GRAPHS', /0 or 1/));
    it('CUDA_DEVICE negative', () => refuses({ CUDA_DEVICE: '-1' }, 'CUDA_DEVICE', /whole number/));
    it('MAX_BODY_BYTES not whole', () => refuses({ MAX_BODY_BYTES: '1e6' }, 'MAX_BODY_BYTES', /whole number/));
    it('ORT_ALLOW_SPINNING not a flag', () => refuses({ ORT_ALLOW_SPINNING: 'sometimes' }, 'ORT_ALLOW_SPINNING', /0 or 1/));
    it('ORT_INTRA_OP_THREADS negative', () => refuses({ ORT_INTRA_OP_THREADS: '-1' }, 'ORT_INTRA_OP_THREADS', /whole number/));
    it('MAX_STREAMS zero', () => refuses({ MAX_STREAMS: '0' }, 'MAX_STREAMS', /between 1 and/));
    it('STREAM_MAX_MESSAGE_BYTES below 1 KiB', () => refuses({ STREAM_MAX_MESSAGE_BYTES: '512' }, 'STREAM_MAX_MESSAGE_BYTES', /between 1024 and/));
    it('STREAM_IDLE_TIMEOUT_MS and STREAM_MAX_LEAD_MS not whole', () => {
      refuses({ STREAM_IDLE_TIMEOUT_MS: '1.5' }, 'STREAM_IDLE_TIMEOUT_MS', /whole number/);
      refuses({ STREAM_MAX_LEAD_MS: '-1' }, 'STREAM_MAX_LEAD_MS', /whole number/);
    });
  });

  it('has the original server’s defaults', () => {
    const config = loadConfig({});
    expect(config.port).to.equal(8000);
    expect(config.microBatchWindowMs).to.equal(undefined); // the backend's own: 2 ms on TensorRT, as the original
    expect(config.threshold).to.equal(0.5);
    expect(config.dtype).to.equal('bfloat16');
    expect(config.batchBuckets).to.equal(undefined); // the backend's own
    // ONNX Runtime's threads and spinning: the CPU plan's (test/cpu-plan.test.ts).
    expect([config.ortIntraOpThreads, config.ortInterOpThreads, config.ortAllowSpinning]).to.deep.equal([undefined, undefined, undefined]);
    expect(config.maxBodyBytes).to.equal(8 * 1024 * 1024);
    expect(config.authKey).to.equal(undefined);
  });

  it('reads the settings the CPU plan would otherwise derive, 0 threads meaning ONNX Runtime’s own', () => {
    const config = loadConfig({ MICRO_BATCH_WINDOW_MS: '0', ORT_INTRA_OP_THREADS: '0', ORT_INTER_OP_THREADS: '2', ORT_ALLOW_SPINNING: 'off' });
    expect(config.microBatchWindowMs).to.equal(0);
    expect([config.ortIntraOpThreads, config.ortInterOpThreads, config.ortAllowSpinning]).to.deep.equal([0, 2, false]);
  });

  it('reads buckets in any order and treats empty values as unset', () => {
    const config = loadConfig({ BATCH_BUCKETS: ' 64, 16 ,32', AUTH_KEY: '', DTYPE: 'Float32', CUDA_GRAPHS: '0' });
    expect(config.batchBuckets).to.deep.equal([16, 32, 64]);
    expect(config.authKey).to.equal(undefined);
    expect(config.dtype).to.equal('float32');
    expect(config.cudaGraphs).to.equal(false);
    expect([loadConfig({}).cudaDevice, loadConfig({ CUDA_DEVICE: '2' }).cudaDevice]).to.deep.equal([0, 2]);
  });

  it('makes TENSORRT_LIB_DIR absolute, so the addon dlopens a path, never a search', () => {
    expect(loadConfig({}).tensorrtLibDir).to.equal(undefined);
    expect(loadConfig({ TENSORRT_LIB_DIR: '.cache/trt-standin/lib' }).tensorrtLibDir).to.equal(path.resolve('.cache/trt-standin/lib'));
    expect(loadConfig({ TENSORRT_LIB_DIR: '/opt/trt/lib' }).tensorrtLibDir).to.equal('/opt/trt/lib');
  });

  it('never shows secrets when logged', () => {
    const shown = JSON.stringify(redactedConfig(loadConfig({ AUTH_KEY: 'hunter2', METRICS_AUTH_KEY: 'swordfish' })));
    expect(shown).not.to.include('hunter2');
    expect(shown).not.to.include('swordfish');
    expect(shown).to.include('"authKey":"set"');
  });
});
