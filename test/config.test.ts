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
    it('MAX_BODY_BYTES not whole', () => refuses({ MAX_BODY_BYTES: '1e6' }, 'MAX_BODY_BYTES', /whole number/));
  });

  it('has the original server’s defaults', () => {
    const config = loadConfig({});
    expect(config.port).to.equal(8000);
    expect(config.microBatchWindowMs).to.equal(2);
    expect(config.threshold).to.equal(0.5);
    expect(config.dtype).to.equal('bfloat16');
    expect(config.batchBuckets).to.equal(undefined); // the backend's own
    expect(config.maxBodyBytes).to.equal(8 * 1024 * 1024);
    expect(config.authKey).to.equal(undefined);
  });

  it('reads buckets in any order and treats empty values as unset', () => {
    const config = loadConfig({ BATCH_BUCKETS: ' 64, 16 ,32', AUTH_KEY: '', DTYPE: 'Float32', CUDA_GRAPHS: '0' });
    expect(config.batchBuckets).to.deep.equal([16, 32, 64]);
    expect(config.authKey).to.equal(undefined);
    expect(config.dtype).to.equal('float32');
    expect(config.cudaGraphs).to.equal(false);
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
