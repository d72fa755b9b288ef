// Measurement on Envoy's side: its ECDS stats, the table it runs (config dump) and the version
// its workers serve (a probe's x-canal-table).

import type { RouteTable } from "../../schema/route-table.ts";
import type { EnvoyProcess } from "../../test/support/envoy.ts";
import { PROBE_HOST, PROBE_PATH } from "../../test/support/gateway.ts";
import { request } from "../../test/support/http.ts";

const ECDS_STAT = "extension_config_discovery.http_filter.canal.";

export async function ecdsStats(envoy: EnvoyProcess): Promise<{ success: number; rejected: number }> {
  const s = await envoy.stats(`^${ECDS_STAT.replace(/\./g, "\\.")}update_`);
  return { success: s.get(`${ECDS_STAT}update_success`) ?? 0, rejected: s.get(`${ECDS_STAT}update_rejected`) ?? 0 };
}

/** ecdsStats, or undefined while the admin interface does not answer (main thread busy parsing). */
export async function ecdsStatsOrBusy(envoy: EnvoyProcess): Promise<{ success: number; rejected: number } | undefined> {
  try {
    return await ecdsStats(envoy);
  } catch {
    return undefined;
  }
}

/** The table Envoy runs, from /config_dump?resource=ecds_filters (the canal filter's StringValue). */
export async function envoyTable(envoy: EnvoyProcess): Promise<{ table: RouteTable; bytes: number } | undefined> {
  const dump: unknown = JSON.parse(await envoy.admin("/config_dump?resource=ecds_filters"));
  let found: string | undefined;
  const walk = (v: unknown): void => {
    if (found !== undefined || typeof v !== "object" || v === null) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    const o = v as Record<string, unknown>;
    if (typeof o["@type"] === "string" && o["@type"].endsWith("google.protobuf.StringValue") && typeof o.value === "string") {
      found = o.value;
      return;
    }
    for (const x of Object.values(o)) walk(x);
  };
  walk(dump);
  if (found === undefined || found === "") return undefined;
  return { table: JSON.parse(found) as RouteTable, bytes: Buffer.byteLength(found) };
}

export async function servingVersion(port: number): Promise<string | undefined> {
  const res = await request({ port, host: PROBE_HOST, path: PROBE_PATH, timeoutMs: 10_000 });
  const v = res.headers["x-canal-table"];
  return Array.isArray(v) ? v[0] : v;
}
