// Route tables for the sharded-mode tests and bench/shards-configure.ts (no test runner imports).
import type { VirtualHost } from "../../schema/route-table.ts";
import { to, vhost } from "../support/tables.ts";

/**
 * `n` controller-shaped virtual hosts (bench/controller.ts's shape): VirtualService ns/svc-i with
 * the FQDN and three short names, an /api/ prefix route with a timeout to svc-i-<tag>, a catch-all
 * route to svc-i.
 */
export function services(n: number, tag = "v1"): VirtualHost[] {
  return Array.from({ length: n }, (_, i) =>
    vhost(`ns/svc-${i}`, [`svc-${i}.ns.svc.cluster.local`, `svc-${i}.ns.svc`, `svc-${i}.ns`, `svc-${i}`], [
      { match: [{ uri: { prefix: "/api/" } }], route: to(`svc-${i}-${tag}`), timeoutMs: 5000 },
      { route: to(`svc-${i}`) },
    ]),
  );
}
