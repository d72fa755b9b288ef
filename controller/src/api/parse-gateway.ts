// Istio Gateway and DestinationRule specs.
import type { DestinationRuleSpec, GatewayServer, GatewaySpec, Subset } from "./istio.ts";
import { opt, type Reader } from "./reader.ts";
import { TABLE_HOST } from "../../../schema/route-table-shards.ts";

export function parseGatewaySpec(r: Reader, v: unknown): GatewaySpec | undefined {
  const o = r.object(v, "spec", ["selector", "servers"]);
  if (o === undefined) return undefined;
  return {
    selector: opt(o, "selector", "spec", (x, p) => r.stringMap(x, p)) ?? {},
    servers: opt(o, "servers", "spec", (x, p) => r.array(x, p, (s, sp) => server(r, s, sp))) ?? [],
  };
}

/** The gateway's loopback table server (ADR 0005) binds 127.0.0.1 by design: its `bind` is no ignored field. */
function isTableServer(v: unknown): boolean {
  const hosts = v !== null && typeof v === "object" ? (v as { hosts?: unknown }).hosts : undefined;
  return Array.isArray(hosts) && hosts.length > 0 && hosts.every((h) => typeof h === "string" && h.slice(h.indexOf("/") + 1).toLowerCase() === TABLE_HOST);
}

function server(r: Reader, v: unknown, path: string): GatewayServer | undefined {
  const o = r.object(v, path, isTableServer(v) ? ["name", "port", "hosts", "bind"] : ["name", "port", "hosts"], ["bind", "tls", "defaultEndpoint"]);
  if (o === undefined) return undefined;
  const port = opt(o, "port", path, (x, p) => {
    const po = r.object(x, p, ["number", "protocol", "name"], ["targetPort"]);
    if (po === undefined) return undefined;
    const number = opt(po, "number", p, (n, np) => r.integer(n, np));
    const protocol = opt(po, "protocol", p, (n, np) => r.string(n, np));
    if (number === undefined) return r.fail(`${p}.number`, "required");
    if (protocol === undefined) return r.fail(`${p}.protocol`, "required");
    const name = opt(po, "name", p, (n, np) => r.string(n, np));
    return name === undefined ? { number, protocol } : { number, protocol, name };
  });
  if (port === undefined) return r.fail(`${path}.port`, "required");
  const out: GatewayServer = { port, hosts: opt(o, "hosts", path, (x, p) => r.stringList(x, p)) ?? [] };
  const name = opt(o, "name", path, (x, p) => r.string(x, p));
  if (name !== undefined) out.name = name;
  return out;
}

export function parseDestinationRuleSpec(r: Reader, v: unknown): DestinationRuleSpec | undefined {
  const o = r.object(v, "spec", ["host", "subsets", "exportTo", "workloadSelector"], ["trafficPolicy"]);
  if (o === undefined) return undefined;
  const host = opt(o, "host", "spec", (x, p) => r.string(x, p));
  if (host === undefined) return r.fail("spec.host", "required");
  const out: DestinationRuleSpec = {
    host,
    subsets: opt(o, "subsets", "spec", (x, p) => r.array(x, p, (s, sp) => subset(r, s, sp))) ?? [],
    exportTo: opt(o, "exportTo", "spec", (x, p) => r.stringList(x, p)) ?? [],
  };
  const ws = opt(o, "workloadSelector", "spec", (x, p) => {
    const wo = r.object(x, p, ["matchLabels"]);
    return wo && { matchLabels: opt(wo, "matchLabels", p, (m, mp) => r.stringMap(m, mp)) ?? {} };
  });
  if (ws !== undefined) out.workloadSelector = ws;
  return out;
}

function subset(r: Reader, v: unknown, path: string): Subset | undefined {
  const o = r.object(v, path, ["name", "labels"], ["trafficPolicy"]);
  if (o === undefined) return undefined;
  const name = opt(o, "name", path, (x, p) => r.string(x, p));
  if (name === undefined) return r.fail(`${path}.name`, "required");
  return { name, labels: opt(o, "labels", path, (x, p) => r.stringMap(x, p)) ?? {} };
}
