// Proves each fix in patches/@solo-io+proxy-runtime+0.1.8.patch with the SDK probe
// (test/fixtures/sdk-probe) in the emulator.
//
// How we know these tests would fail without the patch: every defect is also run against a build
// of the same probe on the UNPATCHED runtime (node_modules' copy with the patch reversed by
// `git apply -R`, see sdk-probe.ts) and the "unpatched" cases assert the failure the patched case
// rules out (abort, leak, garbage, missing import). Reverting a hunk of the patch turns the
// matching "patched" test red; this was checked by hand for every hunk when the patch was written.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action, LogLevel, ProxyWasmHost, ProxyWasmVmError, WasmResult, type HeaderList, type HostOptions } from "./host.js";
import type { WasmBytes } from "./compile.js";
import { buildProbe, buildStockProbe, PROBE_ROOT_ID, startProbe } from "./sdk-probe.js";
import { startCanal } from "./canal.js";

let dir = "";
let patched: WasmBytes;
let stock: WasmBytes;
let stockCrc: WasmBytes;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "canal-sdk-patch-"));
  [patched, stock, stockCrc] = await Promise.all([
    buildProbe(join(dir, "patched")),
    buildStockProbe(dir),
    buildStockProbe(dir, { clearRouteCache: true }),
  ]);
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs one request through the probe in `mode`; returns the response headers as a map. */
function probe(host: ProxyWasmHost, mode: string, extra: HeaderList = []): Map<string, string> {
  const id = host.newHttpContext();
  host.requestHeaders(id, [[":method", "GET"], [":path", "/"], ["x-probe", mode], ...extra], true);
  host.responseHeaders(id, [[":status", "200"]], true);
  const out = new Map(host.getResponseHeaders(id));
  host.completeRequest(id);
  return out;
}

function runPlain(host: ProxyWasmHost, n: number): void {
  const req: HeaderList = [[":path", "/"]];
  for (let i = 0; i < n; i++) host.runRequest(req);
}

const rootRefcount = (host: ProxyWasmHost): number => (host.exports.probe_root_refcount as () => number)();

describe("defect 1: getContext/getRootContext no longer leak", () => {
  it("patched: contexts are freed and the root's reference count stays flat", async () => {
    const host = await startProbe(patched);
    runPlain(host, 1_000);
    const rc = rootRefcount(host);
    const mem = host.memoryBytes;
    runPlain(host, 20_000);
    expect(rootRefcount(host)).toBe(rc);
    expect(host.memoryBytes).toBe(mem);
    expect(host.liveContexts).toBe(0);
  });

  it("unpatched: each request leaks its context and 2 root references", async () => {
    const host = await startProbe(stock, { logLevel: LogLevel.info });
    const rc = rootRefcount(host);
    const mem = host.memoryBytes;
    runPlain(host, 20_000);
    expect(rootRefcount(host) - rc).toBe(40_000);
    expect(host.memoryBytes).toBeGreaterThan(mem + 512 * 1024);
  });
});

describe("defect 2: the buffer reference is reset before each host call", () => {
  // Hosts that answer Ok to an empty proxy_get_buffer_bytes without writing pointer and size.
  // Envoy 1.40 writes 0/0 (see probe-envoy.test.ts), older proxy-wasm-cpp-host did not.
  const legacy: HostOptions = { emptyBufferUnwritten: true };

  it("patched: an empty body after a header read is empty, and the VM lives on", async () => {
    const host = await startProbe(patched, legacy);
    for (let i = 0; i < 100; i++) expect(probe(host, "body").get("x-probe-body-len")).toBe("0");
    expect(probe(host, "").get("x-probe")).toBe("1");
  });

  it("patched: a real body is still read", async () => {
    const host = await startProbe(patched, legacy);
    const id = host.newHttpContext();
    expect(host.requestHeaders(id, [["x-probe", "none"]], false)).toBe(Action.Continue);
    expect(host.requestBody(id, "hello", true)).toBe(Action.Continue);
    host.completeRequest(id);
  });

  it("unpatched: the stale buffer is returned and freed twice, aborting the VM", async () => {
    const host = await startProbe(stock, { ...legacy, logLevel: LogLevel.info });
    expect(() => probe(host, "body")).toThrow(ProxyWasmVmError);
    expect(host.vmError?.message).toMatch(/rt\/pure\.ts/);
    expect(() => probe(host, "")).toThrow(/VM has failed/);
  });

  it("unpatched: on a host that writes 0/0 (like Envoy 1.40) the same request survives", async () => {
    const host = await startProbe(stock, { logLevel: LogLevel.info });
    expect(probe(host, "body").get("x-probe-body-len")).toBe("0");
  });
});

