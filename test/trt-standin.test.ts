// The test-only TensorRT stand-in (test/trt-standin/) on the host, and how the addon is pointed at a
// TensorRT (TENSORRT_LIB_DIR): exports, the stand-in's own self-test on the fixture models, status()
// and build:engines with it where there is no GPU. Needs no GPU; the stand-in's tests skip, saying
// why, where it is not built. The GPU half is test/tensorrt-flow.test.ts.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { NativeStatus } from '../ts/lib/native.js';
import { requireAddon } from './helpers/native.js';
import { ADDON_HOSTTEST, STANDIN_LIB_DIR, STANDIN_SELFTEST, standinMissing, TRT_FIXTURES } from './helpers/tensorrt.js';

interface Probe {
  status?: NativeStatus;
  reason?: string;
  again?: string;
}

/** Runs the probe child with this environment (TENSORRT_LIB_DIR cleared unless given). */
function probe(env: Record<string, string>, ...args: string[]): Probe {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/tensorrt-probe.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, TENSORRT_LIB_DIR: '', ...env },
  });
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as Probe;
}

function definedSymbols(file: string): string[] | undefined {
  const r = spawnSync('nm', ['-D', '--defined-only', file], { encoding: 'utf8' });
  if (r.error) return undefined;
  return r.stdout.split('\n').filter((l) => / T /.test(l)).map((l) => l.split(' ').pop()!).sort();
}

describe('TensorRT library folder (TENSORRT_LIB_DIR)', function () {
  this.timeout(30_000);
  before(function () {
    requireAddon(this);
  });

  it('names the folder when it holds no TensorRT', function () {
    const dir = '/tmp/st-no-tensorrt-here';
    const { status } = probe({ TENSORRT_LIB_DIR: dir });
    expect(status!.versions.tensorrtLibrary).to.equal(null);
    if (!status!.build.tensorrt) {
      // Such an addon's reason is that it lacks the TensorRT path, whatever the library's whereabouts.
      console.log('      skipped the message check: the addon was built without TensorRT headers (TENSORRT_ROOT=<headers> npm run build:native)');
      this.skip();
    }
    expect(status!.reason).to.contain(`${dir}/libnvinfer.so.10`).and.to.contain(`TENSORRT_LIB_DIR=${dir} was given`);
  });

  it('is fixed once TensorRT was looked for: another folder in the same process is refused', () => {
    const { again } = probe({ TENSORRT_LIB_DIR: '/tmp/st-no-tensorrt-here' }, '/tmp/st-elsewhere');
    expect(again).to.match(/already looked up in \/tmp\/st-no-tensorrt-here in this process; TENSORRT_LIB_DIR must be set before/);
  });
});

describe('TensorRT stand-in (test/trt-standin) on the host', function () {
  this.timeout(60_000);
  before(function () {
    const missing = standinMissing();
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
  });

  it('exports TensorRT\'s four factories and nothing else (executed against the TensorRT stand-in)', function () {
    const nvinfer = definedSymbols(path.join(STANDIN_LIB_DIR, 'libnvinfer.so.10'));
    if (nvinfer === undefined) this.skip(); // no binutils
    expect(nvinfer).to.deep.equal(['createInferBuilder_INTERNAL', 'createInferRuntime_INTERNAL', 'getInferLibVersion']);
    expect(definedSymbols(path.join(STANDIN_LIB_DIR, 'libnvonnxparser.so.10'))).to.deep.equal(['createNvOnnxParser_INTERNAL']);
  });

  it('parses and builds the fixture models, deserializes, and refuses what TensorRT refuses (its host self-test, executed against the TensorRT stand-in)', () => {
    const r = spawnSync(STANDIN_SELFTEST, [TRT_FIXTURES.v2, TRT_FIXTURES.v3], { encoding: 'utf8' });
    const failed = r.stdout.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(failed, r.stdout + r.stderr).to.deep.equal([]);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^PASS: 0 failed$/m);
  });

  it('is loaded only when TENSORRT_LIB_DIR points at it, and status() reports it (executed against the TensorRT stand-in)', function () {
    requireAddon(this);
    const without = probe({});
    const found = probe({ TENSORRT_LIB_DIR: STANDIN_LIB_DIR }).status!;
    expect(found.versions.tensorrtLibrary).to.match(/^10\.\d+\.\d+$/);
    if (found.build.tensorrt) expect(found.versions.tensorrtLibrary).to.equal(found.versions.tensorrtHeaders);
    if (without.status!.versions.tensorrtLibrary === null && found.build.tensorrt) expect(without.status!.reason).to.contain('TensorRT runtime not found');
    expect(found.reason).not.to.contain('TensorRT runtime not found');
    expect(found.tensorrt).to.equal(found.cuda && found.build.tensorrt);
  });

  it('refuses a libnvinfer older than the headers the addon was compiled with, saying to rebuild the addon (executed against the TensorRT stand-in)', function () {
    requireAddon(this);
    const headers = probe({}).status!.versions.tensorrtHeaders;
    if (headers === null) this.skip(); // an addon without its TensorRT path compares nothing
    const older = probe({ TENSORRT_LIB_DIR: STANDIN_LIB_DIR, TRT_STANDIN_LIBRARY_VERSION: '10.0.1' }).status!;
    expect(older.tensorrt).to.equal(false);
    expect(older.versions.tensorrtLibrary).to.equal(null);
    expect(older.reason).to.contain(`${STANDIN_LIB_DIR}/libnvinfer.so.10 is TensorRT 10.0.1, older than the TensorRT ${headers} headers this addon was compiled with`);
    expect(older.reason).to.contain('or rebuild the addon against this TensorRT\'s own headers (TENSORRT_ROOT=<its include folder> npm run build:native)');
    const newer = probe({ TENSORRT_LIB_DIR: STANDIN_LIB_DIR, TRT_STANDIN_LIBRARY_VERSION: '10.99.0' }).status!;
    expect(newer.versions.tensorrtLibrary).to.equal('10.99.0');
    expect(newer.reason).not.to.contain('older than');
  });

  it('explains a failed TensorRT factory with what TensorRT only warned about (the addon\'s loader and logger, executed against the TensorRT stand-in)', () => {
    const r = spawnSync(ADDON_HOSTTEST, [STANDIN_LIB_DIR], { encoding: 'utf8' });
    expect(r.stdout.split('\n').filter((l) => l.startsWith('FAIL')), r.stdout + r.stderr).to.deep.equal([]);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^PASS: 0 failed$/m);
    if (!/^SKIP/m.test(r.stdout)) expect(r.stdout).to.match(/createInferBuilder failed \(TensorRT warned: CUDA initialization failure/);
  });

  it('npm run build:engines stops, saying why, where TensorRT would need a GPU (executed against the TensorRT stand-in)', function () {
    if (probe({}).status?.cuda !== false) this.skip(); // with a GPU it builds: test/tensorrt-flow.test.ts
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'tools/build-engines.ts', '--onnx', TRT_FIXTURES.v2, '--engines-dir', '/tmp/st-never-written'], {
      encoding: 'utf8',
      env: { ...process.env, TENSORRT_LIB_DIR: STANDIN_LIB_DIR },
    });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^cannot build engines: no usable GPU: /);
    expect(r.stderr).not.to.contain('TensorRT runtime not found');
  });
});
