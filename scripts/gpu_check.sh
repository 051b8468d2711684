#!/usr/bin/env bash
# The addon's real CUDA path on a GPU machine that has no Node and no network.
#
#   scripts/gpu_check.sh pack   # here, with Node and node_modules: writes .devcarry/node.xz and
#                               # .devcarry/gpu_node_modules.tar.xz (about 30 MiB together)
#   scripts/gpu_check.sh        # on the GPU machine, with .devcarry carried in: builds the addon
#                               # for sm_90 with plain cmake/nvcc, then runs the CUDA TEST executor's
#                               # mocha tests and the host-executor tests; exits non-zero on failure
#
# Only .devcarry needs carrying: the tests import nothing from node_modules beyond mocha, chai,
# tsx, node-gyp-build and fft.js (no onnxruntime-node), and the build needs only the N-API headers.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
carry="$root/.devcarry"
packages=(mocha chai tsx node-gyp-build fft.js node-addon-api node-api-headers)

if [[ "${1:-}" == "pack" ]]; then
  mkdir -p "$carry"
  xz -T0 -6 -c "$(command -v node)" > "$carry/node.xz"
  # The packages and everything they depend on (node_modules is flat here).
  closure=$(node -e '
    const fs = require("fs"), seen = new Set();
    const walk = (n) => { if (seen.has(n) || !fs.existsSync(`node_modules/${n}/package.json`)) return; seen.add(n);
      const p = JSON.parse(fs.readFileSync(`node_modules/${n}/package.json`));
      Object.keys({ ...p.dependencies, ...p.optionalDependencies }).forEach(walk); };
    process.argv.slice(1).forEach(walk); console.log([...seen].join("\n"));' "${packages[@]}")
  (cd node_modules && tar -cf - $closure .bin) | xz -T0 -6 > "$carry/gpu_node_modules.tar.xz"
  ls -l "$carry"
  du -ch "$carry/node.xz" "$carry/gpu_node_modules.tar.xz" | tail -1
  exit 0
fi

t0=$SECONDS
step() { printf '\n=== %s (%ds)\n' "$*" $((SECONDS - t0)); }
fail() { printf '\nGPU CHECK: FAIL: %s\n' "$*"; exit 1; }

step "GPU"
[[ -d "${CUDA_PATH:-/usr/local/cuda}/bin" ]] && export PATH="$PATH:${CUDA_PATH:-/usr/local/cuda}/bin"
nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader || fail "nvidia-smi: no GPU visible"
nvcc --version | tail -1 || fail "nvcc not found (add /usr/local/cuda/bin to PATH)"

step "Node from .devcarry"
[[ -f "$carry/node.xz" && -f "$carry/gpu_node_modules.tar.xz" ]] || fail "carry .devcarry made by 'scripts/gpu_check.sh pack'"
mkdir -p /tmp/st-node
xz -dc "$carry/node.xz" > /tmp/st-node/node && chmod +x /tmp/st-node/node
export PATH="/tmp/st-node:$PATH"
node --version
if [[ ! -d node_modules/mocha ]]; then
  mkdir -p node_modules
  xz -dc "$carry/gpu_node_modules.tar.xz" | tar -xf - -C node_modules
fi

step "build the addon (cmake + nvcc, sm_90, -Werror)"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
rm -rf build
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DST_WERROR=ON -DST_CUDA_ARCHITECTURES=90 \
  -DCMAKE_JS_INC="$root/node_modules/node-api-headers/include;$root/node_modules/node-addon-api" \
  -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$root/build/Release" >/tmp/st-cmake.log 2>&1 || { cat /tmp/st-cmake.log; fail "cmake configure"; }
grep "smart-turn native" /tmp/st-cmake.log
cmake --build build -j "$(nproc)" >/tmp/st-build.log 2>&1 || { tail -50 /tmp/st-build.log; fail "build"; }
ls -l build/Release/smart_turn_native.node
ldd build/Release/smart_turn_native.node | grep -q libcudart && fail "cudart linked dynamically"
echo "cudart: static (no libcudart.so needed)"

step "addon status"
node -e 'const s = require("node-gyp-build")(process.cwd()).status(); console.log(JSON.stringify(s, null, 1)); if (!s.cuda) process.exit(1)' \
  || fail "the addon sees no usable GPU"

step "mocha: CUDA TEST executor, then the host-executor N-API tests"
export SMART_TURN_REQUIRE_GPU=1  # a skipped CUDA test fails here instead of passing quietly
timeout 200 node node_modules/mocha/bin/mocha.js --no-config --node-option import=tsx --extension ts --timeout 60000 \
  --reporter spec test/native-cuda.test.ts test/native.test.ts || fail "mocha (exit $?)"

printf '\nGPU CHECK: PASS in %ds\n' $((SECONDS - t0))