describe("defect 3: onConfigure reads the plugin configuration through a size pointer", () => {
  const config = "probe-config"; // 12 bytes: the unpatched runtime makes the host write at address 12
  const wordAt = (host: ProxyWasmHost, addr: number): number =>
    new DataView((host.exports.memory as WebAssembly.Memory).buffer).getUint32(addr, true);

  it("patched: getConfiguration() and getConfigurationBytes() return the configuration", async () => {
    const host = await ProxyWasmHost.load(patched, { rootId: "", pluginConfig: config });
    host.startVm();
    const before = wordAt(host, config.length);
    expect(host.configure()).toBe(true);
    expect(wordAt(host, config.length)).toBe(before); // no stray write
    const h = probe(host, "config");
    expect(h.get("x-probe-config")).toBe(config);
    expect(h.get("x-probe-config-bytes")).toBe("12");
  });

  it("patched: reconfiguring replaces the configuration; false from onConfigure rejects", async () => {
    const host = await startProbe(patched);
    expect(host.configure("second")).toBe(true);
    expect(probe(host, "config").get("x-probe-config")).toBe("second");
    expect(host.configure("")).toBe(true);
    expect(probe(host, "config").get("x-probe-config-bytes")).toBe("0");
    expect(host.configure("reject: bad table")).toBe(false);
  });

  it("unpatched: the host writes the size at address <size> and the config can read as empty", async () => {
    // With root id "" the last buffer filled before onConfigure was empty, so the stale size is 0.
    const host = await ProxyWasmHost.load(stock, { rootId: "", pluginConfig: config, logLevel: LogLevel.info });
    host.startVm();
    expect(wordAt(host, config.length)).not.toBe(config.length);
    expect(host.configure()).toBe(true);
    expect(wordAt(host, config.length)).toBe(config.length);
    expect(probe(host, "config").get("x-probe-config")).toBe("");
  });
});

describe("defect 4: no per-request debug strings", () => {
  it("patched: a full request lifecycle logs nothing, even at trace level", async () => {
    const host = await startProbe(patched, { logLevel: LogLevel.trace });
    host.clearLogs();
    runPlain(host, 10);
    host.tick();
    expect(host.logs).toEqual([]);
  });

  it("unpatched: every request builds debug lines that join all live context ids", async () => {
    const host = await startProbe(stock, { logLevel: LogLevel.trace });
    const ids = [host.newHttpContext(), host.newHttpContext()];
    host.clearLogs();
    host.runRequest([[":path", "/"]]);
    const joined = host.logMessages().filter((m) => m.startsWith("Current context_map: "));
    expect(joined.length).toBeGreaterThanOrEqual(1);
    expect(joined[0]).toContain(`${ids[0]}, ${ids[1]}`);
  });
});

describe("defect 5: non-OK host results do not abort the VM", () => {
  it("patched: a missing property is empty with result NotFound; a present one is Ok", async () => {
    const host = await startProbe(patched);
    const missing = probe(host, "prop", [["x-probe-prop", "no.such.property"]]);
    expect(missing.get("x-probe-prop")).toBe("");
    expect(missing.get("x-probe-prop-result")).toBe(String(WasmResult.NotFound));
    const id = host.newHttpContext({ properties: { "source\0address": "10.1.2.3:4567" } });
    host.requestHeaders(id, [["x-probe", "prop"], ["x-probe-prop", "source.address"]], true);
    host.responseHeaders(id, [[":status", "200"]], true);
    expect(host.getResponseHeader(id, "x-probe-prop")).toBe("10.1.2.3:4567");
    expect(host.getResponseHeader(id, "x-probe-prop-result")).toBe("0");
  });

  it("patched: replace/remove on an unavailable header map return BadArgument", async () => {
    const host = await startProbe(patched);
    const h = probe(host, "replace-response");
    expect(h.get("x-probe-replace-result")).toBe(String(WasmResult.BadArgument));
    expect(h.get("x-probe-remove-result")).toBe(String(WasmResult.BadArgument));
  });

  it("patched: replace/remove report an injected host failure and change nothing", async () => {
    const host = await startProbe(patched);
    host.failHostCall("proxy_replace_header_map_value", WasmResult.InternalFailure);
    host.failHostCall("proxy_remove_header_map_value", WasmResult.NotFound);
    const id = host.newHttpContext();
    host.requestHeaders(id, [["x-probe", "replace"], ["x-probe-remove-me", "1"]], true);
    host.responseHeaders(id, [[":status", "200"]], true);
    expect(host.getResponseHeader(id, "x-probe-replace-result")).toBe(String(WasmResult.InternalFailure));
    expect(host.getResponseHeader(id, "x-probe-remove-result")).toBe(String(WasmResult.NotFound));
    expect(host.getRequestHeader(id, "x-probe-remove-me")).toBe("1");
    expect(host.getRequestHeader(id, "x-probe-replaced")).toBeUndefined();
  });

  it("patched: a missing plugin_root_id yields root id \"\" instead of aborting", async () => {
    const host = await ProxyWasmHost.load(patched, { rootId: PROBE_ROOT_ID, pluginConfig: "x" });
    host.failHostCall("proxy_get_property", WasmResult.NotFound, 1);
    expect(host.startVm()).toBe(true); // the probe also registers a root for ""
    expect(host.configure()).toBe(true);
    expect(probe(host, "").get("x-probe")).toBe("1");
  });

  it("patched: set_effective_context on an ended stream returns BadArgument and logs nothing", async () => {
    const host = await startProbe(patched);
    probe(host, "effective");
    host.clearLogs();
    host.tick();
    expect((host.exports.probe_last_effective_context_result as () => number)()).toBe(WasmResult.BadArgument);
    expect(host.logs).toEqual([]);
  });

  it("unpatched: a missing property aborts the VM", async () => {
    const host = await startProbe(stock, { logLevel: LogLevel.info });
    expect(() => probe(host, "prop", [["x-probe-prop", "no.such.property"]])).toThrow(/runtime\.ts\(28:5\)/);
  });

  it("unpatched: replace on an unavailable header map aborts the VM", async () => {
    const host = await startProbe(stock, { logLevel: LogLevel.info });
    expect(() => probe(host, "replace-response")).toThrow(ProxyWasmVmError);
  });

  it("unpatched: set_effective_context on an ended stream logs at critical level", async () => {
    const host = await startProbe(stock, { logLevel: LogLevel.info });
    probe(host, "effective");
    host.tick();
    expect(host.logMessages(LogLevel.critical).join("\n")).toMatch(/Unable to set effective context/);
  });
});

