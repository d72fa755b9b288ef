import { describe, expect, it } from "vitest";
import {
  isDnsLabel, isDnsSubdomain, normalizeHost, parseServerHost, parseServiceFqdn, resolveGatewayRef, resolveShortName,
  serviceAliases, virtualHostName,
} from "./names.ts";

describe("resolveShortName (Istio's ResolveShortnameToFQDN)", () => {
  it.each([
    ["reviews", "default", "reviews.default.svc.cluster.local"],
    ["reviews", "prod", "reviews.prod.svc.cluster.local"],
    ["reviews.default", "prod", "reviews.default"],
    ["reviews.prod.svc.cluster.local", "default", "reviews.prod.svc.cluster.local"],
    ["*", "default", "*"],
    ["*.example.com", "default", "*.example.com"],
  ])("%s in %s → %s", (host, ns, out) => {
    expect(resolveShortName(host, ns, "cluster.local")).toBe(out);
  });
});

describe("resolveGatewayRef (Istio's resolveGatewayName)", () => {
  it.each([
    ["canal", "istio-system", "istio-system/canal"],
    ["canal", "default", "default/canal"],
    ["istio-system/canal", "default", "istio-system/canal"],
    ["./canal", "default", "default/canal"],
    ["canal.istio-system.svc.cluster.local", "default", "istio-system/canal"],
    ["canal.istio-system", "default", "istio-system/canal"],
    ["mesh", "default", undefined],
  ])("%s from %s → %s", (ref, ns, out) => {
    expect(resolveGatewayRef(ref, ns)).toBe(out);
  });
});

describe("normalizeHost", () => {
  it.each([
    ["*", "*"],
    ["*.example.com", "*.example.com"],
    ["App.Example.COM", "app.example.com"],
    ["reviews", "reviews"],
    ["10.0.0.1", "10.0.0.1"],
    ["a-b.c", "a-b.c"],
  ])("accepts %j as %j", (raw, host) => {
    expect(normalizeHost(raw)).toEqual({ ok: true, host });
  });

  it.each([
    ["a } evil {"],
    ["foo\nbar"],
    ["foo bar"],
    ["host:80"],
    ["[::1]"],
    ["api.*.example.com"],
    ["*example.com"],
    ["*."],
    ["-a.com"],
    ["a-.com"],
    ["a..com"],
    [""],
    ["a/b"],
    ["a_b.com"],
    [`${"a".repeat(64)}.com`],
    [`${"a.".repeat(127)}ab`],
  ])("refuses %j", (raw) => {
    expect(normalizeHost(raw).ok).toBe(false);
  });
});

describe("DNS-1123 names", () => {
  it.each([
    ["a", true], ["a-1", true], ["1a", true], ["A", false], ["-a", false], ["a-", false], ["a.b", false], ["a".repeat(63), true], ["a".repeat(64), false],
  ])("label %j → %s", (s, ok) => expect(isDnsLabel(s)).toBe(ok));

  it.each([
    ["a.b.c", true], ["a", true], ["a..b", false], [".a", false], ["a.", false], ["", false],
  ])("subdomain %j → %s", (s, ok) => expect(isDnsSubdomain(s)).toBe(ok));
});

describe("Service names", () => {
  it.each([
    ["reviews.default.svc.cluster.local", { name: "reviews", namespace: "default" }],
    ["reviews.default.svc.corp.local", undefined],
    ["reviews.default.svc", undefined],
    ["a.b.c.svc.cluster.local", undefined],
    ["*.default.svc.cluster.local", undefined],
  ])("parseServiceFqdn(%s)", (fqdn, out) => {
    expect(parseServiceFqdn(fqdn, "cluster.local")).toEqual(out);
  });

  it("lists the short forms clients use", () => {
    expect(serviceAliases("reviews", "default")).toEqual(["reviews.default.svc", "reviews.default", "reviews"]);
  });
});

describe("parseServerHost", () => {
  it.each([
    ["*", { namespace: "*", host: "*" }],
    ["foo.com", { namespace: "*", host: "foo.com" }],
    ["*/foo.com", { namespace: "*", host: "foo.com" }],
    ["./foo.com", { namespace: "istio-system", host: "foo.com" }],
    ["team-a/*", { namespace: "team-a", host: "*" }],
  ])("%s", (raw, out) => {
    expect(parseServerHost(raw, "istio-system")).toEqual(out);
  });
});

describe("virtualHostName", () => {
  it("is namespace/name when short enough", () => {
    expect(virtualHostName("default", "reviews")).toBe("default/reviews");
  });

  it("is cut to 128 characters with a stable hash suffix", () => {
    const long = "x".repeat(250);
    const a = virtualHostName("default", long);
    expect(a).toHaveLength(128);
    expect(a).toMatch(/^default\/x+-[0-9a-f]{10}$/);
    expect(virtualHostName("default", long)).toBe(a);
    expect(virtualHostName("default", `${long}y`)).not.toBe(a);
  });
});
