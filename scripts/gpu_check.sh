#!/usr/bin/env bash
# The whole GPU path in one run, on a machine with a GPU but no TensorRT, no Node and no network.
#
#   scripts/gpu_check.sh pack   # here, with Node, node_modules and TensorRT headers: writes .devcarry/
#                               # (node.xz, gpu_node_modules.tar.xz, trt-headers.tar.xz; git-ignored)
#   scripts/gpu_check.sh        # there, with .devcarry carried in (or here, to shake it out)
#
# Steps: build the addon (TensorRT path, -Werror) and the TensorRT stand-in (test/trt-standin/), then
# mocha: the CUDA TEST executor, the host-executor N-API tests, the stand-in's host tests and the
# TensorRT flow (test/tensorrt-flow.test.ts: build:engines on the fixture ONNX with validation against
# ONNX Runtime, BACKEND=tensorrt and BACKEND=auto, answers equal to ONNX Runtime's, 256 connections
# with CUDA graphs on and off, SIGTERM drain), on real TensorRT if the machine has it, else executed
# against the stand-in; then GPU memory per bucket and slot (bench/gpu-memory.ts) and the front end's
# ceiling on this host (bench/server.ts: 8 s and 16 s clips, zero-cost engine vs bare node:http).
# A step that cannot run here is SKIPPED with the reason; the summary lists every step.
# Exit: 0 all ran and passed, 1 a step failed, 3 nothing failed but steps were skipped.
# Env: TRT_HEADERS (a TensorRT 10 include folder; default /tmp/trt-headers/include, else the carried
# copy), FEED_RATE (default 1800: the clips/s the GPU is estimated to take), BENCH_SECONDS (default 5).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
carry="$root/.devcarry"
# What the flow needs at run time: the server's dependencies (onnxruntime-node for validation and the
# reference server), the test and bench tools, and the N-API headers for the build.
packages=(koa @koa/router raw-body pino prom-client fft.js wavefile @alexanderolsen/libsamplerate-js node-gyp-build
  onnxruntime-node tsx mocha chai autocannon node-addon-api node-api-headers)

if [[ "${1:-}" == "pack" ]]; then
  set -e
  headers="${TRT_HEADERS:-/tmp/trt-headers/include}"
  [[ -f "$headers/NvInferImpl.h" ]] || { echo "pack: no TensorRT 10 headers in $headers (set TRT_HEADERS)" >&2; exit 2; }
  mkdir -p "$carry"
  xz -T0 -6 -c "$(command -v node)" > "$carry/node.xz"
  # The packages and everything they depend on (node_modules is flat here).
  closure=$(node -e '
    const fs = require("fs"), seen = new Set();
    const walk = (n) => { if (seen.has(n) || !fs.existsSync(`node_modules/${n}/package.json`)) return; seen.add(n);
      const p = JSON.parse(fs.readFileSync(`node_modules/${n}/package.json`));
      Object.keys({ ...p.dependencies, ...p.optionalDependencies }).forEach(walk); };
    process.argv.slice(1).forEach(walk); console.log([...seen].join("\n"));' "${packages[@]}")
  # onnxruntime-node ships every platform's binaries: only Linux x64's travel.
  (cd node_modules && tar -cf - --exclude='onnxruntime-node/bin/napi-v6/darwin' --exclude='onnxruntime-node/bin/napi-v6/win32' \
    --exclude='onnxruntime-node/bin/napi-v6/linux/arm64' $closure .bin) | xz -T0 -6 > "$carry/gpu_node_modules.tar.xz"
  tar -C "$(dirname "$headers")" -cf - "$(basename "$headers")" | xz -T0 -6 > "$carry/trt-headers.tar.xz"
  ls -l "$carry"
  du -ch "$carry"/node.xz "$carry"/gpu_node_modules.tar.xz "$carry"/trt-headers.tar.xz | tail -1
  exit 0
fi

t0=$SECONDS
declare -a summary=()
failed=0
skipped=0
step() { printf '\n=== %s (%ds)\n' "$*" $((SECONDS - t0)); }
pass() { summary+=("PASS     $1"); }
fail() { summary+=("FAIL     $1: $2"); failed=1; printf 'FAIL: %s\n' "$2"; }
skip() { summary+=("SKIPPED  $1: $2"); skipped=1; printf 'SKIPPED: %s\n' "$2"; }
finish() {
  printf '\n=== summary (%ds)\n' $((SECONDS - t0))
  printf '  %s\n' "${summary[@]}"
  if ((failed)); then echo "GPU CHECK: FAIL"; exit 1; fi
  if ((skipped)); then echo "GPU CHECK: INCOMPLETE: nothing failed, but the steps above marked SKIPPED did not run"; exit 3; fi
  echo "GPU CHECK: PASS in $((SECONDS - t0)) s"
  exit 0
}

step "GPU"
[[ -d "${CUDA_PATH:-/usr/local/cuda}/bin" ]] && export PATH="$PATH:${CUDA_PATH:-/usr/local/cuda}/bin"
gpu=""
if command -v nvidia-smi >/dev/null && gpu=$(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>/dev/null) && [[ -n "$gpu" ]]; then
  echo "$gpu"
  pass "GPU: $gpu"
else
  gpu=""
  skip "GPU" "no GPU visible (nvidia-smi absent or failing): every step that needs one is skipped"
fi
# sm_XY of the GPU here; without one, Hopper's.
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d . || true)
export CUDA_ARCHITECTURES="${arch:-90}"
nvcc --version | tail -1 || { fail "nvcc" "nvcc not found (add the CUDA toolkit's bin to PATH)"; finish; }

