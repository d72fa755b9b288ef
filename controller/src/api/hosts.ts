// DNS-1123 names and route-table hosts, checked at the edge: the parser refuses what the
// translator could not route (translate/names.ts re-exports these for the translator).

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** RFC 1123 label: lower-case alphanumerics and '-', 1-63 characters, alphanumeric at both ends. */
export function isDnsLabel(s: string): boolean {
  return LABEL.test(s);
}

/** RFC 1123 subdomain: dot-separated labels, at most 253 characters. */
export function isDnsSubdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split(".").every(isDnsLabel);
}

export type HostCheck = { ok: true; host: string } | { ok: false; error: string };

/**
 * A route-table host: "*", "*.suffix" or a DNS name; lower-cased. Anything else (ports, spaces,
 * control characters, "a } evil {") is refused with a reason.
 */
export function normalizeHost(raw: string): HostCheck {
  const h = raw.toLowerCase();
  if (h === "*") return { ok: true, host: h };
  if (h.includes(":")) return { ok: false, error: "a host must not carry a port (or be an IPv6 address)" };
  const name = h.startsWith("*.") ? h.slice(2) : h;
  if (h.length > 253) return { ok: false, error: "longer than 253 characters" };
  if (!isDnsSubdomain(name)) return { ok: false, error: "not a DNS-1123 name (lower-case letters, digits, '-' and '.'; \"*\" only as the whole first label)" };
  return { ok: true, host: h };
}
