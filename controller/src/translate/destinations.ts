// route[] destinations → weighted Istio-named clusters. A destination that cannot be resolved
// (no Service, no port, no subset, the gateway itself) makes the whole route answer 503 instead
// of routing: the route keeps its place, so later routes never start taking its traffic.
import type { Service } from "../api/core.ts";
import type { HTTPRouteDestination } from "../api/istio.ts";
import type { ProblemReason } from "../api/problem.ts";
import { MAX_DESTINATIONS, MAX_TOTAL_WEIGHT, type WeightedCluster } from "../../../schema/route-table.ts";
import type { RouteContext } from "./context.ts";
import { translateHeaders } from "./headers.ts";
import { isDnsLabel, normalizeHost, resolveShortName, serviceFqdn } from "./names.ts";

const MAX_WEIGHT = 1_000_000;

/** A cluster the table references, for whoever programs Envoy's clusters. */
export interface ClusterRef {
  cluster: string;
  namespace: string;
  service: string;
  port: number;
  subset?: string;
  /** The subset's pod labels (from its DestinationRule). */
  labels?: Record<string, string>;
}

export type DestinationsOutcome =
  | { ok: true; clusters: WeightedCluster[]; services: Service[]; refs: ClusterRef[] }
  /** `why` is one line for the 503 body. */
  | { ok: false; why: string };

interface Resolved {
  cluster: string;
  headers: WeightedCluster["headers"];
  service: Service;
  ref: ClusterRef;
}

export function translateDestinations(dests: readonly HTTPRouteDestination[], path: string, ctx: RouteContext): DestinationsOutcome {
  const resolved: Resolved[] = [];
  let firstFailure: string | undefined;
  dests.forEach((d, k) => {
    const r = resolveDestination(d, `${path}[${k}]`, ctx);
    if (typeof r === "string") firstFailure ??= r;
    else resolved.push(r);
  });
  if (dests.length === 0) {
    ctx.sink.add(ctx.vs, path, "InvalidRoute", `${path} is empty; a route needs at least one destination. The route answers 503.`);
    return { ok: false, why: "the route has no destination (InvalidRoute)" };
  }
  const weights = checkWeights(dests, path, ctx);
  if (firstFailure !== undefined) return { ok: false, why: firstFailure };
  if (typeof weights === "string") return { ok: false, why: weights };
  const clusters = resolved.map((r, k): WeightedCluster => {
    const wc: WeightedCluster = { cluster: r.cluster, weight: weights[k] as number };
    if (r.headers !== undefined) wc.headers = r.headers;
    return wc;
  });
  return { ok: true, clusters, services: resolved.map((r) => r.service), refs: resolved.map((r) => r.ref) };
}

function fail(ctx: RouteContext, field: string, reason: ProblemReason, message: string, why: string): string {
  ctx.sink.add(ctx.vs, field, reason, `${message} The route answers 503 until this is fixed.`);
  return `${why} (${reason})`;
}

function resolveDestination(d: HTTPRouteDestination, path: string, ctx: RouteContext): Resolved | string {
  const hostField = `${path}.destination.host`;
  const host = normalizeHost(d.destination.host);
  if (!host.ok || host.host.includes("*")) {
    const why = host.ok ? "a destination cannot be a wildcard" : host.error;
    return fail(ctx, hostField, "InvalidHost", `${hostField}: ${JSON.stringify(d.destination.host)} is not a valid destination host: ${why}.`, "invalid destination host");
  }
  const fqdn = resolveShortName(host.host, ctx.vs.metadata.namespace, ctx.clusterDomain);
  const service = ctx.services.byFqdn(fqdn);
  if (service === undefined) return fail(ctx, hostField, "DestinationNotFound", `${hostField}: ${notFound(host.host, fqdn, ctx)}`, `destination ${fqdn} is not a Service`);
  if (service.spec.type === "ExternalName") {
    return fail(ctx, hostField, "DestinationNotFound", `${hostField}: Service ${service.metadata.namespace}/${service.metadata.name} is of type ExternalName, which Canal cannot route to.`, `destination ${fqdn} is an ExternalName Service`);
  }
  const gs = ctx.gatewayService;
  if (service.metadata.namespace === gs.namespace && service.metadata.name === gs.name) {
    return fail(ctx, hostField, "GatewayLoop", `${hostField}: ${fqdn} is the Canal gateway's own Service; routing to it would loop.`, `destination ${fqdn} is the gateway itself`);
  }
  const port = pickPort(d, service, path, ctx);
  if (typeof port === "string") return port;
  const subset = d.destination.subset;
  let labels: Record<string, string> | undefined;
  if (subset !== undefined) {
    const sField = `${path}.destination.subset`;
    if (!isDnsLabel(subset)) return fail(ctx, sField, "SubsetNotFound", `${sField}: ${JSON.stringify(subset)} is not a valid subset name (DNS-1123 label).`, "invalid subset name");
    const found = ctx.subsets.subsets(fqdn, service.metadata.namespace);
    const s = found?.subsets.get(subset);
    if (s === undefined) {
      const which =
        found === undefined
          ? `no DestinationRule visible to the gateway applies to ${fqdn}`
          : `the DestinationRule${found.rules.length > 1 ? "s" : ""} that appl${found.rules.length > 1 ? "y" : "ies"} to ${fqdn} for this gateway (${found.rules.join(", ")}) define${found.rules.length > 1 ? "" : "s"} no subset "${subset}" (${[...found.subsets.keys()].join(", ") || "none"} defined)`;
      return fail(ctx, sField, "SubsetNotFound", `${sField}: ${which}. Define the subset in a DestinationRule for that host exported to the gateway's namespace (rules in the gateway's namespace take precedence over the Service's, then any other).`, `subset ${subset} of ${fqdn} is not defined`);
    }
    labels = { ...s.labels };
  }
  const clusterName = `outbound|${port}|${subset ?? ""}|${fqdn}`;
  const headers = translateHeaders(d.headers, `${path}.headers`, ctx);
  const ref: ClusterRef = { cluster: clusterName, namespace: service.metadata.namespace, service: service.metadata.name, port };
  if (subset !== undefined) ref.subset = subset;
  if (labels !== undefined) ref.labels = labels;
  return { cluster: clusterName, headers, service, ref };
}

