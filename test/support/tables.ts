// Small builders for route tables in tests (the shape is schema/route-table.ts).

import type { Route, RouteTable, VirtualHost, WeightedCluster } from "../../schema/route-table.ts";
import { clusterName } from "./gateway.ts";

export function table(version: string, virtualHosts: VirtualHost[], extra: Partial<RouteTable> = {}): RouteTable {
  return { format: 1, version, virtualHosts, ...extra };
}

export function vhost(name: string, domains: string[], routes: Route[]): VirtualHost {
  return { name, domains, routes };
}

/** A single destination: the test service's cluster. */
export function to(service: string, extra: Partial<WeightedCluster> = {}): WeightedCluster[] {
  return [{ cluster: clusterName(service), ...extra }];
}
