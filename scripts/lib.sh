# Shared by the scripts in this folder; sourced, not run. Sets ROOT, the runtime folder and helpers.
# SMART_TURN_RUN_DIR moves the PID and log files (default run/ in the checkout), e.g. to run two
# copies from one checkout on different ports.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${SMART_TURN_RUN_DIR:-$ROOT/run}"
PID_FILE="$RUN_DIR/server.pid"
LOG_FILE="$RUN_DIR/server.log"
export ONNXRUNTIME_NODE_INSTALL=skip # its postinstall fetches GPU libraries; the CPU build is bundled

say() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The PID in PID_FILE if that process is alive and is our server (not a recycled PID); else nothing.
server_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(<"$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'ts/main.ts' || return 1
  echo "$pid"
}

# HTTP status of a GET (000 when nothing answers), with a short timeout.
http_status() {
  if command -v curl >/dev/null; then
    curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" || true
  else
    node -e 'fetch(process.argv[1],{signal:AbortSignal.timeout(2000)}).then(r=>console.log(r.status),()=>console.log("000"))' "$1"
  fi
}

show_log_tail() {
  [[ -f "$LOG_FILE" ]] || return 0
  say "last lines of $LOG_FILE:"
  tail -n "${1:-25}" "$LOG_FILE" | sed 's/^/    /' >&2
}

# Run a tool under tools/ with the repo's tsx, keeping the caller's folder (for --sample, .env, --json).
run_tool() {
  local tool="$1"
  shift
  [[ -x "$ROOT/node_modules/.bin/tsx" ]] || die "node_modules is missing: run bash scripts/setup.sh first"
  exec "$ROOT/node_modules/.bin/tsx" "$ROOT/tools/$tool.ts" "$@"
}
