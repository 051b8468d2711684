#!/usr/bin/env bash
# Follows the background server's log (run/server.log), from its last 50 lines; Ctrl-C stops
# following, not the server. Lines are JSON (pino); `| npx pino-pretty` if you have it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ -f "$LOG_FILE" ]] || die "no log at $LOG_FILE: start the server with bash scripts/start_bg.sh"
exec tail -n "${LINES_BACK:-50}" -F "$LOG_FILE"