function notFound(host: string, fqdn: string, ctx: RouteContext): string {
  // Istio takes a dotted host literally: "reviews.default" or a name under another cluster
  // domain is not the Service, even when one with that name and namespace exists.
  const m = /^([a-z0-9-]+)\.([a-z0-9-]+)(\.svc(\..+)?)?$/.exec(host);
  const svc = m === null ? undefined : ctx.services.get(m[2] as string, m[1] as string);
  const hint = svc === undefined ? "" : ` Did you mean ${serviceFqdn(svc.metadata.name, svc.metadata.namespace, ctx.clusterDomain)}? A dotted host is taken literally, and the cluster domain is ${ctx.clusterDomain}.`;
  return `${JSON.stringify(host)} resolves to ${fqdn}, which is not a Service in the cluster (ServiceEntry hosts are not supported).${hint} Create the Service or fix the host.`;
}

function pickPort(d: HTTPRouteDestination, service: Service, path: string, ctx: RouteContext): number | string {
  const ports = service.spec.ports.map((p) => p.port);
  const svc = `${service.metadata.namespace}/${service.metadata.name}`;
  const wanted = d.destination.port?.number;
  if (wanted !== undefined) {
    if (ports.includes(wanted)) return wanted;
    const f = `${path}.destination.port.number`;
    return fail(ctx, f, "PortNotFound", `${f}: Service ${svc} has no port ${wanted} (it has ${ports.join(", ") || "none"}).`, `${svc} has no port ${wanted}`);
  }
  if (ports.length === 1) return ports[0] as number;
  const f = `${path}.destination.port`;
  const has = ports.length === 0 ? "no ports" : `ports ${ports.join(", ")}`;
  return fail(ctx, f, "PortRequired", `${f}: Service ${svc} has ${has}; name the one to use with destination.port.number.`, `${svc} needs destination.port.number`);
}

/**
 * Istio weights: one destination takes all traffic (weight 100, whatever was written). Several:
 * each weight is an integer ≥ 0 (absent = 0) and they should sum to 100. A sum other than 100 is
 * reported but kept as relative weights (what Envoy does with them); a sum of 0 or a negative or
 * oversized weight cannot be honoured and makes the route answer 503.
 */
function checkWeights(dests: readonly HTTPRouteDestination[], path: string, ctx: RouteContext): number[] | string {
  if (dests.length === 1) return [100];
  // The filter rejects the whole table past these limits, so the route is refused here instead.
  if (dests.length > MAX_DESTINATIONS) {
    return fail(ctx, path, "InvalidRoute", `${path}: ${dests.length} destinations, over the limit of ${MAX_DESTINATIONS} per route; split the traffic in fewer, larger parts.`, "too many destinations");
  }
  const weights = dests.map((d) => d.weight ?? 0);
  const bad = weights.findIndex((w) => w < 0 || w > MAX_WEIGHT);
  if (bad >= 0) {
    const f = `${path}[${bad}].weight`;
    return fail(ctx, f, "InvalidWeight", `${f}: weight ${weights[bad]} is out of range (0 to 1000000; Istio weights are percentages).`, "invalid destination weight");
  }
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum === 0) return fail(ctx, path, "InvalidWeight", `${path}: the weights of the ${dests.length} destinations sum to 0, so none can receive traffic; give each a weight, summing to 100.`, "destination weights sum to 0");
  if (sum > MAX_TOTAL_WEIGHT) {
    return fail(ctx, path, "InvalidWeight", `${path}: the weights of the ${dests.length} destinations sum to ${sum}, over the limit of ${MAX_TOTAL_WEIGHT}; make them sum to 100.`, "destination weights sum over the limit");
  }
  if (sum !== 100) {
    ctx.sink.add(ctx.vs, path, "InvalidWeight", `${path}: the weights of the ${dests.length} destinations sum to ${sum}, not 100; they are applied as relative weights (${weights.join(":")}). Make them sum to 100.`);
  }
  return weights;
}
