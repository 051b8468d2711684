#!/usr/bin/env node
// Builds the native addon with cmake-js: the npm `install` script (so `npm ci` builds it) and
// `npm run build:native`. CMakeLists.txt already falls back to a CUDA-free addon when no CUDA
// toolkit is found; this retries without CUDA when the CUDA build itself fails (a broken toolkit),
// so an install never fails for want of a GPU stack. See native/README.md.
//   node native/build.mjs [--out DIR] [extra cmake-js args...]
// Env: SMART_TURN_SKIP_NATIVE=1 skips; CUDA_PATH, TENSORRT_ROOT, CUDA_ARCHITECTURES are read by CMake.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

if (process.env.SMART_TURN_SKIP_NATIVE === '1') {
  console.log('[native] SMART_TURN_SKIP_NATIVE=1: not building the addon (BACKEND=auto will use ONNX Runtime)');
  process.exit(0);
}

let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  console.warn('[native] cmake-js is not installed (production install without dev dependencies?): addon not built; ' +
    'BACKEND=auto will use ONNX Runtime. Install dev dependencies and run `npm run build:native` to build it.');
  process.exit(0);
}

const parallel = String(Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 16)));
const extra = process.argv.slice(2);

function cmake(command, args) {
  const r = spawnSync(process.execPath, [cmakeJs, command, '--parallel', parallel, ...args, ...extra], {
    cwd: root,
    stdio: 'inherit',
  });
  return r.status === 0;
}

if (cmake('compile', [])) process.exit(0);
console.warn('[native] the build failed; retrying without CUDA (the addon then serves only the test executor and says why in status())');
if (cmake('rebuild', ['--CDWITH_CUDA=OFF'])) process.exit(0);
console.error('[native] the CUDA-free build failed too: a C++17 compiler and CMake >= 3.18 are needed (see native/README.md)');
process.exit(1);