step "Node and node_modules"
if ! command -v node >/dev/null; then
  [[ -f "$carry/node.xz" ]] || { fail "Node" "no node and no .devcarry/node.xz: carry .devcarry made by 'scripts/gpu_check.sh pack'"; finish; }
  mkdir -p /tmp/st-node
  xz -dc "$carry/node.xz" > /tmp/st-node/node && chmod +x /tmp/st-node/node
  export PATH="/tmp/st-node:$PATH"
fi
node --version
if [[ ! -d node_modules/mocha || ! -d node_modules/onnxruntime-node ]]; then
  [[ -f "$carry/gpu_node_modules.tar.xz" ]] || { fail "node_modules" "no node_modules and no .devcarry/gpu_node_modules.tar.xz"; finish; }
  mkdir -p node_modules
  xz -dc "$carry/gpu_node_modules.tar.xz" | tar -xf - -C node_modules
fi
pass "Node $(node --version)"

step "TensorRT 10 headers"
headers="${TRT_HEADERS:-/tmp/trt-headers/include}"
if [[ ! -f "$headers/NvInferImpl.h" && -f "$carry/trt-headers.tar.xz" ]]; then
  mkdir -p /tmp/st-trt-headers
  xz -dc "$carry/trt-headers.tar.xz" | tar -xf - -C /tmp/st-trt-headers
  headers="/tmp/st-trt-headers/$(ls /tmp/st-trt-headers | head -1)"
fi
if [[ -f "$headers/NvInferImpl.h" ]]; then
  echo "$headers: TensorRT $(sed -nE 's/^#define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)(_ENTERPRISE)? +([0-9]+).*/\4/p' "$headers/NvInferVersion.h" | head -3 | paste -sd.)"
  pass "TensorRT headers in $headers"
else
  headers=""
  skip "TensorRT headers" "none in \$TRT_HEADERS, /tmp/trt-headers/include or .devcarry: the addon is built without its TensorRT path and the stand-in is not built"
fi

step "build the addon (cmake + nvcc, sm_$CUDA_ARCHITECTURES, -Werror${headers:+, TensorRT path})"
generator=()
command -v ninja >/dev/null && generator=(-G "Ninja")
rm -rf build
if cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DST_WERROR=ON -DST_CUDA_ARCHITECTURES="$CUDA_ARCHITECTURES" \
    -DTENSORRT_ROOT="$headers" -DCMAKE_JS_INC="$root/node_modules/node-api-headers/include;$root/node_modules/node-addon-api" \
    -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$root/build/Release" >/tmp/st-cmake.log 2>&1 &&
  grep "smart-turn native" /tmp/st-cmake.log && cmake --build build -j "$(nproc)" >/tmp/st-build.log 2>&1; then
  if ldd build/Release/smart_turn_native.node | grep -q libcudart; then fail "addon" "cudart linked dynamically"; else pass "addon built (cudart static)"; fi
