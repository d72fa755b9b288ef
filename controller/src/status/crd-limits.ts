// The InternalGateway status as the CRD admits it: every string cut to its maxLength, every list
// to its maxItems (charts/canal-control/crds/internalgateway.yaml). The API server refuses the
// whole status patch for one value over a cap, and gateway node ids, reported versions and NACK
// text come from clients, so without this one hostile value would stop every later status write.
import { createHash } from "node:crypto";
import { truncate } from "../sinks/ecds/limits.ts";
import type { InternalGatewayStatus } from "./status-writer.ts";

/** The caps of the CRD's status schema (a test checks them against the CRD file). */
export const STATUS_LIMITS = {
  conditions: 8,
  conditionMessage: 32768,
  tableVersion: 128,
  gateways: 1024,
  gatewayName: 253,
  gatewayTableVersion: 128,
  dnsConfigMap: 317,
  dnsEntries: 256,
  dnsEntryName: 253,
  dnsEntryReason: 64,
  dnsEntryMessage: 4096,
  rejected: 256,
  rejectedNamespace: 63,
  rejectedName: 253,
  rejectedField: 1024,
  rejectedReason: 64,
  rejectedMessage: 4096,
} as const;

/** Characters of a hash kept at the end of a cut key, so two long keys stay distinct. */
const KEY_HASH_CHARS = 16;

/**
 * A list-map key (gateways[].name) cut to `max` characters: the start, "~" and a hash of the
 * whole, so two long names that share a prefix do not become one key (the API server refuses
 * duplicate keys).
 */
export function truncateKey(s: string, max: number): string {
  if (s.length <= max) return s;
  const hash = createHash("sha256").update(s).digest("hex").slice(0, KEY_HASH_CHARS);
  return `${s.slice(0, max - KEY_HASH_CHARS - 1)}~${hash}`;
}

/** `status` with every value within the CRD's caps (a new object; `status` is not changed). */
export function fitStatusToCrd(status: InternalGatewayStatus): InternalGatewayStatus {
  const L = STATUS_LIMITS;
  const out: InternalGatewayStatus = {
    ...status,
    // Reasons are the controller's own CamelCase words (the CRD has a pattern): never cut.
    conditions: status.conditions.slice(0, L.conditions).map((c) => ({ ...c, message: truncate(c.message, L.conditionMessage) })),
    tableVersion: truncate(status.tableVersion, L.tableVersion),
    gateways: status.gateways.slice(0, L.gateways).map((g) => ({
      ...g,
      name: truncateKey(g.name, L.gatewayName),
      ...(g.tableVersion === undefined ? {} : { tableVersion: truncate(g.tableVersion, L.gatewayTableVersion) }),
    })),
    rejected: status.rejected.slice(0, L.rejected).map((p) => ({
      ...p,
      namespace: truncate(p.namespace, L.rejectedNamespace),
      name: truncate(p.name, L.rejectedName),
      field: truncate(p.field, L.rejectedField),
      message: truncate(p.message, L.rejectedMessage),
    })),
  };
  if (status.dns !== undefined) {
    out.dns = {
      ...status.dns,
      configMap: truncate(status.dns.configMap, L.dnsConfigMap),
      entries: status.dns.entries.slice(0, L.dnsEntries).map((e) => ({
        ...e,
        name: truncate(e.name, L.dnsEntryName),
        reason: truncate(e.reason, L.dnsEntryReason),
        message: truncate(e.message, L.dnsEntryMessage),
      })),
    };
  }
  return out;
}
