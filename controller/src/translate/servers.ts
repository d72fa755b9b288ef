// A Gateway's servers: which hosts they expose to which namespaces, and the ports they listen on.
import type { Gateway } from "../api/istio.ts";
import { TABLE_HOST } from "../../../schema/route-table-shards.ts";
import { isDnsLabel, normalizeHost, parseServerHost, type ServerHost } from "./names.ts";
import type { ProblemSink } from "./problems.ts";

/** Protocols the gateway serves as HTTP. */
const HTTP_PROTOCOLS = ["HTTP", "HTTP2", "GRPC", "H2C"];

export interface ServerPort {
  port: number;
  protocol: string;
  name?: string;
}

export interface Servers {
  hosts: ServerHost[];
  ports: ServerPort[];
}

/** A server exposing only the reserved table host (any namespace prefix). */
function isTableServer(server: Gateway["spec"]["servers"][number]): boolean {
  return server.hosts.length > 0 && server.hosts.every((h) => h.slice(h.indexOf("/") + 1).toLowerCase() === TABLE_HOST);
}

export function readServers(gateway: Gateway, sink: ProblemSink): Servers {
  const hosts: ServerHost[] = [];
  const ports: ServerPort[] = [];
  gateway.spec.servers.forEach((server, i) => {
    // The gateway's loopback table server (ADR 0005) carries the shard WasmPlugins, never routes:
    // neither its port nor its reserved host is the table's.
    if (isTableServer(server)) return;
    const protocol = server.port.protocol.toUpperCase();
    if (!HTTP_PROTOCOLS.includes(protocol)) {
      sink.add(gateway, `spec.servers[${i}].port.protocol`, "UnsupportedField", `spec.servers[${i}].port.protocol: ${server.port.protocol} is not served by Canal (HTTP, HTTP2 and GRPC are); this server's hosts are not exposed. Use protocol HTTP.`);
      return;
    }
    if (!ports.some((p) => p.port === server.port.number)) {
      ports.push(server.port.name === undefined ? { port: server.port.number, protocol } : { port: server.port.number, protocol, name: server.port.name });
    }
    server.hosts.forEach((raw, j) => {
      const field = `spec.servers[${i}].hosts[${j}]`;
      const sh = parseServerHost(raw, gateway.metadata.namespace);
      const h = normalizeHost(sh.host);
      if (!h.ok || (sh.namespace !== "*" && !isDnsLabel(sh.namespace))) {
        const why = h.ok ? `"${sh.namespace}" is not a namespace` : h.error;
        sink.add(gateway, field, "InvalidHost", `${field}: ${JSON.stringify(raw)} is not a valid server host (${why}); it exposes nothing. Use "host", "namespace/host", "./host" or "*/host".`);
        return;
      }
      hosts.push({ namespace: sh.namespace, host: h.host });
    });
  });
  ports.sort((a, b) => a.port - b.port);
  return { hosts, ports };
}
