// The --dns flags of `canal controller` (parsed here so controller-command.ts only wires them).
import { UsageError } from "../common/errors.ts";
import { mountPathError } from "../sinks/dns/names.ts";

export const DNS_USAGE = `  --dns                    redirect the DNS names of routed Services to the gateways (docs/dns.md)
  --dns-configmap NS/NAME  the ConfigMap CoreDNS imports (default: kube-system/canal-dns)
  --dns-mount-path PATH    where CoreDNS pods mount that ConfigMap (default: /etc/coredns/canal)
  --dns-ttl SECONDS        TTL of redirected answers (default: 5)
  --dns-drain SECONDS      routes of a name stay this long after DNS stops pointing it at the
                           gateway; at least --dns-ttl (default: 90: TTL + kubelet's ConfigMap sync)
  --dns-dry-run            decide and report in status, never write the ConfigMap
`;

export const DNS_FLAG_OPTIONS = {
  dns: { type: "boolean", default: false },
  "dns-configmap": { type: "string", default: "kube-system/canal-dns" },
  "dns-mount-path": { type: "string", default: "/etc/coredns/canal" },
  "dns-ttl": { type: "string", default: "5" },
  "dns-drain": { type: "string", default: "90" },
  "dns-dry-run": { type: "boolean", default: false },
} as const;

export interface DnsConfig {
  configMap: { namespace: string; name: string };
  mountPath: string;
  ttlSeconds: number;
  drainSeconds: number;
  dryRun: boolean;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function seconds(flag: string, v: unknown, min: number, max: number): number {
  const n = Number(v);
  if (typeof v !== "string" || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`canal: --${flag} must be whole seconds between ${min} and ${max}, got "${String(v)}"`);
  return n;
}

/** undefined without --dns; other --dns-* flags without --dns are a usage error. */
export function parseDnsFlags(values: Record<string, unknown>): DnsConfig | undefined {
  if (values.dns !== true) {
    if (values["dns-dry-run"] === true) throw new UsageError("canal: --dns-dry-run needs --dns");
    return undefined;
  }
  const cm = String(values["dns-configmap"]);
  const [namespace, name, extra] = cm.split("/");
  if (extra !== undefined || namespace === undefined || name === undefined || !NAME.test(namespace) || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
    throw new UsageError(`canal: --dns-configmap must be NAMESPACE/NAME, got "${cm}"`);
  }
  const mountPath = String(values["dns-mount-path"]);
  const pathErr = mountPathError(mountPath);
  if (pathErr !== null) throw new UsageError(`canal: --dns-mount-path ${pathErr}, got "${mountPath}"`);
  const ttlSeconds = seconds("dns-ttl", values["dns-ttl"], 1, 3600);
  const drainSeconds = seconds("dns-drain", values["dns-drain"], 1, 86_400);
  if (drainSeconds < ttlSeconds) throw new UsageError(`canal: --dns-drain (${drainSeconds}) must be at least --dns-ttl (${ttlSeconds}): clients may use an answer for its TTL`);
  return { configMap: { namespace, name }, mountPath, ttlSeconds, drainSeconds, dryRun: values["dns-dry-run"] === true };
}
