#!/usr/bin/env bash
# Compile-checks the addon's TensorRT path against a folder of TensorRT 10 headers (no TensorRT
# library or GPU needed): builds the whole addon with -Wall -Wextra -Werror, the headers included
# as system headers, into a scratch folder, then checks the result does not link TensorRT (it
# must dlopen it). Fetches nothing.
#   scripts/check_tensorrt_compile.sh /tmp/trt-headers/include [build dir]
# Get headers e.g. from github.com/NVIDIA/TensorRT, the include/ folder of a 10.x release.
set -euo pipefail
headers="${1:?usage: $0 <dir with NvInfer.h> [build dir]}"
headers="$(cd "$headers" && pwd)"
out="${2:-$(mktemp -d /tmp/st-trt-check.XXXXXX)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
[[ -f "$headers/NvInfer.h" && -f "$headers/NvOnnxParser.h" ]] || { echo "no NvInfer.h and NvOnnxParser.h in $headers" >&2; exit 2; }
case "$headers" in "$root"/*) echo "keep TensorRT headers outside the repository ($headers)" >&2; exit 2 ;; esac

version=$(sed -nE 's/^#define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)(_ENTERPRISE)? +([0-9]+).*/\4/p' "$headers/NvInferVersion.h" | head -3 | paste -sd.)
echo "TensorRT headers: $version ($headers)"
echo "build dir: $out"

cd "$root"
TENSORRT_ROOT="$headers" node node_modules/cmake-js/bin/cmake-js rebuild --out "$out" --parallel "$(nproc)" \
  --CDST_WERROR=ON --CDTENSORRT_ROOT="$headers" 2>&1 | tee "$out.log" | grep -E "smart-turn native|error|warning|FAILED" || true
[[ ${PIPESTATUS[0]} -eq 0 ]] || { echo "FAIL: build failed, see $out.log" >&2; exit 1; }
grep -q "TensorRT path ON: TensorRT $version headers" "$out.log" || { echo "FAIL: the TensorRT path was not built (see $out.log)" >&2; exit 1; }

addon="$out/Release/smart_turn_native.node"
# Only N-API and libc/libstdc++ may be undefined; any TensorRT symbol means something called an
# inline TensorRT factory (createInferRuntime, ...) instead of the dlopen'ed function pointers.
if nm -D --undefined-only "$addon" | grep -E "nvinfer1|nvonnxparser|_INTERNAL|getInferLibVersion"; then
  echo "FAIL: the addon references TensorRT symbols directly" >&2
  exit 1
fi
if nm -D --undefined-only "$addon" | grep -E "cuda[A-Z]"; then
  echo "FAIL: the addon links the CUDA runtime dynamically (expected cudart_static)" >&2
  exit 1
fi
echo "OK: TensorRT path compiles against TensorRT $version headers with -Wall -Wextra -Werror; no TensorRT or cudart symbols linked"
