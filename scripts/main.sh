#!/usr/bin/env bash
# One shot: setup → start in the background → wait until healthy and warm → warmup request →
# optionally follow the log. The server's settings come from the environment, as for start.sh.
#   bash scripts/main.sh [--sample FILE] [--seconds N] [--tail] [--no-warmup] [--no-setup]
#   --sample FILE   WAV for the warmup request (default samples/mid.wav)
#   --seconds N     pad/cut it to N seconds (default 8)
#   --tail          follow the server log afterwards (Ctrl-C stops following, not the server)
#   --no-warmup     skip the warmup request
#   --no-setup      skip scripts/setup.sh (already set up)
# Env: WAIT_TIMEOUT_S (default 300) bounds the wait for /health and /ready, which includes a first
# model download.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sample=""
seconds=8
tail_log=0
warmup=1
setup=1
while (($#)); do
  case "$1" in
    --sample) [[ $# -ge 2 ]] || die "--sample needs a file"; sample="$2"; shift 2 ;;
    --seconds) [[ $# -ge 2 ]] || die "--seconds needs a number"; seconds="$2"; shift 2 ;;
    --tail) tail_log=1; shift ;;
    --no-warmup) warmup=0; shift ;;
    --no-setup) setup=0; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
export PORT="${PORT:-8000}"
base="http://127.0.0.1:$PORT"
timeout_s="${WAIT_TIMEOUT_S:-300}"

((setup)) && bash "$ROOT/scripts/setup.sh"

if pid="$(server_pid)"; then
  say "a server is already running as PID $pid; using it (bash scripts/stop.sh first to restart it with new settings)"
else
  bash "$ROOT/scripts/start_bg.sh"
  pid="$(<"$PID_FILE")"
fi

# /health answers once the model is loaded and the port is open; /ready once warm-up batches ran.
say "waiting up to ${timeout_s}s for $base/health and /ready"
deadline=$((SECONDS + timeout_s))
for route in health ready; do
  until [[ "$(http_status "$base/$route")" == 200 ]]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail 30
      rm -f "$PID_FILE"
      die "the server exited before /$route answered (full log: $LOG_FILE)"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail 30
      die "no 200 from $base/$route within ${timeout_s}s; the server (PID $pid) is still running: look at $LOG_FILE, raise WAIT_TIMEOUT_S, or bash scripts/stop.sh"
    fi
    sleep 0.5
  done
done
say "server PID $pid is healthy and ready on $base"

if ((warmup)); then
  args=(--seconds "$seconds")
  [[ -n "$sample" ]] && args+=(--sample "$sample")
  SMART_TURN_URL="$base" bash "$ROOT/scripts/warmup.sh" "${args[@]}" || die "the warmup request failed (above); the server is still running (logs: $LOG_FILE)"
fi

say "running in the background: logs $LOG_FILE, stop with bash scripts/stop.sh"
((tail_log)) && exec bash "$ROOT/scripts/tail_bg_logs.sh"
exit 0
