// `canal status` against a real API server: the controller (a real process, ECDS mode) and a
// real Envoy gateway; status shows Accepted/Programmed, the table version the gateway ACKed and
// the rejected objects, as text and as JSON. The table version equals `canal compile`'s for
// the same files: file mode and cluster mode translate alike.
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AdsGateway, startAdsGateway, Upstreams } from "../ecds/harness.ts";
import { startKubeApi, type KubeApi } from "../support/k8s.ts";
import { freePort, LOOPBACK } from "../support/ports.ts";
import { pollUntil, spawnTracked, stopTracked } from "../support/processes.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import type { GatewayStatusView } from "../../controller/src/cli/status-command.ts";
import { canal, CANAL, REPO } from "./run.ts";

const EXAMPLE = join(REPO, "examples", "helloworld");
const BAD_VS_FILE = join(REPO, "test/cli/testdata/bad-regex.yaml");

let api: KubeApi;
let controller: ChildProcess | undefined;
let gw: AdsGateway | undefined;
const logs: string[] = [];

beforeAll(async () => {
  const wasmPath = ensureCanalWasm();
  api = await startKubeApi({ name: "cli-status" });
  await api.prepareForCanal();
  const adsPort = await freePort();
  controller = spawnTracked(process.execPath, [CANAL, "controller", "--kubeconfig", api.kubeconfigPath, "--no-wasmplugin", "--ecds-address", `${LOOPBACK}:${adsPort}`,
    "--wasm-path", wasmPath, "--metrics-address", `${LOOPBACK}:0`, "--lease-duration", "4", "--identity", "cli-status"], { stdio: ["ignore", "pipe", "pipe"] });
  controller.stdout?.on("data", (d: Buffer) => logs.push(d.toString()));
  controller.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
  for (const f of readdirSync(EXAMPLE).sort()) await api.applyYaml(readFileSync(join(EXAMPLE, f), "utf8"));
  await api.applyYaml(readFileSync(BAD_VS_FILE, "utf8"));
  gw = await startAdsGateway({ nodeId: "gw-status", nodeCluster: "istio-system/canal", wasmPath, adsPort, upstreams: new Upstreams(new Map()) });
}, 300_000);

afterAll(async () => {
  await gw?.stop();
  if (controller) await stopTracked(controller);
  await api?.stop();
});

async function statusJson(args: string[] = []): Promise<GatewayStatusView[]> {
  const r = await canal(["status", "--kubeconfig", api.kubeconfigPath, "-o", "json", ...args]);
  if (r.code !== 0) throw new Error(`canal status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as GatewayStatusView[];
}

it("shows Programmed once the gateway ACKed, the table version, counts and the rejected objects", async () => {
  const view = await pollUntil("Programmed=True in canal status", async () => {
    const v = (await statusJson())[0];
    return v?.programmed?.status === "True" && v.gateways[0]?.acked ? v : undefined;
  }, { timeoutMs: 90_000, intervalMs: 500, onTimeout: () => logs.slice(-15).join("") });
  expect(view.namespace + "/" + view.name).toBe("istio-system/canal");
  expect(view.gatewayRef).toBe("istio-system/canal");
  expect(view.accepted?.status).toBe("True");
  expect(view.programmed?.reason).toBe("Acknowledged");
  expect(view.tableVersion).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(view.gateways).toEqual([{ name: "gw-status", tableVersion: view.tableVersion, acked: true }]);
  expect(view.hosts).toBe(5); // helloworld + its 3 aliases, rx.example.com
  expect(view.routes).toBe(3);
  const reasons = view.rejected.map((p) => `${p.kind} ${p.namespace}/${p.name} ${p.field} ${p.reason}`);
  expect(reasons).toContain("VirtualService istio-system/rx spec.http[0].match[0].uri.regex InvalidRegex");
  expect(view.rejectedCount).toBe(view.rejected.length);

  // The same files compiled locally give the same table.
  const compiled = await canal(["compile", "-q", "--allow-rejected", "--gateway", "istio-system/canal", EXAMPLE, BAD_VS_FILE]);
  expect((JSON.parse(compiled.stdout) as { version: string }).version).toBe(view.tableVersion);

  const text = await canal(["status", "--kubeconfig", api.kubeconfigPath, "-n", "istio-system"]);
  expect(text.code).toBe(0);
  const lines = text.stdout.split("\n");
  expect(lines[0]).toBe("InternalGateway istio-system/canal (Gateway istio-system/canal)");
  expect(lines[1]).toMatch(/^ {2}Accepted {4}True {3}Accepted: /);
  expect(lines[2]).toBe(`  Programmed  True   Acknowledged: all 1 gateways run table ${view.tableVersion}`);
  expect(lines[3]).toBe(`  table       ${view.tableVersion}  hosts 5  routes 3`);
  expect(lines[4]).toBe("  gateways    1 reported, 1 acked the current table");
  expect(lines[5]).toBe(`    gw-status  runs ${view.tableVersion?.slice(0, 19)}  ACKED`);
  expect(lines[6]).toBe(`  rejected    ${view.rejectedCount}`);
  expect(lines).toContain(`    VirtualService istio-system/rx spec.http[0].match[0].uri.regex: InvalidRegex: ${view.rejected.find((p) => p.reason === "InvalidRegex")?.message}`);
}, 120_000);

it("Programmed turns False when the gateway goes away, and -n/-A filter", async () => {
  await gw?.stop();
  gw = undefined;
  const view = await pollUntil("Programmed=False (NoGateways)", async () => {
    const v = (await statusJson(["-A"]))[0];
    return v?.programmed?.reason === "NoGateways" ? v : undefined;
  }, { timeoutMs: 60_000, intervalMs: 500, onTimeout: () => logs.slice(-15).join("") });
  expect(view.programmed?.status).toBe("False");
  const text = await canal(["status", "--kubeconfig", api.kubeconfigPath]);
  expect(text.stdout).toContain("  Programmed  False  NoGateways: no gateway is connected for istio-system/canal");
  const none = await canal(["status", "--kubeconfig", api.kubeconfigPath, "-n", "default"]);
  expect([none.code, none.stdout]).toEqual([0, "no InternalGateways in namespace default\n"]);
  expect(await statusJson(["-n", "default"])).toEqual([]);
}, 90_000);

it("an unreachable API server: one line, exit 1", async () => {
  const r = await canal(["status", "--kubeconfig", join(REPO, "no-such-kubeconfig")]);
  expect(r.code).toBe(1);
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(/^canal status: cannot load kubeconfig .*no-such-kubeconfig/);
}, 30_000);