describe("defect 6: get_metric reads the metric", () => {
  it("patched: returns the counter's value and leaves it alone", async () => {
    const host = await startProbe(patched);
    runPlain(host, 4);
    const h = probe(host, "metric");
    expect(h.get("x-probe-metric-result")).toBe("0");
    expect(h.get("x-probe-metric")).toBe("5");
    expect(host.getMetricValue("sdk_probe_requests")).toBe(5n);
  });

  it("unpatched: calls proxy_record_metric, adding a pointer to the counter", async () => {
    const host = await startProbe(stock, { logLevel: LogLevel.info });
    expect(host.importedFunctions).not.toContain("proxy_get_metric");
    runPlain(host, 4);
    const h = probe(host, "metric");
    expect(h.get("x-probe-metric")).not.toBe("5");
    expect(host.getMetricValue("sdk_probe_requests")).toBeGreaterThan(5n);
  });
});

describe("defect 8: clear_route_cache goes through the foreign function", () => {
  it("patched: the module does not import proxy_clear_route_cache", () => {
    const names = WebAssembly.Module.imports(new WebAssembly.Module(patched)).map((i) => i.name);
    expect(names).not.toContain("proxy_clear_route_cache");
    expect(names).toContain("proxy_call_foreign_function");
  });

  it("patched: calls foreign function clear_route_cache with empty arguments and returns Ok", async () => {
    const host = await startProbe(patched);
    const id = host.newHttpContext();
    host.requestHeaders(id, [["x-probe", "crc"]], true);
    host.responseHeaders(id, [[":status", "200"]], true);
    expect(host.getResponseHeader(id, "x-probe-crc-result")).toBe("0");
    expect(host.foreignCalls).toEqual([{ name: "clear_route_cache", args: new Uint8Array(0), contextId: id, result: 0 }]);
  });

  it("patched: a host without the foreign function answers NotFound, which is returned", async () => {
    const host = await startProbe(patched);
    host.failHostCall("proxy_call_foreign_function", WasmResult.NotFound);
    expect(probe(host, "crc").get("x-probe-crc-result")).toBe(String(WasmResult.NotFound));
  });

  it("unpatched: calling clear_route_cache() makes the module fail to load on an ABI 0.2.x host", async () => {
    await expect(ProxyWasmHost.load(stockCrc, { rootId: PROBE_ROOT_ID })).rejects.toThrow(
      "Failed to load Wasm module due to a missing import: env.proxy_clear_route_cache",
    );
  });
});

