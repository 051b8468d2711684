#!/usr/bin/env bash
# bash scripts/client.sh [options]: tools/client.ts (also npm run client -- [options]); --help lists the options.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
run_tool client "$@"
