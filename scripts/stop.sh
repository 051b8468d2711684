#!/usr/bin/env bash
# Stops the background server: SIGTERM (it answers the requests it accepted, then exits), waits, and
# only if it is still there after STOP_TIMEOUT_S (default 20) sends SIGKILL.
#   bash scripts/stop.sh [--purge]
#   --purge  also removes what setup and running created: node_modules/, dist/, build/ (the native
#            addon), engines/* (built TensorRT engines; engines/README.md stays), .cache/ (this
#            project's cache) and run/ (PID and logs). The checkout itself and the Hugging Face cache
#            in your home folder (~/.cache/huggingface) are left alone.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

purge=0
for arg in "$@"; do
  case "$arg" in
    --purge) purge=1 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $arg (see --help)" ;;
  esac
done

if pid="$(server_pid)"; then
  timeout_s="${STOP_TIMEOUT_S:-20}"
  say "stopping PID $pid (SIGTERM; waiting up to ${timeout_s}s for it to drain)"
  kill -TERM "$pid"
  deadline=$((SECONDS + timeout_s))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "still running after ${timeout_s}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  say "stopped"
else
  say "no background server running${PID_FILE:+ (no live PID in $PID_FILE)}"
fi
rm -f "$PID_FILE"

if ((purge)); then
  cd "$ROOT"
  removed=()
  for path in node_modules dist build .cache run; do
    [[ -e "$path" ]] && { rm -rf -- "$path"; removed+=("$path"); }
  done
  # A SMART_TURN_RUN_DIR elsewhere may hold other things: only our files go.
  for file in "$RUN_DIR"/server.log "$RUN_DIR"/server.log.1; do
    [[ -e "$file" ]] && { rm -f -- "$file"; removed+=("$file"); }
  done
  if [[ -d engines ]]; then
    while IFS= read -r -d '' entry; do
      rm -rf -- "$entry"
      removed+=("$entry")
    done < <(find engines -mindepth 1 -maxdepth 1 ! -name README.md -print0)
  fi
  say "purged: ${removed[*]:-nothing to remove}"
  hub="${HF_HUB_CACHE:-${HF_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/huggingface}/hub}"
  if compgen -G "$hub/models--pipecat-ai--smart-turn*" >/dev/null; then
    say "kept downloaded models in the shared Hugging Face cache; remove them yourself if unwanted: rm -rf $hub/models--pipecat-ai--smart-turn*"
  fi
  say "reinstall with: bash scripts/setup.sh"
fi
