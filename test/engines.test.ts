// The TensorRT engine catalogue (ts/startup/engines.ts): engine folders and manifests, their checks
// against this machine's GPU, TensorRT and model, the precision summary of TensorRT's inspector
// output, and findEngines, which start-up asks once.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tryLoadNative, type NativeStatus } from '../ts/lib/native.js';
import {
  describePrecision,
  engineDir,
  findEngines,
  layerPrecisions,
  manifestMismatch,
  MANIFEST_FORMAT,
  modelKey,
  readManifest,
  sha256File,
  type EngineManifest,
} from '../ts/startup/engines.js';
import { READOUT_V2 } from './helpers/fixtures.js';
import { rejection } from './helpers/native.js';

const STATUS: NativeStatus = {
  cuda: true,
  tensorrt: true,
  gpu: { index: 1, name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', memoryBytes: 80e9 },
  versions: { napi: 8, cudaToolkit: '13.0', cudaRuntime: '13.0', cudaDriver: '13.0', tensorrtHeaders: '10.16.1', tensorrtLibrary: '10.16.1' },
  build: { cuda: true, tensorrt: true },
  executors: ['test-host', 'test-cuda', 'tensorrt'],
  reason: '',
};

const MANIFEST: EngineManifest = {
  format: MANIFEST_FORMAT,
  model: 'smart-turn-v2',
  dtype: 'bfloat16',
  onnx: { file: 'smart-turn-v2.onnx', sha256: 'ab'.repeat(32) },
  tensorrt: '10.16.1',
  cuda: { toolkit: '13.0', runtime: '13.0', driver: '13.0' },
  gpu: { name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0' },
  buckets: [16, 32, 64],
  plans: { '16': 'b16.plan', '32': 'b32.plan', '64': 'b64.plan' },
  inputs: [],
  outputs: [],
  precision: { '16': { tf32: false, layers: 2, outputs: { bfloat16: 1, float32: 1 } } },
  memory: {
    device: 0,
    lanes: 2,
    laneBytes: 1,
    activationBytes: { '16': 1 },
    slotBytes: 1,
    neededBytes: 3,
    freeBytes: 4,
    totalBytes: 5,
    description: '',
  },
  validation: { tolerance: 0.05, maxAbsDiff: 0.001, rows: 112 },
  builtAt: '2026-01-01T00:00:00Z',
};

// What TensorRT 10's detailed engine information looks like (trimmed): formats name the data type.
const REAL_FORMAT = JSON.stringify({
  Layers: [
    { Name: 'conv', LayerType: 'CaskConvolution', Inputs: [{ 'Format/Datatype': 'Row major linear FP32' }], Outputs: [{ Name: 'a', 'Format/Datatype': 'Row major linear BF16 format' }] },
    { Name: 'ln', LayerType: 'Normalization', Outputs: [{ Name: 'b', 'Format/Datatype': 'Row major linear FP32' }] },
    { Name: 'mm', LayerType: 'Myelin', Outputs: [{ Name: 'c', 'Format/Datatype': 'Channel major FP16 format where channel % 8 == 0' }] },
    { Name: 'cast', LayerType: 'Cast', Outputs: [{ Name: 'd', 'Format/Datatype': 'Int64' }] },
    { Name: 'old', LayerType: 'Reformat', Outputs: [{ Name: 'e', 'Format/Datatype': 'Half' }] },
    { Name: 'sigmoid', LayerType: 'PointWise', Outputs: [{ Name: 'logits', 'Format/Datatype': 'Float' }] },
  ],
  Bindings: ['input_values', 'logits'],
});

describe('engines (the TensorRT engine catalogue)', () => {
  it('names one folder per model and dtype', () => {
    expect(modelKey('pipecat-ai/smart-turn-v2')).to.equal('pipecat-ai--smart-turn-v2');
    expect(modelKey('smart-turn v2.onnx')).to.equal('smart-turn_v2');
    expect(engineDir('engines', 'pipecat-ai/smart-turn-v2', 'float16')).to.equal(path.join('engines', 'pipecat-ai--smart-turn-v2', 'float16'));
  });

  it('accepts plans built here, for this model', () => {
    expect(manifestMismatch(MANIFEST, STATUS, 'ab'.repeat(32))).to.equal(undefined);
    expect(manifestMismatch(MANIFEST, STATUS)).to.equal(undefined);
  });

  it('refuses another TensorRT version, another GPU (naming the configured device) or another model, and says to rebuild', () => {
    const trt = manifestMismatch(MANIFEST, { ...STATUS, versions: { ...STATUS.versions, tensorrtLibrary: '10.17.0' } });
    expect(trt).to.match(/built with TensorRT 10\.16\.1 but this machine has 10\.17\.0; rebuild them here with npm run build:engines/);
    const gpu = manifestMismatch(MANIFEST, { ...STATUS, gpu: { ...STATUS.gpu!, name: 'NVIDIA L40S', computeCapability: '8.9' } });
    expect(gpu).to.match(/built for NVIDIA H100 80GB HBM3 \(compute 9\.0\) but GPU 1 is NVIDIA L40S \(compute 8\.9\); rebuild/);
    expect(manifestMismatch(MANIFEST, STATUS, 'cd'.repeat(32))).to.match(/built from another model .*rebuild/);
    expect(manifestMismatch(MANIFEST, { ...STATUS, gpu: null, reason: 'no GPU here' })).to.match(/no GPU here/);
  });

  it('reads a manifest, and says how to get one when it is missing or older', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'st-manifest-'));
    try {
      expect((await rejection(readManifest(dir))).message).to.match(/manifest\.json missing\): build them with npm run build:engines/);
      await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...MANIFEST, format: 1 }));
      expect((await rejection(readManifest(dir))).message).to.match(/format 1, this server reads 2: rebuild/);
      await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(MANIFEST));
      expect(await readManifest(dir)).to.deep.equal(MANIFEST);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('hashes the ONNX file', async () => {
    expect(await sha256File(READOUT_V2)).to.match(/^[0-9a-f]{64}$/);
  });

  it('counts what each layer runs in from TensorRT\'s detailed engine information', () => {
    const precision = layerPrecisions(REAL_FORMAT, false);
    expect(precision).to.deep.equal({ tf32: false, layers: 6, outputs: { bfloat16: 1, float32: 2, float16: 2, int64: 1 } });
    expect(describePrecision(precision)).to.equal('2 float32, 2 float16, 1 bfloat16, 1 int64 layers (by output type); TF32 off');
    // Names only (profiling verbosity below detailed): the layers are counted, their types unknown.
    expect(layerPrecisions(JSON.stringify({ Layers: ['a', 'b'] }), true)).to.deep.equal({ tf32: true, layers: 2, outputs: { unknown: 2 } });
  });

  describe('findEngines', () => {
    it('tells BACKEND=auto why TensorRT cannot be used here (with TensorRT and a GPU: test/tensorrt-flow.test.ts)', async function () {
      // Without the addon the loader's reason; with it, what status() says is missing.
      const native = tryLoadNative();
      if (native.addon?.status().tensorrt) this.skip();
      const reason = native.addon ? native.addon.status().reason : native.reason;
      const found = await findEngines({ enginesDir: 'engines', model: 'smart-turn-v2', dtype: 'bfloat16', device: 0 });
      expect(found).to.deep.equal({ ok: false, reason });
    });
  });
});
