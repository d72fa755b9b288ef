#!/usr/bin/env bash
# `make run`: Canal locally with `canal dev` on examples/helloworld — the example's Istio YAML is
# translated like the controller does, served over ECDS to a router-mode Envoy (func-e) with demo
# backends, and the folder is watched: edit examples/helloworld/*.yaml and routing changes live.
# Extra arguments go to canal dev (e.g. --dir my-folder --port 8080). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
  echo
  exec node bin/canal.mjs dev --help
fi

eval "$(scripts/tools.sh env)"
[ -x "$FUNC_E_BIN" ] || { echo "run: func-e missing: run scripts/tools.sh func-e" >&2; exit 1; }
[ -f build/canal.wasm ] || { echo "run: build/canal.wasm missing: run make build" >&2; exit 1; }
[ -f build/regex-check.wasm ] || { echo "run: build/regex-check.wasm missing: run make build" >&2; exit 1; }

exec node bin/canal.mjs dev --dir examples/helloworld "$@"
