// The gateway's loopback table server (ADR 0005: `canal-table.invalid` on the table port, where the
// shard WasmPlugins attach) is no server of the route table: its port is no data port and its
// reserved host exposes nothing.
import { describe, expect, it } from "vitest";
import type { Gateway } from "../api/istio.ts";
import { TABLE_HOST } from "../../../schema/route-table-shards.ts";
import { ProblemSink } from "./problems.ts";
import { readServers } from "./servers.ts";
import { parseObject } from "../api/parse.ts";

function gateway(servers: Gateway["spec"]["servers"]): Gateway {
  return { apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { namespace: "istio-system", name: "canal" }, spec: { selector: { app: "canal-gateway" }, servers } } as Gateway;
}

describe("the table server", () => {
  it("is ignored: its port is not a data port and its host is not exposed", () => {
    const sink = new ProblemSink();
    const s = readServers(
      gateway([
        { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*/*.svc.cluster.local"] },
        { port: { number: 15099, name: "canal-table", protocol: "HTTP" }, hosts: [TABLE_HOST] },
      ]),
      sink,
    );
    expect(s.ports).toEqual([{ port: 80, protocol: "HTTP", name: "http" }]);
    expect(s.hosts.map((h) => h.host)).toEqual(["*.svc.cluster.local"]);
    expect(sink.list).toEqual([]);
  });

  it("is recognised with a namespace prefix and in any case", () => {
    const s = readServers(gateway([{ port: { number: 15099, name: "t", protocol: "HTTP" }, hosts: ["./CANAL-TABLE.invalid", `*/${TABLE_HOST}`] }]), new ProblemSink());
    expect(s).toEqual({ hosts: [], ports: [] });
  });

  it("a server that also exposes other hosts is an ordinary server", () => {
    const s = readServers(gateway([{ port: { number: 8080, name: "h", protocol: "HTTP" }, hosts: [TABLE_HOST, "a.example.com"] }]), new ProblemSink());
    expect(s.ports.map((p) => p.port)).toEqual([8080]);
    expect(s.hosts.map((h) => h.host)).toEqual([TABLE_HOST, "a.example.com"]);
  });
});

describe("parsing the chart's Gateway", () => {
  const raw = (bindOn: "table" | "data") => ({
    apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { namespace: "istio-system", name: "canal" },
    spec: { selector: { app: "canal-gateway" }, servers: [
      { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"], ...(bindOn === "data" ? { bind: "10.0.0.1" } : {}) },
      { port: { number: 15099, name: "canal-table", protocol: "HTTP" }, bind: "127.0.0.1", hosts: [TABLE_HOST] },
    ] },
  });

  it("the table server's bind is expected, not an ignored field (no UnsupportedField problem)", () => {
    const out = parseObject(raw("table"));
    expect(out.status).toBe("ok");
    expect(out.status === "ok" ? out.object.ignoredFields : "x").toBeUndefined();
  });

  it("bind on a data server is still reported", () => {
    const out = parseObject(raw("data"));
    expect(out.status === "ok" ? out.object.ignoredFields?.map((f) => f.path) : []).toEqual(["spec.servers[0].bind"]);
  });
});
