import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
    it('HF_HUB_ETAG_TIMEOUT not a number', () => refuses({ HF_HUB_ETAG_TIMEOUT: '10s' }, 'HF_HUB_ETAG_TIMEOUT', /expected a number, got "10s"/));
    it('HF_HUB_DOWNLOAD_TIMEOUT zero', () => refuses({ HF_HUB_DOWNLOAD_TIMEOUT: '0' }, 'HF_HUB_DOWNLOAD_TIMEOUT', /between 0.001 and 86400/));
    it('HF_HUB_OFFLINE not a flag', () => refuses({ HF_HUB_OFFLINE: 'sometimes' }, 'HF_HUB_OFFLINE', /0 or 1/));
    it('HF_ENDPOINT not a URL', () => refuses({ HF_ENDPOINT: 'huggingface.co' }, 'HF_ENDPOINT', /http\(s\) URL/));
  });

  describe('Hugging Face Hub settings, as the Hub clients read them', () => {
    it('default to huggingface.co and ~/.cache/huggingface/hub, online, 10 s timeouts', () => {
      const { hub } = loadConfig({ HF_HOME: '/home/x/.cache/huggingface' });
      expect(hub).to.deep.equal({ endpoint: 'https://huggingface.co', token: undefined, cacheDir: '/home/x/.cache/huggingface/hub', offline: false, etagTimeoutMs: 10_000, downloadTimeoutMs: 10_000 });
      expect(loadConfig({ XDG_CACHE_HOME: '/xdg' }).hub.cacheDir).to.equal('/xdg/huggingface/hub');
    });

    it('read HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE and the timeouts', () => {
      const { hub } = loadConfig({
        HF_ENDPOINT: 'http://mirror.local/',
        HF_HOME: '/data/hf',
        HF_TOKEN: 'hf_abc',
        HF_HUB_OFFLINE: 'true',
        HF_HUB_ETAG_TIMEOUT: '3',
        HF_HUB_DOWNLOAD_TIMEOUT: '0.5',
      });
      expect(hub).to.deep.equal({ endpoint: 'http://mirror.local', cacheDir: '/data/hf/hub', token: 'hf_abc', offline: true, etagTimeoutMs: 3000, downloadTimeoutMs: 500 });
      expect(loadConfig({ HF_HOME: '/data/hf', HF_HUB_CACHE: '/fast/hub' }).hub.cacheDir).to.equal('/fast/hub');
      expect(loadConfig({ HF_HOME: '/data/hf', HUGGINGFACE_HUB_CACHE: '/old/hub' }).hub.cacheDir).to.equal('/old/hub');
      for (const v of ['1', 'ON', 'yes']) expect(loadConfig({ HF_HUB_OFFLINE: v }).hub.offline).to.equal(true);
      for (const v of ['0', 'false', '']) expect(loadConfig({ HF_HUB_OFFLINE: v }).hub.offline).to.equal(false);
    });

    it('take the token from $HF_HOME/token (or HF_TOKEN_PATH) when HF_TOKEN is unset', () => {
      const home = mkdtempSync(path.join(tmpdir(), 'hf-home-'));
      try {
        writeFileSync(path.join(home, 'token'), 'hf_from_file\n');
        writeFileSync(path.join(home, 'other'), 'hf_other\n');
        expect(loadConfig({ HF_HOME: home }).hub.token).to.equal('hf_from_file');
        expect(loadConfig({ HF_HOME: home, HF_TOKEN_PATH: path.join(home, 'other') }).hub.token).to.equal('hf_other');
        expect(loadConfig({ HF_HOME: home, HF_TOKEN: 'hf_env' }).hub.token).to.equal('hf_env');
      } finally {
        rmSync(home, { recursive: true });
      }
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
    const shown = JSON.stringify(redactedConfig(loadConfig({ AUTH_KEY: 'hunter2', METRICS_AUTH_KEY: 'swordfish', HF_TOKEN: 'hf_secret' })));
    expect(shown).not.to.include('hunter2');
    expect(shown).not.to.include('swordfish');
    expect(shown).not.to.include('hf_secret');
    expect(shown).to.include('"authKey":"set"');
    expect(shown).to.include('"token":"set"');
  });
});
