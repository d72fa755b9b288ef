// What the per-route translators share while translating one VirtualService for one gateway.
import type { IgnoredField } from "../api/meta.ts";
import type { VirtualService } from "../api/istio.ts";
import type { ProblemSink } from "./problems.ts";
import type { ServiceLookup } from "./services.ts";
import type { SubsetLookup } from "./subsets.ts";

/** Checks a regex with the filter's engine: null when it compiles, else the engine's message. */
export type RegexValidator = (pattern: string) => string | null;

/** Everything route translation reads besides the VirtualService itself (one gateway's view). */
export interface RouteEnv {
  /** "namespace/name" of the Istio Gateway being translated. */
  gatewayKey: string;
  clusterDomain: string;
  validateRegex: RegexValidator;
  services: ServiceLookup;
  subsets: SubsetLookup;
  /** The Service in front of the gateway pods: never a destination (it would loop). */
  gatewayService: { namespace: string; name: string };
}

export interface RouteContext extends RouteEnv {
  vs: VirtualService;
  sink: ProblemSink;
}

/** Ignored fields of the VirtualService at `prefix` or below it. */
export function ignoredAt(vs: VirtualService, prefix: string): IgnoredField[] {
  return (vs.ignoredFields ?? []).filter(
    (f) => f.path === prefix || f.path.startsWith(`${prefix}.`) || f.path.startsWith(`${prefix}[`),
  );
}
