// Lookup of Services by namespace/name, by FQDN and by bare name.
import type { Service } from "../api/core.ts";
import { isDnsLabel, parseServiceFqdn } from "./names.ts";

/** What route translation reads of the Services (a memo records these lookups as dependencies). */
export interface ServiceLookup {
  get(namespace: string, name: string): Service | undefined;
  byFqdn(fqdn: string): Service | undefined;
}

export class ServiceIndex implements ServiceLookup {
  private readonly byKey = new Map<string, Service>();
  private readonly byName = new Map<string, Service[]>();
  /** FQDN → Service (null: none); FQDNs are looked up several times per translation. */
  private readonly fqdns = new Map<string, Service | null>();

  /** Services whose name or namespace is not a DNS label cannot be addressed and are left out. */
  constructor(services: readonly Service[], private readonly clusterDomain: string) {
    const sorted = [...services].sort((a, b) => cmp(key(a), key(b)));
    for (const s of sorted) {
      if (!isDnsLabel(s.metadata.name) || !isDnsLabel(s.metadata.namespace)) continue;
      if (this.byKey.has(key(s))) continue;
      this.byKey.set(key(s), s);
      const list = this.byName.get(s.metadata.name) ?? [];
      list.push(s);
      this.byName.set(s.metadata.name, list);
    }
  }

  get(namespace: string, name: string): Service | undefined {
    return this.byKey.get(`${namespace}/${name}`);
  }

  /** The Service whose FQDN is `fqdn` (name.ns.svc.<clusterDomain>). */
  byFqdn(fqdn: string): Service | undefined {
    const known = this.fqdns.get(fqdn);
    if (known !== undefined) return known ?? undefined;
    const n = parseServiceFqdn(fqdn, this.clusterDomain);
    const s = n && this.get(n.namespace, n.name);
    this.fqdns.set(fqdn, s ?? null);
    return s;
  }

  /** Every Service called `name`, by namespace. */
  named(name: string): readonly Service[] {
    return this.byName.get(name) ?? [];
  }
}

function key(s: Service): string {
  return `${s.metadata.namespace}/${s.metadata.name}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
