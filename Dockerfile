# Canal controller image: `canal` (bin/canal.mjs running the bundled CLI) with the filter
# (build/canal.wasm) and the controller's regex check (build/regex-check.wasm). Non-root, no
# shell needed at run time. Build with `make image` (docker, podman or buildah); this project's
# own machines have no container engine, so the build itself is not run by its tests
# (docs/install.md, "The controller image").
ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Build the filter and the regex check (needs the dev dependencies and the SDK patch).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY patches/ patches/
RUN npm ci --no-audit --no-fund
COPY asconfig.json tsconfig.json ./
COPY filter/ filter/
COPY schema/ schema/
COPY controller/ controller/
RUN npm run build:filter && npm run build:regex-check

# 2. Runtime dependencies only, plus the three dev dependencies the CLI loads at run time
#    (tsx runs the TypeScript; yaml and ajv are imported by the CLI), moved to `dependencies`
#    at package.json's versions (the lockfile pins the rest). No install scripts: the SDK patch
#    only matters for building the filter.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN node -e "const f = 'package.json', p = require('./' + f); \
      for (const n of ['tsx', 'yaml', 'ajv']) p.dependencies[n] = p.devDependencies[n]; \
      delete p.devDependencies; delete p.scripts; require('fs').writeFileSync(f, JSON.stringify(p, null, 2))" \
 && npm install --omit=dev --ignore-scripts --no-audit --no-fund

# 3. The image.
FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
# glibc: keep large buffers on mmap (controller/src/runner/process-env.ts; the chart sets it too).
ENV MALLOC_MMAP_THRESHOLD_=1048576
COPY --from=deps /app/node_modules/ node_modules/
COPY package.json ./
COPY bin/ bin/
COPY schema/ schema/
COPY envoy/ envoy/
COPY controller/ controller/
COPY scripts/bundle-controller.mjs scripts/
COPY --from=build /src/build/canal.wasm /src/build/regex-check.wasm build/
# The CLI as one JavaScript module (esbuild comes with tsx): bin/canal.mjs runs it instead of the
# sources through tsx, in a third of the memory, because here every input is older than it.
RUN node scripts/bundle-controller.mjs
# 65532: no login, no home; the chart runs it with a read-only root and /tmp as an emptyDir
# (tsx keeps its transform cache there if it ever runs the sources).
USER 65532:65532
ENTRYPOINT ["node", "/app/bin/canal.mjs"]
CMD ["controller", "--help"]
