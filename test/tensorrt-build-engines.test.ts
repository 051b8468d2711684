// tools/build-engines.ts: its options, and that without TensorRT it exits non-zero saying why.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, TOLERANCE, UsageError } from '../tools/build-engines.js';
import { tryLoadNative } from '../ts/native.js';
import { READOUT_V2 } from './helpers/fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'tools/build-engines.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DTYPE: '' } });

describe('build-engines', () => {
  it('refuses bad options, with the usage', () => {
    expect(() => parseArgs([], {})).to.throw(UsageError, /--onnx is required/);
    expect(() => parseArgs(['--onnx'], {})).to.throw(UsageError, /unexpected argument --onnx/);
    expect(() => parseArgs(['--onnx', 'm.onnx', '--dtype', 'int8'], {})).to.throw(UsageError, /--dtype must be/);
    expect(() => parseArgs(['--onnx', 'm.onnx', '--fast', '1'], {})).to.throw(UsageError, /unknown option --fast/);
    expect(() => parseArgs(['--onnx', 'm.onnx', '--workspace-mib', 'lots'], {})).to.throw(UsageError, /whole number/);
    const r = cli([]);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/--onnx is required\nusage: npm run build:engines/);
  });

  it('defaults to bf16, buckets 16/32/64 and engines/<model>/, and follows DTYPE, BATCH_BUCKETS, ENGINES_DIR', () => {
    expect(parseArgs(['--onnx', 'models/smart-turn-v2.onnx'], {})).to.deep.equal({
      onnx: 'models/smart-turn-v2.onnx',
      model: 'smart-turn-v2',
      dtype: 'bfloat16',
      buckets: [16, 32, 64],
      enginesDir: 'engines',
      workspaceMiB: 0,
      timingCache: path.join('engines', 'smart-turn-v2', 'timing.cache'),
      device: 0,
    });
    const env = { DTYPE: 'float16', BATCH_BUCKETS: '8,4', ENGINES_DIR: '/srv/engines' };
    expect(parseArgs(['--onnx', 'm.onnx', '--model', 'org/m'], env)).to.deep.include({ dtype: 'float16', buckets: [4, 8], enginesDir: '/srv/engines', model: 'org--m' });
    expect(parseArgs(['--onnx', 'm.onnx', '--buckets', '2,1'], env).buckets).to.deep.equal([1, 2]);
  });

  it('holds reduced precision to looser tolerances than fp32', () => {
    expect(TOLERANCE.float32).to.be.below(TOLERANCE.float16);
    expect(TOLERANCE.float16).to.be.at.most(TOLERANCE.bfloat16);
  });

  it('exits non-zero with the addon\'s reason where TensorRT is not usable (or the addon is missing)', function () {
    this.timeout(30_000);
    const native = tryLoadNative();
    if (native.addon?.status().tensorrt) this.skip();
    const reason = native.addon ? native.addon.status().reason : native.reason;
    const r = cli(['--onnx', READOUT_V2, '--engines-dir', '/tmp/st-never-written']);
    expect(r.status).to.equal(1);
    expect(r.stderr.trim()).to.equal(`cannot build engines: ${reason}`);
  });
});
