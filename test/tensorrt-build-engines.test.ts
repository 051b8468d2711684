// tools/build-engines.ts: its options, the staging folder that replaces the old plans only once
// everything passed, the validation of every row of every bucket (on the addon's host TEST executor
// against ONNX Runtime on the same fixture model), and that without TensorRT it exits non-zero
// saying why. Building real plans needs a GPU: test/tensorrt-flow.test.ts.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../ts/backends/backend.js';
import { OnnxBackend } from '../ts/backends/onnx.js';
import { tryLoadNative, type NativeAddon } from '../ts/lib/native.js';
import type { Batch } from '../ts/tensor.js';
import { UsageError } from '../tools/lib/target.js';
import { parseArgs, replaceFolder, TOLERANCE, validate, validationClips } from '../tools/build-engines.js';
import { READOUT_V2 } from './helpers/fixtures.js';
import { openTestBackend, rejection, requireAddon } from './helpers/native.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'tools/build-engines.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DTYPE: '' } });

/** A backend whose batches answer row `a` with row `b`'s result and back: a batch-position bug. */
class SwappedRows implements Backend {
  constructor(private readonly inner: Backend, private readonly a: number, private readonly b: number) {}
  get info() { return this.inner.info; }
  get buckets() { return this.inner.buckets; }
  get windowMs() { return this.inner.windowMs; }
  get family() { return this.inner.family; }
  get maxInFlight() { return this.inner.maxInFlight; }
  lease(size: number): Batch { return this.inner.lease(size); }
  release(batch: Batch): void { this.inner.release(batch); }
  close(): Promise<void> { return this.inner.close(); }
  async infer(batch: Batch, count: number): Promise<Float32Array> {
    const out = Float32Array.from(await this.inner.infer(batch, count));
    if (this.b < count) [out[this.a], out[this.b]] = [out[this.b]!, out[this.a]!];
    return out;
  }
}

