#!/usr/bin/env bash
# `make run`: Canal locally — demo upstreams on 127.0.0.1, Envoy (through func-e) with the filter
# from build/canal.wasm, the demo route table delivered by ECDS from a watched file.
# Ctrl-C stops everything. Edit a table and run `node --import tsx envoy/local.ts table FILE`
# in another terminal to change routing live.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

eval "$(scripts/tools.sh env)"
[ -x "$FUNC_E_BIN" ] || { echo "run: func-e missing: run scripts/tools.sh func-e" >&2; exit 1; }
[ -f build/canal.wasm ] || { echo "run: build/canal.wasm missing: run make build" >&2; exit 1; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for port in 10080 9901; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run: port $port on 127.0.0.1 is already in use (another make run?)" >&2
    exit 1
  fi
done

echo "run: starting demo upstreams"
node --import tsx envoy/demo-upstream.ts &
pids+=($!)
echo "run: writing the demo route table (envoy/demo-table.json) to the ECDS file"
node --import tsx envoy/local.ts table envoy/demo-table.json
echo "run: starting Envoy $ENVOY_VERSION with func-e (logs: build/envoy.log)"
"$FUNC_E_BIN" run -c envoy/canal.yaml --log-level info >build/envoy.log 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  if curl -sf http://127.0.0.1:9901/ready >/dev/null 2>&1; then break; fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then echo "run: Envoy exited; see build/envoy.log" >&2; tail -20 build/envoy.log >&2; exit 1; fi
  sleep 0.1
done
curl -sf http://127.0.0.1:9901/ready >/dev/null || { echo "run: Envoy did not become ready; see build/envoy.log" >&2; exit 1; }

cat <<'MSG'

Canal is running: gateway http://127.0.0.1:10080, Envoy admin http://127.0.0.1:9901
Try:
  curl -s -H 'host: helloworld' http://127.0.0.1:10080/hello
  curl -s -H 'host: helloworld.default:5000' -H 'x-canary: true' http://127.0.0.1:10080/hello
  curl -si -H 'host: helloworld' http://127.0.0.1:10080/v0/old      # redirect
  curl -s -H 'host: ratings' http://127.0.0.1:10080/ratings/7        # regex match + rewrite
  curl -si -H 'host: nobody' http://127.0.0.1:10080/x                # 404 that says why
  curl -s http://127.0.0.1:9901/stats/prometheus | grep canal_requests_total
Change routing live: edit a copy of envoy/demo-table.json, then
  node --import tsx envoy/local.ts table my-table.json
Ctrl-C stops everything.
MSG
wait "${pids[1]}"
