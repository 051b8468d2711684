#!/usr/bin/env bash
# Installs what the server needs and builds it: Debian build tools (as root, when missing), npm
# packages (npm ci, which also builds the native addon), the addon if it is missing, and the
# TypeScript (dist/). Idempotent: a re-run skips each step whose output is current.
#   bash scripts/setup.sh [--force]    --force: npm ci and rebuild even when current
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $arg (see --help)" ;;
  esac
done

# Node 20 or newer.
command -v node >/dev/null || die "Node.js is not installed: install Node 20+ (e.g. https://nodejs.org or your distribution's nodejs package)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 20)) || die "Node $(node --version) is too old: this server needs Node 20 or newer"

# Debian packages the native addon build needs (the "build" lines of .ci/packages).
missing=()
if command -v dpkg >/dev/null; then
  read -r -a missing <<<"$(node .ci/prerequisites.mjs --missing=build)"
fi
if ((${#missing[@]})); then
  if [[ "$(id -u)" == 0 ]]; then
    say "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "warning: missing Debian packages ${missing[*]}: the native addon will not build (run as root, or apt-get install them); the ONNX Runtime CPU backend works without it"
  fi
fi

# npm packages: only when package-lock.json changed since the last successful install here.
stamp="node_modules/.smart-turn-setup"
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if ((force)) || [[ ! -f "$stamp" ]] || [[ "$(<"$stamp")" != "$lock_hash" ]]; then
  say "npm ci (installs packages and builds the native addon; takes a minute or two)"
  npm ci --no-audit --no-fund
  echo "$lock_hash" >"$stamp"
else
  say "npm packages are current (package-lock.json unchanged)"
fi

# The addon: npm ci builds it, but a purge of build/ or a failed toolchain leaves it missing.
if ((force)) || ! compgen -G 'build/Release/*.node' >/dev/null; then
  say "building the native addon"
  npm run --silent build:native || say "warning: the native addon did not build; BACKEND=auto will use ONNX Runtime on the CPU"
else
  say "native addon present (build/Release)"
fi

# TypeScript → dist/, only when a source is newer than the last build.
ts_stamp="dist/.smart-turn-build"
if ((force)) || [[ ! -f "$ts_stamp" ]] || [[ -n "$(find ts tools test tsconfig.json -newer "$ts_stamp" \( -name '*.ts' -o -name 'tsconfig.json' \) -print -quit 2>/dev/null)" ]]; then
  say "building TypeScript (tsc → dist/)"
  npx --no-install tsc -p tsconfig.json || die "TypeScript build failed (errors above)"
  touch "$ts_stamp"
else
  say "TypeScript build is current (dist/)"
fi

say "done. Start the server with: bash scripts/start.sh (foreground) or bash scripts/start_bg.sh"
