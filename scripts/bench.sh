#!/usr/bin/env bash
# bash scripts/bench.sh [options]: tools/bench.ts (also npm run bench -- [options]); --help lists the options.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
run_tool bench "$@"
