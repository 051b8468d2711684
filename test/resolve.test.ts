import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { ConfigError } from '../ts/errors.js';
import type { HubOptions } from '../ts/startup/hub.js';
import { resolveModel, V2_EXPORT_PATH, type ModelConfig } from '../ts/startup/resolve.js';
import { smartTurnV3 } from '../ts/model/v3.js';
import { FakeHub } from './helpers/hub-server.js';

const COMMIT = 'd'.repeat(40);
const V3 = readFileSync('test/fixtures/models/readout-v3.onnx');
const V2 = readFileSync('test/fixtures/models/readout-v2.onnx');

const unset: ModelConfig = { modelId: undefined, modelRevision: 'main', modelFile: undefined, modelPath: undefined };

describe('resolveModel', () => {
  let hub: FakeHub;
  let dir: string;
  let hubOptions: HubOptions;

  beforeEach(async () => {
    hub = await FakeHub.start({
      'pipecat-ai/smart-turn-v3': {
        refs: { main: COMMIT },
        commits: { [COMMIT]: { 'smart-turn-v3.2-cpu.onnx': { bytes: V3, lfs: true }, 'smart-turn-v3.2-gpu.onnx': { bytes: V3, lfs: true } } },
      },
      'me/custom': { refs: { main: COMMIT }, commits: { [COMMIT]: { 'onnx/v2.onnx': { bytes: V2, lfs: true } } } },
    });
    dir = await fs.mkdtemp(path.join(tmpdir(), 'resolve-'));
    hubOptions = {
      endpoint: hub.endpoint,
      token: undefined,
      cacheDir: path.join(dir, 'hub'),
      offline: false,
      etagTimeoutMs: 2000,
      downloadTimeoutMs: 2000,
      log: () => undefined,
    };
  });

  afterEach(async () => {
    await hub.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('bad calls', () => {
    it('a MODEL_PATH that is no file: ConfigError naming MODEL_PATH, no request', async () => {
      const err = await resolveModel({ ...unset, modelPath: 'nope.onnx' }, 'onnx', hubOptions, dir).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ConfigError).with.property('variable', 'MODEL_PATH');
      expect(hub.requests).to.have.length(0);
    });
  });

  describe('expected failures', () => {
    it('TensorRT with no v2 export yet: says to run npm run export:model', async () => {
      const err = await resolveModel(unset, 'tensorrt', hubOptions, dir).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as Error).message).to.match(/PyTorch weights only.*npm run export:model/);
      expect(hub.requests).to.have.length(0);
    });

    it('a MODEL_FILE the repo lacks: the Hub error, naming the file', async () => {
      const err = await resolveModel({ ...unset, modelFile: 'missing.onnx' }, 'onnx', hubOptions, dir).catch((e: unknown) => e);
      expect((err as Error).message).to.match(/missing\.onnx does not exist/);
    });
  });

  describe('normal path', () => {
    it('MODEL_PATH wins over MODEL_ID, with no network', async () => {
      const got = await resolveModel({ ...unset, modelId: 'me/custom', modelPath: path.resolve('test/fixtures/models/readout-v3.onnx') }, 'onnx', hubOptions, dir);
      expect(got).to.include({ source: 'MODEL_PATH', modelId: undefined });
      expect(got.reason).to.match(/^MODEL_PATH=.*readout-v3\.onnx \(MODEL_ID=me\/custom ignored\)$/);
      expect(hub.requests).to.have.length(0);
    });

    it('ONNX Runtime by default: smart-turn-v3 CPU file, downloaded, then from the cache; it loads as v3', async () => {
      const first = await resolveModel(unset, 'onnx', hubOptions, dir);
      expect(first).to.include({ modelId: 'pipecat-ai/smart-turn-v3', file: 'smart-turn-v3.2-cpu.onnx', source: 'download', commit: COMMIT });
      expect(first.reason).to.match(/^MODEL_ID unset: pipecat-ai\/smart-turn-v3 is the onnx backend's default; smart-turn-v3\.2-cpu\.onnx \(MODEL_FILE unset\) at main \(commit dddddddddddd\), downloaded/);
      const second = await resolveModel(unset, 'onnx', hubOptions, dir);
      expect(second).to.include({ source: 'cache', path: first.path });
      const backend = await OnnxBackend.open({ modelPath: second.path, intraOpThreads: 1, reason: second.reason });
      try {
        expect(backend.family).to.equal(smartTurnV3);
      } finally {
        await backend.close();
      }
    });

    it('TensorRT with smart-turn-v3 takes the fp32 GPU file', async () => {
      const got = await resolveModel({ ...unset, modelId: 'pipecat-ai/smart-turn-v3' }, 'tensorrt', hubOptions, dir);
      expect(got.file).to.equal('smart-turn-v3.2-gpu.onnx');
      expect(got.reason).to.match(/^MODEL_ID=pipecat-ai\/smart-turn-v3;/);
    });

    it('TensorRT by default: smart-turn v2 from its export', async () => {
      await fs.mkdir(path.join(dir, path.dirname(V2_EXPORT_PATH)), { recursive: true });
      await fs.writeFile(path.join(dir, V2_EXPORT_PATH), V2);
      const got = await resolveModel(unset, 'tensorrt', hubOptions, dir);
      expect(got).to.include({ source: 'export', modelId: 'pipecat-ai/smart-turn-v2', path: path.join(dir, V2_EXPORT_PATH) });
      expect(hub.requests).to.have.length(0);
    });

    it('any MODEL_ID + MODEL_FILE from the Hub', async () => {
      const got = await resolveModel({ ...unset, modelId: 'me/custom', modelFile: 'onnx/v2.onnx' }, 'onnx', hubOptions, dir);
      expect(readFileSync(got.path).equals(V2)).to.equal(true);
      expect(got.source).to.equal('download');
    });
  });
});
