#!/usr/bin/env bash
# bash scripts/warmup.sh [options]: tools/warmup.ts (also npm run warmup -- [options]); --help lists the options.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
run_tool warmup "$@"