describe("the emulator behaves like Envoy's host", () => {
  it("reports the ABI and refuses a module whose ABI it does not know", async () => {
    const host = await startProbe(patched);
    expect(host.abiVersion).toBe("0.2.0");
    const empty = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    await expect(ProxyWasmHost.load(empty)).rejects.toThrow("Missing or unknown Proxy-Wasm ABI version");
  });

  it("lower-cases header names and applies the module's replace/remove to the request map", async () => {
    const host = await startProbe(patched);
    const id = host.newHttpContext();
    host.requestHeaders(id, [["X-Probe", "replace"], ["x-probe-remove-me", "a"]], true);
    // Header names are lower-cased; the probe replaced one header and removed another.
    expect(host.getRequestHeaders(id)).toEqual([["x-probe", "replace"], ["x-probe-replaced", "yes"]]);
    host.responseHeaders(id, [[":status", "200"]], false);
    expect(host.getResponseHeader(id, "x-probe")).toBe("1");
    host.completeRequest(id);
    expect(host.getStream(id).completed).toBe(true);
  });

  it("records a local response and the StopIteration action", async () => {
    const host = await startProbe(patched);
    const id = host.newHttpContext();
    expect(host.requestHeaders(id, [["x-probe", "local"]], true)).toBe(Action.StopIteration);
    expect(host.getLocalResponse(id)).toMatchObject({
      status: 403,
      details: "sdk_probe_denied",
      bodyText: "denied by probe",
      headers: [["x-probe-local", "1"]],
      grpcStatus: -1,
    });
  });

  it("continues a delayed request from onTick through the effective context", async () => {
    const host = await startProbe(patched);
    expect(host.tickPeriodMs).toBe(50);
    const id = host.newHttpContext();
    expect(host.requestHeaders(id, [["x-probe", "delay"]], true)).toBe(Action.StopIteration);
    expect(host.getContinueCalls(id)).toEqual([]);
    host.advanceTime(50);
    host.tick();
    expect(host.getContinueCalls(id)).toEqual([0]);
  });

  it("defines each metric once, at configure time", async () => {
    const host = await startProbe(patched);
    host.configure();
    expect(host.metrics.map((m) => [m.name, m.type])).toEqual([["sdk_probe_requests", 0]]);
    runPlain(host, 3);
    expect(host.getMetricValue("sdk_probe_requests")).toBe(3n);
  });

  it("fails the VM on a trap and refuses later calls", async () => {
    const host = await startProbe(stock, { logLevel: LogLevel.info });
    expect(() => probe(host, "prop", [["x-probe-prop", "nope"]])).toThrow(ProxyWasmVmError);
    expect(() => host.tick()).toThrow(/VM has failed/);
  });
});

describe("stream contexts: the id table and recycled contexts (no Map insert and delete per stream)", () => {
  it("patched: 3,000 concurrent streams, ended out of order, are each served by their own context; memory flat", async () => {
    const host = await startProbe(patched);
    const round = (): void => {
      const ids: number[] = [];
      for (let i = 0; i < 3_000; i++) {
        const id = host.newHttpContext();
        host.requestHeaders(id, [[":method", "GET"], [":path", "/"], ["x-probe", `s${id}`]], true);
        ids.push(id);
      }
      // End every third stream first, then the rest from the back: deletions in the middle of
      // probe runs, while other ids are still live.
      const order = [...ids.filter((_, i) => i % 3 === 0), ...ids.filter((_, i) => i % 3 !== 0).reverse()];
      for (const id of order) {
        host.responseHeaders(id, [[":status", "200"]], true);
        expect(new Map(host.getResponseHeaders(id)).get("x-probe-mode")).toBe(`s${id}`);
        host.completeRequest(id);
      }
    };
    round();
    round();
    const rc = rootRefcount(host);
    const mem = host.memoryBytes;
    for (let i = 0; i < 3; i++) round();
    expect(host.liveContexts).toBe(0);
    expect(rootRefcount(host)).toBe(rc);
    expect(host.memoryBytes).toBe(mem);
  });

  it("patched: a recycled Canal stream context does not carry the previous stream's response header operations", async () => {
    const table = {
      format: 1,
      version: "recycle",
      virtualHosts: [
        {
          name: "ns/a",
          domains: ["a.example.com"],
          routes: [{ name: "ops", match: [{ uri: { prefix: "/ops" } }], headers: { response: { set: { "x-resp": "r" } } }, route: [{ cluster: "outbound|80||ops.ns.svc.cluster.local" }] }],
        },
      ],
    };
    const host = await startCanal(table);
    const stream = (path: string, status: string): Map<string, string> => {
      const id = host.newHttpContext();
      host.requestHeaders(id, [[":method", "GET"], [":scheme", "http"], [":path", path], [":authority", "a.example.com"]], true);
      // Envoy runs the encoder side for the filter's own local replies too.
      host.responseHeaders(id, [[":status", status]], true);
      const out = new Map(host.getResponseHeaders(id));
      host.completeRequest(id);
      return out;
    };
    for (let i = 0; i < 3; i++) {
      expect(stream("/ops", "200").get("x-resp")).toBe("r");
      // The next stream reuses the context just freed: its 404 must not get the route's header.
      expect(stream("/none", "404").get("x-resp")).toBeUndefined();
    }
    expect(host.liveContexts).toBe(0);
  });
});
