# Canal — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NPM_STAMP := node_modules/.canal-installed
FILTER_SOURCES := $(shell find filter/assembly -name '*.ts' 2>/dev/null) asconfig.json $(wildcard patches/*.patch)

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

$(NPM_STAMP): package.json package-lock.json $(wildcard patches/*.patch)
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NPM_STAMP) ## install npm dependencies (applies patches/ to the SDK)

tools: ## obtain and cache every tool: Envoy, func-e, wrk, etcd, kube-apiserver, Istio CRDs, Gateway API CRDs and conformance sources, CoreDNS, dig, helm, istiod
	scripts/tools.sh all

build/canal.wasm: $(NPM_STAMP) $(FILTER_SOURCES)
	npm run --silent build:filter

REGEX_CHECK_SOURCES := $(shell find filter/assembly/regex controller/src/translate/regex-check -type f 2>/dev/null)

build/regex-check.wasm: $(NPM_STAMP) $(REGEX_CHECK_SOURCES)
	npm run --silent build:regex-check

CONTROLLER_SOURCES := $(shell find controller/src schema envoy -name '*.ts' -not -name '*.test.ts' 2>/dev/null) filter/assembly/root-id.ts

# The CLI as one plain-JavaScript module; bin/canal.mjs runs it while it is up to date.
build/controller/canal.mjs: $(NPM_STAMP) $(CONTROLLER_SOURCES) scripts/bundle-controller.mjs
	npm run --silent build:controller

build: build/canal.wasm build/regex-check.wasm build/controller/canal.mjs ## build the filter (build/canal.wasm, .debug.wasm), the controller's regex check and the CLI bundle

typecheck: deps ## strict TypeScript check of everything outside filter/
	npm run --silent typecheck

tools-envoy: ## obtain only what `make run` needs: Envoy and func-e
	scripts/tools.sh func-e

run: build tools-envoy ## run Canal locally: canal dev on examples/helloworld (func-e Envoy, ECDS, demo backends; edits apply live)
	scripts/run-local.sh

test: build tools typecheck ## run every test suite
	npm run --silent test:unit
	npm run --silent test:controller
	npm run --silent test:emulator
	npm run --silent test:envoy
	npm run --silent test:ecds
	npm run --silent test:k8s
	npm run --silent test:gateway-api
	npm run --silent test:dns-harness
	npm run --silent test:dns
	npm run --silent test:charts
	npm run --silent test:cli
	npm run --silent test:security
	npm run --silent test:chaos
	npm run --silent test:istio
	npm run --silent test:oracle

bench: build tools ## benchmarks (results go to docs/benchmarks.md)
	npm run --silent bench:filter
	npm run --silent bench:sidecar  # after bench:filter: it rewrites section (b) with the istiod sidecar pair
	npm run --silent bench:controller
	npm run --silent bench:filter-config
	npm run --silent bench:dns
	npm run --silent bench:istio

VERSION ?= $(shell node -p "require('./package.json').version")
IMAGE ?= canal:$(VERSION)

wasm-image: build/canal.wasm ## the filter as an OCI image layout for WasmPlugin oci:// (build/wasm-image; push with oras/crane)
	node --import tsx scripts/wasm-image.ts --tag $(VERSION)

image: ## build the controller image canal:<version> from the Dockerfile (needs a working docker, podman or buildah)
	@engine=""; tried=""; \
	for e in docker podman buildah; do \
	  command -v $$e >/dev/null 2>&1 || continue; \
	  if $$e info >/dev/null 2>&1; then engine=$$e; break; fi; tried="$$tried $$e(installed, but '$$e info' fails: no daemon or no permission)"; \
	done; \
	if [ -z "$$engine" ]; then \
	  echo "make image: no working container engine (docker, podman or buildah).$${tried:+ Found:$$tried.} Install one (Debian: apt-get install podman) or build the Dockerfile on a machine that has one (docs/install.md)" >&2; exit 1; \
	fi; \
	echo "make image: $$engine building $(IMAGE)"; \
	if [ "$$engine" = buildah ]; then buildah bud -t "$(IMAGE)" .; else $$engine build -t "$(IMAGE)" .; fi

clean: ## remove build output
	rm -rf build

.PHONY: help deps tools tools-envoy build typecheck run test bench clean wasm-image image
