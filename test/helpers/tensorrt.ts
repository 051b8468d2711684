// For the TensorRT suites: the fixture models they build plans for, where the test-only stand-in
// (test/trt-standin/) is built, and which TensorRT a suite's child processes run against: the real
// library when the library search path finds one, else the stand-in, pointed at with
// TENSORRT_LIB_DIR. The mocha process itself never points the addon anywhere, so its own status()
// shows what the search path finds.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tryLoadNative } from '../../ts/lib/native.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The fixture models (scripts/make_fixtures.py's names), one of each interface the stand-in computes. */
export const TRT_FIXTURES = {
  v2: path.join(ROOT, 'test', 'fixtures', 'models', 'readout-v2.onnx'),
  v3: path.join(ROOT, 'test', 'fixtures', 'models', 'readout-v3.onnx'),
} as const;

/** scripts/build_trt_standin.sh's default build folder. */
export const STANDIN_DIR = path.join(ROOT, '.cache', 'trt-standin');
export const STANDIN_LIB_DIR = path.join(STANDIN_DIR, 'lib');
export const STANDIN_SELFTEST = path.join(STANDIN_DIR, 'bin', 'trt_standin_selftest');
/** The addon's TensorRT loader and logger against the stand-in, on the host (test/trt-standin/addon_hosttest.cc). */
export const ADDON_HOSTTEST = path.join(STANDIN_DIR, 'bin', 'trt_addon_hosttest');

/** Undefined when the stand-in is built; else why not and how to build it. */
export function standinMissing(): string | undefined {
  if (existsSync(path.join(STANDIN_LIB_DIR, 'libnvinfer.so.10')) && existsSync(path.join(STANDIN_LIB_DIR, 'libnvonnxparser.so.10'))) return undefined;
  return `the TensorRT stand-in is not built in ${STANDIN_DIR} (scripts/build_trt_standin.sh <TensorRT 10 headers>)`;
}

export interface TensorRtTarget {
  /** For test names: what the suite is honestly said to have run on. */
  label: string;
  /** Extra environment for the child processes. */
  env: Record<string, string>;
  standin: boolean;
  /** Why the GPU suites cannot run here; undefined when they can. */
  blocker: string | undefined;
}

export function tensorRtTarget(): TensorRtTarget {
  const native = tryLoadNative();
  if (!native.addon) return { label: 'TensorRT', env: {}, standin: false, blocker: native.reason };
  const status = native.addon.status();
  const gpu = status.cuda ? undefined : `no GPU (${status.reason.split(';')[0]})`;
  const build = status.build.tensorrt ? undefined : 'the addon was built without TensorRT headers (npx cmake-js rebuild --CDTENSORRT_ROOT=<headers>)';
  if (status.versions.tensorrtLibrary !== null) {
    return { label: `on real TensorRT ${status.versions.tensorrtLibrary}`, env: {}, standin: false, blocker: gpu ?? build };
  }
  const missing = standinMissing();
  return {
    label: 'executed against the TensorRT stand-in',
    env: { TENSORRT_LIB_DIR: STANDIN_LIB_DIR },
    standin: true,
    blocker: gpu ?? build ?? (missing && `no TensorRT on the library search path, and ${missing}`),
  };
}
