#!/usr/bin/env node
// Builds the native addon with cmake-js: the npm `install` script (so `npm ci` builds it) and
// `npm run build:native`. Every run configures first, so a CUDA toolkit or TensorRT headers found
// (or pointed at with CUDA_PATH, TENSORRT_ROOT) since the last build are picked up, and it ends by
// saying which paths the addon has. CMakeLists.txt already falls back to a CUDA-free addon when no
// CUDA toolkit is found; this retries without CUDA when the CUDA build itself fails (a broken
// toolkit), so an install never fails for want of a GPU stack. See native/README.md.
//   node native/build.mjs [--out DIR] [extra cmake-js args...]
// Env: SMART_TURN_SKIP_NATIVE=1 skips; SMART_TURN_REQUIRE_TENSORRT=1 fails the build unless the
// addon has its TensorRT path (the GPU image sets it); CUDA_PATH, TENSORRT_ROOT, CUDA_ARCHITECTURES
// are read by CMake.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
const outAt = extra.findIndex((a) => a === '--out' || a === '-O');
const buildDir = path.resolve(root, outAt >= 0 ? extra[outAt + 1] : 'build');

function cmake(command, args) {
  const r = spawnSync(process.execPath, [cmakeJs, command, '--parallel', parallel, ...args, ...extra], {
    cwd: root,
    stdio: 'inherit',
  });
  return r.status === 0;
}

/** What the last configure decided (CMakeLists.txt records it in the cache). */
function configured() {
  let cache = '';
  try {
    cache = readFileSync(path.join(buildDir, 'CMakeCache.txt'), 'utf8');
  } catch {
    // no configure happened
  }
  const entry = (name) => cache.match(new RegExp(`^${name}:INTERNAL=(.*)$`, 'm'))?.[1] ?? '';
  return { cuda: entry('ST_BUILT_CUDA'), tensorrt: entry('ST_BUILT_TENSORRT') };
}

/** Says loudly which paths were built; with SMART_TURN_REQUIRE_TENSORRT=1, fails without TensorRT's. */
function finish() {
  const { cuda, tensorrt } = configured();
  console.log(`[native] CUDA path: ${cuda || 'unknown'}`);
  console.log(`[native] TensorRT path: ${tensorrt || 'unknown'}`);
  if (process.env.SMART_TURN_REQUIRE_TENSORRT === '1' && !tensorrt.startsWith('ON')) {
    console.error(`[native] SMART_TURN_REQUIRE_TENSORRT=1, but the addon was built without its TensorRT path (${tensorrt || 'not configured'}); ` +
      'install TensorRT 10 headers (or set TENSORRT_ROOT) and the CUDA toolkit, then build again');
    process.exit(1);
  }
  process.exit(0);
}

// WITH_CUDA=ON again: a fallback below caches OFF, which must not outlive the toolkit being fixed.
if (cmake('configure', ['--CDWITH_CUDA=ON']) && cmake('build', [])) finish();
console.warn('[native] the build failed; retrying without CUDA (the addon then serves only the test executor and says why in status())');
if (cmake('rebuild', ['--CDWITH_CUDA=OFF'])) finish();
console.error('[native] the CUDA-free build failed too: a C++17 compiler and CMake >= 3.21 are needed (see native/README.md)');
process.exit(1);
