// Runs the golden translate cases through the oracle (test/oracle/golden.ts plans them): per case,
// its backends, DestinationRules and VirtualServices are applied, both gateways are waited for,
// each derived request goes through istiod's native gateway and through Canal, and then every
// object of the case is deleted again, so later cases and the random corpus see only their own
// Services (ambiguous short names depend on which Services exist).
//
// A difference on a VirtualService Canal refuses (its translation reports a problem for it) is
// counted as explained by that refusal: Istio serves what it can of such objects, Canal refuses
// them with a reason (docs/istio-compat.md, "Golden cases").

import { KubeApiError, type KubeObject } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";
import { LOOPBACK } from "../support/ports.ts";
import { explain, type Divergence } from "./compare.ts";
import { GATEWAYS, PROBE_HEADER, type RequestShape } from "./generator.ts";
import { goldenPlans, type GoldenCase } from "./golden.ts";
import type { Oracle, OracleReport } from "./run.ts";

/** A Service of its own namespace, present for the whole golden run: every case's convergence marker. */
const MARKER = { name: "golden-marker", namespace: "golden", port: 9080 };
const MARKER_HOST = `${MARKER.name}.${MARKER.namespace}.svc.cluster.local`;

export interface GoldenSummary {
  compared: string[];
  excluded: Map<string, string>;
  /** Per case: VirtualServices not compared, with why. */
  notCompared: string[];
  /** Divergences explained by a Canal refusal, by reason. */
  refusals: Map<string, number>;
}

function markerVs(probe: string): KubeObject {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: MARKER.name, namespace: MARKER.namespace },
    spec: {
      hosts: [MARKER.name],
      gateways: GATEWAYS.filter((g) => g !== "mesh"),
      http: [{ match: [{ headers: { [PROBE_HEADER]: { exact: probe } } }], directResponse: { status: 200, body: { string: probe } } }, { route: [{ destination: { host: MARKER.name } }] }],
    },
  };
}

async function waitFor(oracle: Oracle, what: string, probe: string, port: number, timeoutMs: number): Promise<void> {
  const shape: RequestShape = { method: "GET", path: "/", headers: { [PROBE_HEADER]: probe }, intent: "probe" };
  await pollUntil(`${what} to serve ${MARKER_HOST} (probe ${probe})`, async () => ((await oracle.send(LOOPBACK, port, MARKER_HOST, shape)).body === probe ? true : undefined), {
    timeoutMs,
    intervalMs: 50,
    onTimeout: () => oracle.world.controllers[0]?.tail(10) ?? "",
  });
}

/** Istio pushes some objects Envoy refuses (a NACK): the native gateway then keeps its previous routes. */
const NATIVE_NACK =
  "the native gateway never served the case: Envoy refused the routes istiod generated for it (NACK) and kept its previous ones, while Canal refuses only the offending fields (istio-compat.md, 'Golden cases')";

/** The world's InternalGateway (the control chart's). */
const WORLD_IG = "/apis/canal.io/v1alpha1/namespaces/istio-system/internalgateways/canal";

type InternalGatewayObject = KubeObject & { spec: { hostGrants?: unknown[] } };

async function setHostGrants(oracle: Oracle, grants: unknown[]): Promise<void> {
  const ig = await oracle.world.api.get<InternalGatewayObject>(WORLD_IG);
  await oracle.world.api.apply([{ apiVersion: ig.apiVersion, kind: ig.kind, metadata: { name: ig.metadata.name, namespace: ig.metadata.namespace }, spec: { ...ig.spec, hostGrants: grants } }]);
}

