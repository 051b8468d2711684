#!/usr/bin/env bash
# The server in the foreground on PORT (default 8000). Configuration is the environment, e.g.
#   AUTH_KEY=dev BATCH_BUCKETS=8,16,32 MICRO_BATCH_WINDOW_MS=5 DTYPE=float16 THRESHOLD=0.6 \
#   CUDA_GRAPHS=0 MODEL_ID=pipecat-ai/smart-turn-v2 bash scripts/start.sh
#   MODEL_PATH=test/fixtures/models/readout-v2.onnx bash scripts/start.sh    # a local ONNX file, offline
# See README.md for every variable. Ctrl-C (or SIGTERM) drains accepted requests, then exits.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
[[ -x "$ROOT/node_modules/.bin/tsx" ]] || die "node_modules is missing: run bash scripts/setup.sh first"

# A relative MODEL_PATH means relative to where the user stands, not to the checkout.
if [[ -n "${MODEL_PATH:-}" && "$MODEL_PATH" != /* ]]; then
  [[ -e "$MODEL_PATH" ]] || die "MODEL_PATH=$MODEL_PATH does not exist (relative to $(pwd))"
  MODEL_PATH="$(cd "$(dirname "$MODEL_PATH")" && pwd)/$(basename "$MODEL_PATH")"
  export MODEL_PATH
fi
if [[ -n "${TORCH_COMPILE:-}" ]]; then
  say "note: TORCH_COMPILE is a setting of the Python server and has no effect here (TensorRT engines are built with npm run build:engines)"
fi
cd "$ROOT"
# exec: the server is this process, so signals (and a PID file) reach Node itself.
exec node --import tsx ts/main.ts
