#!/usr/bin/env bash
# Builds the test-only TensorRT stand-in (test/trt-standin/README.md) from a folder of TensorRT 10
# headers: libnvinfer.so.10 and libnvonnxparser.so.10 in <build dir>/lib, and the host self-test.
# Skips, saying why and exiting 0, when the headers or a CUDA compiler are missing (CI has neither
# headers nor a reason to build it). Never installs anything; the addon uses the result only when
# TENSORRT_LIB_DIR points at it.
#   scripts/build_trt_standin.sh <TensorRT 10 headers> [build dir (default .cache/trt-standin)]
# Env: CUDA_PATH (else /usr/local/cuda), CUDA_ARCHITECTURES (default as the addon's).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
headers="${1:-}"
out="${2:-$root/.cache/trt-standin}"
skip() { echo "trt-standin: skipped: $*"; exit 0; }

[[ -n "$headers" ]] || skip "no header folder given (usage: $0 <folder with NvInfer.h, NvInferImpl.h, NvOnnxParser.h> [build dir])"
[[ -f "$headers/NvInferImpl.h" && -f "$headers/NvOnnxParser.h" && -f "$headers/NvInferVersion.h" ]] ||
  skip "no TensorRT 10 headers (NvInferImpl.h, NvOnnxParser.h, NvInferVersion.h) in $headers"
headers="$(cd "$headers" && pwd)"
case "$headers" in "$root"/*) echo "trt-standin: keep TensorRT headers outside the repository ($headers)" >&2; exit 2 ;; esac
nvcc="${CUDA_PATH:-/usr/local/cuda}/bin/nvcc"
[[ -x "$nvcc" ]] || nvcc="$(command -v nvcc || true)"
[[ -n "$nvcc" ]] || skip "no CUDA compiler (nvcc) found (set CUDA_PATH)"
command -v cmake >/dev/null || skip "cmake not found"

version=$(sed -nE 's/^#define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)(_ENTERPRISE)? +([0-9]+).*/\4/p' "$headers/NvInferVersion.h" | head -3 | paste -sd.)
[[ "$version" == 10.* ]] || skip "the headers in $headers are TensorRT $version, not 10.x"

mkdir -p "$out"
generator=()
command -v ninja >/dev/null && generator=(-G "Ninja")
archs=()
[[ -n "${CUDA_ARCHITECTURES:-}" ]] && archs=(-DST_CUDA_ARCHITECTURES="$CUDA_ARCHITECTURES")
cmake -S "$root/test/trt-standin" -B "$out" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DTRT_STANDIN_HEADERS="$headers" "${archs[@]}" >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; echo "trt-standin: cmake configure failed" >&2; exit 1; }
cmake --build "$out" -j "$(nproc)" >>"$out/build.log" 2>&1 || { tail -40 "$out/build.log" >&2; echo "trt-standin: build failed (log: $out/build.log)" >&2; exit 1; }
echo "trt-standin: built $out/lib/libnvinfer.so.10 and libnvonnxparser.so.10 from TensorRT $version headers"
echo "trt-standin: point the addon at it with TENSORRT_LIB_DIR=$out/lib (test/diagnostic setting)"