describe('build-engines', () => {
  describe('options', () => {
    it('refuses bad options, with the usage', () => {
      expect(() => parseArgs([], {})).to.throw(UsageError, /--onnx is required/);
      expect(() => parseArgs(['--onnx'], {})).to.throw(UsageError, /'--onnx <value>' argument missing/);
      expect(() => parseArgs(['--onnx', 'm.onnx', '--dtype', 'int8'], {})).to.throw(UsageError, /--dtype must be bfloat16, float16, float32, got int8/);
      expect(() => parseArgs(['--onnx', 'm.onnx', '--fast', '1'], {})).to.throw(UsageError, /Unknown option '--fast'/);
      expect(() => parseArgs(['--onnx', 'm.onnx', '--workspace-mib', 'lots'], {})).to.throw(UsageError, /whole number/);
      expect(() => parseArgs(['--onnx', 'm.onnx', '--buckets', '0'], {})).to.throw(/BATCH_BUCKETS: must be between 1 and 1024/);
      const r = cli([]);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/--onnx is required\nusage: npm run build:engines/);
    });

    it('defaults to bf16, the backend\'s buckets 16/32/64, engines/<model>/ and device 0, and follows DTYPE, BATCH_BUCKETS, ENGINES_DIR, CUDA_DEVICE, TENSORRT_LIB_DIR', () => {
      expect(parseArgs(['--onnx', 'models/smart-turn-v2.onnx'], {})).to.deep.equal({
        onnx: 'models/smart-turn-v2.onnx',
        model: 'smart-turn-v2',
        dtype: 'bfloat16',
        buckets: [16, 32, 64],
        enginesDir: 'engines',
        workspaceMiB: 0,
        timingCache: path.join('engines', 'smart-turn-v2', 'timing.cache'),
        device: 0,
        tensorrtLibDir: undefined,
        cudaGraphs: true,
      });
      const env = { DTYPE: 'float16', BATCH_BUCKETS: '8,4', ENGINES_DIR: '/srv/engines', TENSORRT_LIB_DIR: '/opt/trt/lib', CUDA_DEVICE: '3' };
      expect(parseArgs(['--onnx', 'm.onnx', '--model', 'org/m'], env)).to.deep.include({
        dtype: 'float16',
        buckets: [4, 8],
        enginesDir: '/srv/engines',
        model: 'org--m',
        tensorrtLibDir: '/opt/trt/lib',
        device: 3,
      });
      expect(parseArgs(['--onnx', 'm.onnx', '--buckets', '2,1', '--device', '1'], env)).to.deep.include({ buckets: [1, 2], device: 1 });
    });

    it('holds reduced precision to looser tolerances than fp32', () => {
      expect(TOLERANCE.float32).to.be.below(TOLERANCE.float16);
      expect(TOLERANCE.float16).to.be.at.most(TOLERANCE.bfloat16);
    });
  });

  describe('the staging folder', () => {
    let root: string;
    let dir: string;
    beforeEach(async () => {
      root = await mkdtemp(path.join(os.tmpdir(), 'st-engines-'));
      dir = path.join(root, 'm', 'bfloat16');
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'b16.plan'), 'old plan');
      await writeFile(path.join(dir, 'manifest.json'), '{"old": true}');
    });
    afterEach(() => rm(root, { recursive: true, force: true }));

    it('leaves the old plans and manifest exactly as they were when the build or its validation fails', async () => {
      const error = await rejection(
        replaceFolder(dir, async (staging) => {
          await writeFile(path.join(staging, 'b16.plan'), 'new plan');
          throw new Error('validation failed: max abs difference 0.3 exceeds 0.05');
        }),
      );
      expect(error.message).to.match(/validation failed/);
      expect(readFileSync(path.join(dir, 'b16.plan'), 'utf8')).to.equal('old plan');
      expect(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).to.equal('{"old": true}');
      expect(await readdir(path.dirname(dir))).to.deep.equal(['bfloat16']);
    });

    it('replaces the whole folder once the build passed: no old plan survives next to the new manifest', async () => {
      await writeFile(path.join(dir, 'b64.plan'), 'a bucket the new build does not have');
      const result = await replaceFolder(dir, async (staging) => {
        await writeFile(path.join(staging, 'b16.plan'), 'new plan');
        await writeFile(path.join(staging, 'manifest.json'), '{"new": true}');
        return 'built';
      });
      expect(result).to.equal('built');
      expect(await readdir(dir)).to.deep.equal(['b16.plan', 'manifest.json']);
      expect(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).to.equal('{"new": true}');
      expect(await readdir(path.dirname(dir))).to.deep.equal(['bfloat16']);
    });

    it('makes the folder when there was none', async () => {
      const fresh = path.join(root, 'other', 'float32');
      await replaceFolder(fresh, (staging) => writeFile(path.join(staging, 'manifest.json'), '{}'));
      expect(existsSync(path.join(fresh, 'manifest.json'))).to.equal(true);
    });
  });

  describe('validation', function () {
    this.timeout(120_000);
    let addon: NativeAddon;
    before(function () {
      addon = requireAddon(this);
    });

    it('uses a different clip for every row', () => {
      const clips = validationClips(64, 256_000);
      expect(clips).to.have.length(64);
      expect(new Set(clips.map((c) => `${c.length}:${c[100]}:${c[c.length - 1]}`)).size).to.equal(64);
      expect(Math.max(...clips.map((c) => c.length))).to.be.above(256_000);
    });

    it('compares every row of every bucket with ONNX Runtime, so a batch-position bug cannot pass', async () => {
      const buckets = [2, 8, 16];
      const [trt, ort] = [await openTestBackend(addon, { executor: 'test-host', buckets }), await OnnxBackend.open({ modelPath: READOUT_V2 })];
      try {
        const lines: string[] = [];
        const good = await validate(trt, ort, buckets, (line) => lines.push(line));
        expect(good.rows).to.equal(2 + 8 + 16);
        expect(good.maxAbsDiff).to.be.below(TOLERANCE.float32);
        expect(lines).to.have.length(3);
        expect(lines[2]).to.match(/^ {2}bucket 16: 16 rows, each a different clip; max abs difference /);
        // Rows 9 and 14 swapped: only bucket 16 has them, past any first few rows.
        const swapped = await validate(new SwappedRows(trt, 9, 14), ort, buckets);
        expect(swapped.maxAbsDiff).to.be.above(TOLERANCE.bfloat16);
      } finally {
        await trt.close();
        await ort.close();
      }
    });
  });

  it('exits non-zero with the addon\'s reason where TensorRT is not usable (or the addon is missing)', function () {
    this.timeout(30_000);
    const native = tryLoadNative();
    if (native.addon?.status().tensorrt) this.skip();
    const reason = native.addon ? native.addon.status().reason : native.reason;
    const r = cli(['--onnx', READOUT_V2, '--engines-dir', '/tmp/st-never-written']);
    expect(r.status).to.equal(1);
    expect(r.stderr.trim()).to.equal(`cannot build engines: ${reason}`);
    expect(existsSync('/tmp/st-never-written')).to.equal(false);
  });
});
