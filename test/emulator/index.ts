// Public surface of the test emulator: a Proxy-Wasm host (host.ts), the AssemblyScript build
// helper (compile.ts) and the SDK probe builds (sdk-probe.ts). See README.md.
export * from "./host.js";
export { compileAs, REPO_ROOT, type CompileOptions, type WasmBytes } from "./compile.js";
export { buildProbe, buildStockProbe, startProbe, PROBE_DIR, PROBE_ROOT_ID, RUNTIME_PATCH } from "./sdk-probe.js";
