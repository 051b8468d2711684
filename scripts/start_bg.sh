#!/usr/bin/env bash
# The server in the background, as start.sh runs it, with the same environment. PID in
# run/server.pid, output in run/server.log (the previous log is kept as server.log.1).
# Refuses to start a second copy. Follow the log with bash scripts/tail_bg_logs.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if pid="$(server_pid)"; then
  say "already running as PID $pid (logs: $LOG_FILE); stop it first with bash scripts/stop.sh"
  exit 3
fi
[[ -x "$ROOT/node_modules/.bin/tsx" ]] || die "node_modules is missing: run bash scripts/setup.sh first"
if [[ "$(http_status "http://127.0.0.1:${PORT:-8000}/health")" != 000 ]]; then
  die "something already answers on port ${PORT:-8000} (a foreground start.sh?); stop it or choose another PORT"
fi
mkdir -p "$RUN_DIR"
[[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"

# setsid + nohup: the server outlives this shell and its terminal. Without job control the child is
# no process-group leader, so setsid execs in place and $! is the server's own PID.
setsid nohup bash "$ROOT/scripts/start.sh" >"$LOG_FILE" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$PID_FILE"

# A bad setting or a taken port ends the process at once: say so here rather than at the first request.
sleep 1
if ! kill -0 "$pid" 2>/dev/null; then
  rm -f "$PID_FILE"
  show_log_tail 20
  die "the server exited during start-up (full log: $LOG_FILE)"
fi
say "started PID $pid on port ${PORT:-8000}; logs: $LOG_FILE (bash scripts/tail_bg_logs.sh); stop: bash scripts/stop.sh"
