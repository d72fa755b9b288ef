// The loopback table server of sharded WasmPlugin delivery (ADR 0005) with real helm: the gateway
// chart's Gateway gets `canal-table.invalid` on 127.0.0.1:<tablePort>, never a Service or container
// port; the controller's rendered flags carry the same port; the translator ignores that server.
import { describe, expect, it } from "vitest";
import { parseControllerFlags } from "../../controller/src/cli.ts";
import type { Gateway } from "../../controller/src/api/istio.ts";
import { ProblemSink } from "../../controller/src/translate/problems.ts";
import { readServers } from "../../controller/src/translate/servers.ts";
import { TABLE_HOST } from "../../schema/route-table-shards.ts";
import { CONTROL_CHART, find, GATEWAY_CHART, helm, SEED_CONTROL_SETS, sets, template } from "./helm.ts";

const NS = "istio-system";
type Server = { port: { number: number; name: string; protocol: string }; bind?: string; hosts: string[] };

async function gatewayServers(args: string[]): Promise<{ servers: Server[]; gateway: Gateway; servicePorts: number[] }> {
  const objects = await template(GATEWAY_CHART, "canal", NS, ["--set", "istioGateway.enabled=true", ...args]);
  const gateway = find(objects, "Gateway") as unknown as Gateway;
  const servicePorts = ((find(objects, "Service").spec as { ports: Array<{ port: number }> }).ports).map((p) => p.port);
  return { servers: gateway.spec.servers as Server[], gateway, servicePorts };
}

describe("gateway chart: the table server", () => {
  it("is on 127.0.0.1:15099 with the reserved host by default, and not in the Service", async () => {
    const { servers, servicePorts } = await gatewayServers([]);
    const table = servers.filter((s) => s.port.name === "canal-table");
    expect(table).toEqual([{ port: { number: 15099, name: "canal-table", protocol: "HTTP" }, bind: "127.0.0.1", hosts: [TABLE_HOST] }]);
    expect(servicePorts).not.toContain(15099);
  });

  it("the translator reads only the data servers from the rendered Gateway", async () => {
    const { gateway, servicePorts } = await gatewayServers(["--set", "istioGateway.tablePort=15199"]);
    const sink = new ProblemSink();
    expect(readServers(gateway, sink).ports.map((p) => p.port)).toEqual(servicePorts);
    expect(sink.list).toEqual([]);
  });

  it("tablePort 0 renders no table server", async () => {
    const { servers } = await gatewayServers(["--set", "istioGateway.tablePort=0"]);
    expect(servers.some((s) => s.hosts.includes(TABLE_HOST))).toBe(false);
  });

  it.each([
    ["in Istio's reserved range", ["--set", "istioGateway.tablePort=15021"], "istioGateway.tablePort 15021 is in Istio's reserved range 15000-15090"],
    ["equal to a Service port", ["--set", "istioGateway.tablePort=5000"], 'istioGateway.tablePort 5000 is also service.ports "http-5000"'],
    ["out of range", ["--set", "istioGateway.tablePort=70000"], "/istioGateway/tablePort"],
  ])("a tablePort %s is refused", async (_what, args, message) => {
    const r = await helm(["template", "x", GATEWAY_CHART, "-n", NS, "--set", "istioGateway.enabled=true", ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
  });
});

describe("canal-control chart: shard flags", () => {
  it("wasm.shards and wasm.tablePort reach the controller's parser", async () => {
    const objects = await template(CONTROL_CHART, "canal-control", NS, sets({ ...SEED_CONTROL_SETS, "wasm.shards": "never", "wasm.tablePort": "15199" }));
    const d = find(objects, "Deployment", "canal-controller") as unknown as { spec: { template: { spec: { containers: Array<{ name: string; args: string[] }> } } } };
    const args = d.spec.template.spec.containers.find((c) => c.name === "controller")?.args ?? [];
    const config = parseControllerFlags(args.slice(1));
    if (config === "help") throw new Error("unexpected --help");
    expect(config.wasmPlugin).toMatchObject({ shards: "never", tablePort: 15199 });
  });

  it("EnvoyFilter mode renders no shard flags (the parser would refuse them)", async () => {
    const objects = await template(CONTROL_CHART, "canal-control", NS, sets({ ...SEED_CONTROL_SETS, "delivery.mode": "envoyfilter" }));
    const d = find(objects, "Deployment", "canal-controller") as unknown as { spec: { template: { spec: { containers: Array<{ name: string; args: string[] }> } } } };
    const args = d.spec.template.spec.containers.find((c) => c.name === "controller")?.args ?? [];
    expect(args.some((a) => a.startsWith("--wasmplugin-"))).toBe(false);
    expect(parseControllerFlags(args.slice(1))).not.toBe("help");
  });

  it("a misspelled mode is refused by the values schema", async () => {
    const r = await helm(["template", "x", CONTROL_CHART, "-n", NS, ...sets({ ...SEED_CONTROL_SETS, "wasm.shards": "sometimes" })]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("/wasm/shards");
  });
});