else
  tail -50 /tmp/st-cmake.log /tmp/st-build.log 2>/dev/null
  fail "addon" "the build failed"
  finish
fi

step "build the TensorRT stand-in"
if [[ -z "$headers" ]]; then
  skip "TensorRT stand-in" "no TensorRT headers"
elif out=$(scripts/build_trt_standin.sh "$headers" 2>&1); then
  echo "$out"
  if [[ -f .cache/trt-standin/lib/libnvinfer.so.10 ]]; then pass "TensorRT stand-in built"; else skip "TensorRT stand-in" "$out"; fi
else
  echo "$out"
  fail "TensorRT stand-in" "its build failed"
fi

step "addon status"
node -e 'const s = require("node-gyp-build")(process.cwd()).status(); console.log(JSON.stringify(s, null, 1))'
trt_env=()
real=$(node -e 'console.log(require("node-gyp-build")(process.cwd()).status().versions.tensorrtLibrary ?? "")')
if [[ -n "$real" ]]; then
  echo "TensorRT $real found on the library search path: the flow runs on real TensorRT"
elif [[ -f .cache/trt-standin/lib/libnvinfer.so.10 ]]; then
  trt_env=(TENSORRT_LIB_DIR="$root/.cache/trt-standin/lib")
  echo "no TensorRT on the library search path: the flow is executed against the TensorRT stand-in"
fi
pass "addon loads"

step "mocha: CUDA TEST executor, host-executor N-API, TensorRT stand-in (host), TensorRT flow"
engines=/tmp/st-gpu-engines
rm -rf "$engines"
mocha=(node node_modules/mocha/bin/mocha.js --no-config --node-option import=tsx --extension ts --timeout 60000 --reporter spec)
suites=(test/native-cuda.test.ts test/native.test.ts test/trt-standin.test.ts test/tensorrt-flow.test.ts)
if [[ -n "$gpu" ]]; then
  # A skipped GPU test fails here instead of passing quietly.
  if SMART_TURN_REQUIRE_GPU=1 SMART_TURN_FLOW_ENGINES_DIR="$engines" timeout 300 "${mocha[@]}" "${suites[@]}"; then pass "mocha (GPU suites required)"; else fail "mocha" "exit $?"; fi
else
  if timeout 300 "${mocha[@]}" "${suites[@]}"; then pass "mocha (host parts; GPU suites skipped themselves)"; else fail "mocha" "exit $?"; fi
  skip "TensorRT flow, CUDA TEST executor" "no GPU"
fi

step "GPU memory per bucket and slot"
manifests=("$engines"/*/bfloat16/manifest.json)
if [[ -z "$gpu" ]]; then
  skip "GPU memory" "no GPU"
elif [[ ! -f "${manifests[0]}" ]]; then
  skip "GPU memory" "no plans: the flow did not build them"
else
  for manifest in "${manifests[@]}"; do
    if env "${trt_env[@]}" timeout 120 node --import tsx bench/gpu-memory.ts "$(dirname "$manifest")"; then
      pass "GPU memory ($(basename "$(dirname "$(dirname "$manifest")")"))"
    else
      fail "GPU memory" "bench/gpu-memory.ts failed for $manifest"
    fi
  done
fi

step "the front end's ceiling on this host (zero-cost engine vs bare node:http, 8 s and 16 s clips)"
nproc
if timeout 200 node --import tsx bench/server.ts --duration "${BENCH_SECONDS:-5}" --concurrency 64,256 --sizes 512,1024 --feed "${FEED_RATE:-1800}"; then
  pass "front-end ceiling"
else
  fail "front-end ceiling" "bench/server.ts failed"
fi

finish
