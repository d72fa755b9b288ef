// Shared by the filter-* security tests: translate a few Istio objects (the real translator with
// the filter's own regex check) and start the real filter on a table.
import { parseObjects } from "../../controller/src/api/parse.ts";
import type { Problem } from "../../controller/src/api/problem.ts";
import { translate, type RegexValidator } from "../../controller/src/translate/index.ts";
import { buildRegexCheck } from "../../controller/src/translate/regex-check/build.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import type { RouteTable } from "../../schema/route-table.ts";
import { canalGatewayObjects } from "../support/gateway-objects.ts";

let validator: RegexValidator | null = null;

function regexValidator(): RegexValidator {
  if (validator === null) {
    buildRegexCheck();
    validator = loadRegexValidator();
  }
  return validator;
}

/** A gateway for every host in istio-system, and the Services `services` ("ns/name") on port 8080. */
function base(services: string[]): unknown[] {
  const objs: unknown[] = canalGatewayObjects(80);
  for (const s of services) {
    const [namespace, name] = s.split("/") as [string, string];
    objs.push({ apiVersion: "v1", kind: "Service", metadata: { name, namespace }, spec: { ports: [{ port: 8080, name: "http" }] } });
  }
  return objs;
}

export interface Translated {
  table: RouteTable;
  problems: Problem[];
}

/**
 * Translates one VirtualService `default/vs` (its `spec.http`) for the host `reviews` (the
 * Service default/reviews, plus `extraServices`) bound to the gateway.
 */
export function translateHttp(http: unknown[], extraServices: string[] = []): Translated {
  const vs = {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "vs", namespace: "default", creationTimestamp: "2024-02-01T00:00:00Z" },
    spec: { hosts: ["reviews"], gateways: ["istio-system/canal"], http },
  };
  const parsed = parseObjects([...base(["default/reviews", ...extraServices]), vs]);
  if (parsed.problems.length > 0) throw new Error(`objects do not parse: ${parsed.problems.map((p) => p.message).join("; ")}`);
  const result = translate(parsed.snapshot, { validateRegex: regexValidator() });
  const gw = result.gateways[0];
  if (gw === undefined) throw new Error("no gateway in the translation");
  return { table: gw.table, problems: result.problems };
}

/** A table of one virtual host `reviews` with the given routes. */
export function tableOf(routes: unknown[], version = "v1"): Record<string, unknown> {
  return { format: 1, version, virtualHosts: [{ name: "default/reviews", domains: ["reviews"], routes }] };
}
