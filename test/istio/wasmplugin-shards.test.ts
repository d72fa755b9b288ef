// The experiment behind docs/adr/0005-wasmplugin-shards.md, against a real istiod 1.31 and a real
// Envoy 1.40: several WasmPlugins carrying the same .wasm (a tiny probe module,
// test/fixtures/shard-probe, not Canal's filter) on one gateway pod. A "router" plugin is
// attached to the data port; "shard" plugins are attached by `match.ports` to a second Gateway
// server port that carries no traffic (bound to loopback). The router answers every request with
// the probe's module globals, which every plugin's onConfigure writes into, so the test sees from
// outside what the shards delivered. Figures are printed as `shard-experiment:` lines.
//
// Found (ADR 0005): istiod puts each WasmPlugin's resourceVersion into the VM's environment
// variables, and Envoy 1.40 keys VMs by them too, so WasmPlugins never share a VM (nor module
// globals); a WasmPlugin update builds a new VM. What they do share is Envoy's shared data,
// scoped by vm_id, which istiod leaves empty: a shard's onConfigure writes its part there, the
// router reads it.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { request } from "../support/http.ts";
import { renderIstioProxyBootstrap } from "../support/istiod.ts";
import { freePort, LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { shardProbeWasm } from "../support/wasm.ts";
import { listenerPortsOf, startIstioWorld, SYSTEM_NS, type IstioWorld } from "./world.ts";

vi.setConfig({ testTimeout: 90_000 });

const LABELS = { app: "shard-gateway", istio: "gateway" };
const PLUGINS = `/apis/extensions.istio.io/v1alpha1/namespaces/${SYSTEM_NS}/wasmplugins`;

let world: IstioWorld;
let wasm: string;
let dataPort: number;
let tablePort: number;
const pods: EnvoyProcess[] = [];
let gw: EnvoyProcess;
/** xDS flavour of the gateway pods: delta, as pilot-agent; CANAL_SHARDS_SOTW=1 for the harness's state-of-the-world. */
const DELTA = process.env.CANAL_SHARDS_SOTW !== "1";

interface PluginSpec {
  name: string;
  config: Record<string, string>;
  port: number;
  type?: "HTTP" | "NETWORK";
}

function pluginYaml(p: PluginSpec): string {
  // Plain JSON is valid YAML (flow style): keeps a large pluginConfig on one line.
  return `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: ${p.name}, namespace: ${SYSTEM_NS}}
spec:
  selector: {matchLabels: {app: ${LABELS.app}}}
  url: file://${wasm}
  type: ${p.type ?? "HTTP"}
  match: [{ports: [{number: ${p.port}}]}]
  pluginConfig: ${JSON.stringify(p.config)}
`;
}

/** What the router reported: the VM id, and the configurations of every live root context in that VM. */
interface ProbeState {
  vm: string;
  /** Shard configurations the router read from shared data (key probe/<tag prefix>). */
  shared: string[];
  configures: number;
  configs: string[];
  events: string[];
}

let lastAnswer = "";

async function probe(): Promise<ProbeState | undefined> {
  const res = await request({ port: dataPort, host: "any.example", path: "/" }).catch((e: unknown) => {
    lastAnswer = String(e);
    return undefined;
  });
  if (res !== undefined) lastAnswer = `${res.status} ${res.body.slice(0, 2000)}`;
  if (res === undefined || res.status !== 200 || !/^vm=/m.test(res.body)) return undefined;
  const lines = res.body.trimEnd().split("\n");
  const field = (k: string): string => (lines.find((l) => l.startsWith(`${k}=`)) ?? "").slice(k.length + 1);
  return {
    vm: field("vm"),
    shared: lines.filter((l) => l.startsWith("shared=")).map((l) => l.slice("shared=".length).replace(/ cas=\d+$/, "")),
    configures: Number(field("configures")),
    configs: lines.filter((l) => /^\d+=/.test(l)).map((l) => l.replace(/^\d+=/, "")),
    events: field("events").split(";").filter((e) => e !== ""),
  };
}

/** Tags of the shards whose configuration the router can read (from shared data). */
function tagsOf(s: ProbeState): string[] {
  return s.shared.map((c) => (JSON.parse(c) as { tag?: string }).tag ?? "").filter((t) => t !== "").sort();
}

async function untilTags(what: string, pred: (tags: string[]) => boolean): Promise<ProbeState> {
  return pollUntil(what, async () => {
    const s = await probe();
    return s !== undefined && pred(tagsOf(s)) ? s : undefined;
  }, { timeoutMs: 60_000, intervalMs: 20, onTimeout: () => `last answer: ${lastAnswer}\n${gw.logTail(20)}\n${world.istiod.logTail(20)}` });
}

/**
 * A gateway pod. pilot-agent bootstraps Envoy with delta xDS (ISTIO_DELTA_XDS, default true
 * since Istio 1.22); the shared harness uses state-of-the-world, so `delta` selects.
 */
async function startPod(name: string, delta: boolean): Promise<EnvoyProcess> {
  const config = renderIstioProxyBootstrap({ istiod: world.istiod, type: "router", ip: `127.0.${40 + pods.length}.9`, podName: name, namespace: SYSTEM_NS, labels: LABELS });
  if (delta) (config.dynamic_resources as { ads_config: { api_type: string } }).ads_config.api_type = "DELTA_GRPC";
  const envoy = await startEnvoy({
    name: `shards-${name}`,
    config,
    readyTimeoutMs: 60_000,
  });
  pods.push(envoy);
  return envoy;
}

async function xdsCounters(envoy: EnvoyProcess): Promise<Record<string, number>> {
  const s = await envoy.stats("(lds|cds|rds)\\.update_success$|extension_config_discovery\\..*config_reload$|listener_manager\\.listener_(added|modified|removed)$|cluster_manager\\.cluster_(added|modified|removed)$");
  return Object.fromEntries([...s.entries()].sort());
}

beforeAll(async () => {
  wasm = shardProbeWasm();
  world = await startIstioWorld("shards");
  [dataPort, tablePort] = [await freePort(), await freePort()];
  await world.api.applyYaml(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shards, namespace: ${SYSTEM_NS}}
spec:
  selector: {app: ${LABELS.app}}
  servers:
  - port: {number: ${dataPort}, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: ${tablePort}, name: http-table, protocol: HTTP}
    bind: ${LOOPBACK}
    hosts: ["canal-table.invalid"]
`);
  await world.api.applyYaml(
    [
      pluginYaml({ name: "router", config: { role: "router" }, port: dataPort }),
      pluginYaml({ name: "shard-0", config: { role: "shard", tag: "s0-v1" }, port: tablePort }),
      pluginYaml({ name: "shard-1", config: { role: "shard", tag: "s1-v1" }, port: tablePort }),
      pluginYaml({ name: "shard-2", config: { role: "shard", tag: "s2-v1" }, port: tablePort, type: "NETWORK" }),
    ].join("---\n"),
  );
  gw = await startPod("shard-gateway-0", DELTA);
  await pollUntil("the data listener", async () => ((await listenerPortsOf(gw)).includes(dataPort) ? true : undefined), {
    timeoutMs: 60_000,
    intervalMs: 100,
    onTimeout: () => `${gw.logTail(20)}\n${world.istiod.logTail(20)}`,
  });
}, 300_000);

afterAll(async () => {
  for (const p of pods) await p.stop().catch(() => undefined);
  await world?.stop();
});

describe("WasmPlugin shards through istiod (ADR 0005 experiment)", () => {
  it("(a) plugins with the same .wasm do NOT share a VM through istiod, but do share Envoy's shared data", async () => {
    const s = await untilTags("the router to read three shards from shared data", (t) => t.length === 3);
    const vms = await gw.stats("^wasm\\.envoy\\.wasm\\.runtime\\.v8\\.(active|created)$");
    console.log(`shard-experiment: (a) ${JSON.stringify({ vm: s.vm, configures: s.configures, configs: s.configs, shared: s.shared, v8: Object.fromEntries(vms) })}`);
    // The router's VM saw only its own onConfigure: each WasmPlugin got a VM of its own.
    expect(s.configs).toEqual(['{"role":"router"}']);
    expect(s.configures).toBe(1);
    // istiod's resourceVersion env var is what tells them apart (Envoy 1.40 keys VMs by env vars).
    const rv = /\|rv=(\d+)/.exec(s.events.find((e) => e.startsWith("configure:")) ?? "")?.[1];
    const router = await world.api.get(`${PLUGINS}/router`);
    expect(rv).toBe(router.metadata.resourceVersion);
    // Shared data (vm_id "" for every WasmPlugin) carries every shard's onConfigure to the router.
    expect(tagsOf(s)).toEqual(["s0-v1", "s1-v1", "s2-v1"]);
  });

  it("(b) shards on the table port are configured but are not in the data port's filter chain", async () => {
    const dump = JSON.parse(await gw.admin("/config_dump?resource=dynamic_listeners")) as {
      configs: { active_state?: { listener?: { address?: { socket_address?: { address?: string; port_value?: number } }; filter_chains?: unknown[] } } }[];
    };
    const listener = (port: number) => dump.configs.map((c) => c.active_state?.listener).find((l) => l?.address?.socket_address?.port_value === port);
    const data = JSON.stringify(listener(dataPort) ?? {});
    const table = listener(tablePort);
    expect(data).toContain(`${SYSTEM_NS}.router`);
    expect(data).not.toContain(`${SYSTEM_NS}.shard-`);
    expect(table?.address?.socket_address?.address).toBe(LOOPBACK);
    const tableText = JSON.stringify(table ?? {});
    expect(tableText).toContain(`${SYSTEM_NS}.shard-0`);
    expect(tableText).toContain(`${SYSTEM_NS}.shard-2`);
    const httpFilters = (JSON.parse(data) as { filter_chains: { filters: { typed_config?: { http_filters?: { name: string }[] } }[] }[] }).filter_chains
      .flatMap((fc) => fc.filters)
      .flatMap((f) => f.typed_config?.http_filters ?? [])
      .map((f) => f.name);
    console.log(`shard-experiment: (b) data-port http_filters ${JSON.stringify(httpFilters)}`);
    expect(httpFilters.filter((n) => n.includes("shard"))).toEqual([]);
  });

  it("(c) updating one shard: Envoy reloads only that shard's config (a new VM for it), the router's VM untouched", async () => {
    const before = await untilTags("three shards", (t) => t.length === 3);
    const xdsBefore = await xdsCounters(gw);
    const vmsBefore = await gw.stats("^wasm\\.envoy\\.wasm\\.runtime\\.v8\\.(active|created)$");
    const istiodLogBefore = world.istiod.log().length;
    const envoyLogBefore = gw.log().length;
    const t0 = Date.now();
    const r = await world.api.request("PATCH", `${PLUGINS}/shard-1`, {
      body: { spec: { pluginConfig: { role: "shard", tag: "s1-v2" } } },
      contentType: "application/merge-patch+json",
    });
    expect(r.status, r.text).toBe(200);
    const after = await untilTags("shard-1 v2 at the router", (t) => t.includes("s1-v2"));
    const visibleMs = Date.now() - t0;
    // Let any trailing pushes land before counting them.
    await new Promise((res) => setTimeout(res, 1500));
    const xdsAfter = await xdsCounters(gw);
    const delta = Object.fromEntries(Object.entries(xdsAfter).map(([k, v]) => [k, v - (xdsBefore[k] ?? 0)]).filter(([, v]) => v !== 0));
    const pushes = world.istiod.log().slice(istiodLogBefore).split("\n").filter((l) => /PUSH|Push|push/.test(l)).map((l) => l.replace(/^\S+\s+/, "").slice(0, 160));
    const vmsAfter = await gw.stats("^wasm\\.envoy\\.wasm\\.runtime\\.v8\\.(active|created)$");
    // The shards' own lifecycle, from their log lines (thread id + event), in order.
    const newEvents = gw.log().slice(envoyLogBefore).split("\n").filter((l) => l.includes("shard-probe")).map((l) => l.replace(/^\[[^\]]*\]\[(\d+)\].*wasm log: shard-probe /, "t$1 "));
    console.log(`shard-experiment: (c) visible after ${visibleMs} ms; vm ${before.vm} -> ${after.vm}; xds deltas ${JSON.stringify(delta)}`);
    console.log(`shard-experiment: (c) shard lifecycle after the update ${JSON.stringify(newEvents)}`);
    console.log(`shard-experiment: (c) v8 VMs before ${JSON.stringify(Object.fromEntries(vmsBefore))} after ${JSON.stringify(Object.fromEntries(vmsAfter))}`);
    console.log(`shard-experiment: (c) istiod push lines ${JSON.stringify(pushes.slice(0, 20))}`);
    expect(after.vm).toBe(before.vm);
    expect(tagsOf(after)).toEqual(["s0-v1", "s1-v2", "s2-v1"]);
    // istiod re-sends LDS (and every WasmPlugin's ECDS) on any WasmPlugin change, but Envoy
    // modifies no listener or cluster and reloads only the changed filter config.
    expect(Object.keys(delta).filter((k) => /listener_(added|modified|removed)|cluster_(added|modified|removed)/.test(k))).toEqual([]);
    expect(Object.keys(delta).filter((k) => k.endsWith("config_reload"))).toEqual([
      `extension_config_discovery.http_filter.extensions.istio.io/trafficextension/${SYSTEM_NS}.shard-1~istio-translated-wasmplugin.config_reload`,
    ]);
  });

  it("(c') updating the router's own WasmPlugin builds a new router VM (its resourceVersion env changed)", async () => {
    const before = await untilTags("three shards", (t) => t.length === 3);
    const t0 = Date.now();
    const r = await world.api.request("PATCH", `${PLUGINS}/router`, {
      body: { spec: { pluginConfig: { role: "router", manifest: "m2" } } },
      contentType: "application/merge-patch+json",
    });
    expect(r.status, r.text).toBe(200);
    const after = await pollUntil("the router's new configuration", async () => {
      const s = await probe();
      return s !== undefined && s.configs.some((c) => c.includes("m2")) ? s : undefined;
    }, { timeoutMs: 60_000, intervalMs: 20 });
    console.log(`shard-experiment: (c') router update visible after ${Date.now() - t0} ms; vm ${before.vm} -> ${after.vm}; configures in the new VM ${after.configures}`);
    expect(after.vm).not.toBe(before.vm);
    // Shared data outlives the VMs: the new router VM reads every shard at once.
    expect(tagsOf(after)).toEqual(["s0-v1", "s1-v2", "s2-v1"]);
  });

  it("(d) a new gateway pod: Envoy's startup waits for every listener's ECDS, so the first answer sees every shard", async () => {
    await gw.stop();
    const t0 = Date.now();
    const pod = await startPod("shard-gateway-1", DELTA);
    gw = pod;
    const first = await pollUntil("the first answer of the new pod", async () => probe(), { timeoutMs: 60_000, intervalMs: 5 });
    const firstMs = Date.now() - t0;
    console.log(`shard-experiment: (d) first answer after ${firstMs} ms with shards ${JSON.stringify(tagsOf(first))}`);
    expect(tagsOf(first)).toEqual(["s0-v1", "s1-v2", "s2-v1"]);
  });

  it("(d') a shard that never arrives (unloadable code, NACKed) leaves the router serving without it: only a manifest can tell", async () => {
    await world.api.applyYaml(pluginYaml({ name: "shard-3", config: { role: "shard", tag: "s3-v1" }, port: tablePort }).replace(`file://${wasm}`, "file:///nonexistent/shard.wasm"));
    await new Promise((res) => setTimeout(res, 3000));
    const s = await probe();
    const dump = JSON.parse(await gw.admin("/config_dump?resource=dynamic_listeners")) as { configs: { name?: string; warming_state?: unknown; active_state?: unknown }[] };
    const warming = dump.configs.filter((c) => c.warming_state !== undefined).map((c) => c.name);
    const fails = Object.fromEntries(await gw.stats("extension_config_discovery\\..*shard-3.*config_fail$"));
    console.log(`shard-experiment: (d') warming listeners ${JSON.stringify(warming)}; shard-3 config_fail ${JSON.stringify(fails)}`);
    console.log(`shard-experiment: (d') with an unloadable shard-3: router answers ${s === undefined ? "nothing" : JSON.stringify(tagsOf(s))}`);
    expect(s === undefined ? [] : tagsOf(s)).not.toContain("s3-v1");
  });

  it("(d'') while an unloadable shard exists, the table listener's LDS updates are rejected: no other shard can be added until it is gone", async () => {
    const rejectedBefore = await gw.stat("listener_manager.lds.update_rejected");
    await world.api.applyYaml(pluginYaml({ name: "shard-4", config: { role: "shard", tag: "s3-ok" }, port: tablePort }));
    await pollUntil("an LDS update rejected", async () => ((await gw.stat("listener_manager.lds.update_rejected")) > rejectedBefore ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
    await new Promise((res) => setTimeout(res, 1000));
    const blocked = await probe();
    expect(blocked === undefined ? [] : tagsOf(blocked)).not.toContain("s3-ok");
    const t0 = Date.now();
    await world.api.delete(`${PLUGINS}/shard-3`);
    const after = await untilTags("shard-4 once shard-3 is gone", (t) => t.includes("s3-ok"));
    console.log(`shard-experiment: (d'') shard-4 blocked while shard-3 was unloadable (lds.update_rejected ${await gw.stat("listener_manager.lds.update_rejected")}); arrived ${Date.now() - t0} ms after deleting shard-3; data port served throughout: ${JSON.stringify(tagsOf(after))}`);
  });

  it("(d''') a shard whose onConfigure fails (NACK) blocks the table listener too: updates of existing shards still flow, new shards wait", async () => {
    const rejectedBefore = await gw.stat("listener_manager.lds.update_rejected");
    await world.api.applyYaml(pluginYaml({ name: "shard-5", config: { role: "shard", tag: "s4-rej", reject: "yes" }, port: tablePort }));
    const failName = `extension_config_discovery.http_filter.extensions.istio.io/trafficextension/${SYSTEM_NS}.shard-5~istio-translated-wasmplugin.config_fail`;
    // The LDS update that adds the NACKed shard is accepted (like d'); the next one is not.
    await pollUntil("shard-5's config to be rejected", async () => ((await gw.stat(failName)) > 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 100, onTimeout: () => gw.logTail(20) });
    await world.api.applyYaml(pluginYaml({ name: "shard-6", config: { role: "shard", tag: "s5-after" }, port: tablePort }));
    await pollUntil("an LDS update rejected", async () => ((await gw.stat("listener_manager.lds.update_rejected")) > rejectedBefore ? true : undefined), { timeoutMs: 30_000, intervalMs: 100, onTimeout: () => gw.logTail(20) });
    const r = await world.api.request("PATCH", `${PLUGINS}/shard-0`, { body: { spec: { pluginConfig: { role: "shard", tag: "s0-v2" } } }, contentType: "application/merge-patch+json" });
    expect(r.status, r.text).toBe(200);
    const updated = await untilTags("shard-0's update while the table listener is blocked", (t) => t.includes("s0-v2"));
    await new Promise((res) => setTimeout(res, 1000));
    const blocked = (await probe()) ?? updated;
    expect(tagsOf(blocked)).not.toContain("s5-after");
    expect(tagsOf(blocked)).not.toContain("s4-rej");
    const t0 = Date.now();
    await world.api.delete(`${PLUGINS}/shard-5`);
    const after = await untilTags("shard-6 once shard-5 is gone", (t) => t.includes("s5-after"));
    console.log(`shard-experiment: (d''') NACKing shard-5: lds.update_rejected +${(await gw.stat("listener_manager.lds.update_rejected")) - rejectedBefore}; shard-0's update still arrived; shard-6 waited, then arrived ${Date.now() - t0} ms after deleting shard-5: ${JSON.stringify(tagsOf(after))}`);
    await world.api.delete(`${PLUGINS}/shard-6`);
  });

  it("(e) shards near the bound: 6 × 900 KB WasmPlugins pass etcd and istiod, and one ECDS response of ~5.4 MB reaches Envoy", async () => {
    const pad = "x".repeat(900_000);
    // The same number of tiny shards first: what a shard WasmPlugin costs without its bytes.
    const rssEmpty = gw.rssBytes();
    for (let i = 0; i < 6; i++) await world.api.applyYaml(pluginYaml({ name: `tiny-${i}`, config: { role: "shard", tag: `x${i}-tiny` }, port: tablePort }));
    for (let i = 0; i < 6; i++) {
      const reload = `extension_config_discovery.http_filter.extensions.istio.io/trafficextension/${SYSTEM_NS}.tiny-${i}~istio-translated-wasmplugin.config_reload`;
      await pollUntil(`tiny-${i} configured`, async () => ((await gw.stat(reload)) > 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 100, onTimeout: () => gw.logTail(20) });
    }
    const rssTiny = gw.rssBytes() - rssEmpty;
    const rssBefore = gw.rssBytes();
    const tags = ["s4", "s5", "s6", "s7", "s8", "s9"].map((t) => `${t}-big`);
    const t0 = Date.now();
    for (const [i, tag] of tags.entries()) {
      await world.api.applyYaml(pluginYaml({ name: `big-${i}`, config: { role: "shard", tag, zpad: pad }, port: tablePort }));
    }
    const written = Date.now() - t0;
    // Memory before the router is asked (its answers copy every shard): what the shards cost.
    for (let i = 0; i < tags.length; i++) {
      const reload = `extension_config_discovery.http_filter.extensions.istio.io/trafficextension/${SYSTEM_NS}.big-${i}~istio-translated-wasmplugin.config_reload`;
      await pollUntil(`big-${i} configured`, async () => ((await gw.stat(reload)) > 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 100, onTimeout: () => gw.logTail(20) });
    }
    const rssShards = gw.rssBytes();
    const v8 = JSON.stringify(Object.fromEntries(await gw.stats("^wasm\\.envoy\\.wasm\\.runtime\\.v8\\.(active|created)$")));
    const s = await untilTags("six big shards at the router", (t) => tags.every((x) => t.includes(x)));
    const pushes = world.istiod.log().split("\n").filter((l) => /ECDS: PUSH/.test(l)).slice(-3).map((l) => l.replace(/^\S+\s+/, "").slice(0, 160));
    console.log(`shard-experiment: (e) 6 × 900 KB shards written in ${written} ms, all at the router ${Date.now() - t0} ms after the first write; shared bytes ${s.shared.reduce((n, x) => n + x.length, 0)}; last ECDS pushes ${JSON.stringify(pushes)}`);
    expect(s.shared.filter((c) => c.length > 900_000)).toHaveLength(6);
    // What six 900 KB shards cost the gateway (one worker), measured before the router answered.
    console.log(`shard-experiment: (e) Envoy RSS +${(rssTiny / 1048576).toFixed(1)} MiB for 6 tiny shards, then +${((rssShards - rssBefore) / 1048576).toFixed(1)} MiB for 6 × 0.9 MB shards; v8 ${v8}`);
  });
});
