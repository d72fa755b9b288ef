// The writer's edge: every name and address is checked here again before it can reach CoreDNS
// configuration, whatever the translator already checked. A name that fails is never written.
import { isIPv4, isIPv6 } from "node:net";

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** null when `name` is a lower-case DNS-1123 subdomain (≤ 253 characters), else why not. */
export function dnsNameError(name: string): string | null {
  if (name.length === 0) return "empty";
  if (name.length > 253) return "longer than 253 characters";
  if (!name.split(".").every((l) => LABEL.test(l))) return "not a DNS-1123 name (lower-case letters, digits, '-' and '.', labels of 1-63 characters)";
  return null;
}

/** null when `ip` is a plain IPv4 or IPv6 address (no zone, no prefix), else why not. */
export function addressError(ip: string): string | null {
  if (isIPv4(ip)) return null;
  if (isIPv6(ip) && !ip.includes("%")) return null;
  return "not an IPv4 or IPv6 address";
}

/** A path CoreDNS can read from a Corefile line: absolute, no spaces, quotes, braces or comments. */
export function mountPathError(path: string): string | null {
  if (!path.startsWith("/")) return "must be an absolute path";
  if (!/^\/[A-Za-z0-9._/-]*$/.test(path)) return "may contain only letters, digits, '.', '_', '-' and '/'";
  return null;
}