async function runCase(oracle: Oracle, c: GoldenCase, report: OracleReport, summary: GoldenSummary): Promise<void> {
  const created: KubeObject[] = [];
  // The case's own grants join the chart's for as long as the case runs (its InternalGateway is not applied).
  const chartGrants = (await oracle.world.api.get<InternalGatewayObject>(WORLD_IG)).spec.hostGrants ?? [];
  if (c.hostGrants.length > 0) await setHostGrants(oracle, [...chartGrants, ...c.hostGrants]);
  try {
    for (const b of c.backends) {
      await oracle.world.addBackend(b.name, b.namespace, b.port, b.versions);
      created.push({ apiVersion: "v1", kind: "Service", metadata: { name: b.name, namespace: b.namespace } });
      for (const v of b.versions) created.push({ apiVersion: "networking.istio.io/v1", kind: "WorkloadEntry", metadata: { name: v === "" ? b.name : `${b.name}-${v}`, namespace: b.namespace } });
    }
    const objects = c.objects as KubeObject[];
    created.push(...objects);
    const refusedByApi = new Set<string>();
    for (const o of objects) {
      await oracle.world.ensureNamespace(o.metadata.namespace ?? "default");
      try {
        await oracle.world.api.apply([o]);
      } catch (err) {
        // The CRD's schema refuses it: neither istiod nor Canal ever sees the object.
        if (!(err instanceof KubeApiError) || err.status !== 422) throw err;
        refusedByApi.add(`${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);
        summary.notCompared.push(`${c.name}: ${o.kind} ${o.metadata.namespace}/${o.metadata.name}: the API server refuses it (CRD schema)`);
      }
    }
    // Applied last: once a gateway serves the marker's new probe, its configuration includes the
    // case (istiod pushes whole snapshots; Canal's table is one version).
    const marker = `golden-${c.name}`;
    await oracle.world.api.apply([markerVs(marker)]);
    await waitFor(oracle, `${c.name}: canal`, marker, oracle.canalPort, 60_000);
    try {
      await waitFor(oracle, `${c.name}: native gateway`, marker, oracle.nativeGateway.port, 15_000);
    } catch {
      summary.excluded.set(c.name, NATIVE_NACK);
      return;
    }
    const names = c.backends.map((b) => b.name);
    const ambiguousNames = new Set(names.filter((n, i) => names.indexOf(n) !== i));
    let requests = 0;
    for (const vs of c.virtualServices) {
      if (refusedByApi.has(`VirtualService ${vs.key}`)) continue;
      for (const r of vs.requests) {
        requests += 1;
        const { native, canal, fields } = await oracle.sendBoth(LOOPBACK, oracle.nativeGateway.port, r.host, r.shape, vs.splits, report);
        if (fields.length === 0) continue;
        const d: Divergence = { config: `golden ${c.name} ${vs.key}`, intent: r.shape.intent, via: "gateway", host: r.host, method: r.shape.method, path: r.shape.path, fields, native, canal };
        const bare = r.host.toLowerCase().replace(/:\d+$/, "");
        const reason =
          explain(d, { host: r.host, ambiguousNames }) ??
          (c.contestedHosts.includes(bare) ? "host ownership: Canal refuses a claim on this host that Istio honours (istio-compat.md, 'Who may route a host')" : undefined) ??
          (vs.refusals.length > 0 ? `Canal refuses the object (${vs.refusals.join(", ")}) (istio-compat.md, 'Golden cases')` : undefined);
        if (reason === undefined) report.unexplained.push(d);
        else {
          report.explained.set(reason, (report.explained.get(reason) ?? 0) + 1);
          for (const x of vs.refusals) summary.refusals.set(x, (summary.refusals.get(x) ?? 0) + 1);
        }
      }
    }
    if (requests === 0) {
      summary.excluded.set(c.name, `nothing to compare: ${summary.notCompared.filter((n) => n.startsWith(`${c.name}: `)).map((n) => n.slice(c.name.length + 2)).join("; ")}`);
      return;
    }
    report.configs += 1;
    summary.compared.push(c.name);
  } finally {
    if (c.hostGrants.length > 0) await setHostGrants(oracle, chartGrants);
    for (const o of created.reverse()) {
      await oracle.world.api.delete(await oracle.world.api.resourcePath(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name));
    }
  }
}

/** Every golden case through the oracle; call it before the pool exists (its Services would collide). */
export async function runGolden(oracle: Oracle, report: OracleReport, log?: (line: string) => void): Promise<GoldenSummary> {
  const summary: GoldenSummary = { compared: [], excluded: new Map(), notCompared: [], refusals: new Map() };
  await oracle.world.addBackend(MARKER.name, MARKER.namespace, MARKER.port);
  for (const [name, plan] of goldenPlans()) {
    if ("excluded" in plan) {
      summary.excluded.set(name, plan.excluded);
      continue;
    }
    summary.notCompared.push(...plan.case.notCompared.map((n) => `${name}: ${n}`));
    await runCase(oracle, plan.case, report, summary);
    log?.(`golden ${name}: ${report.compared} compared, ${report.unexplained.length} unexplained so far`);
  }
  return summary;
}
