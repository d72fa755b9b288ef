import { describe, expect, it } from "vitest";
import { exposedDomains, hostCovers, intersectHost, isExportedTo, selects } from "./hosts.ts";

describe("hostCovers", () => {
  it.each([
    ["*", "anything.example.com", true],
    ["*", "*", true],
    ["*", "*.example.com", true],
    ["a.com", "a.com", true],
    ["a.com", "b.com", false],
    ["*.a.com", "b.a.com", true],
    ["*.a.com", "x.b.a.com", true],
    ["*.a.com", "a.com", false],
    ["*.a.com", "*.a.com", true],
    ["*.a.com", "*.b.a.com", true],
    ["*.b.a.com", "*.a.com", false],
    ["*.a.com", "*", false],
    ["*.a.com", "ba.com", false],
    ["a.com", "*.a.com", false],
  ])("%s covers %s: %s", (pattern, host, out) => {
    expect(hostCovers(pattern, host)).toBe(out);
  });
});

describe("intersectHost (Istio's gateway host intersection)", () => {
  it.each([
    ["reviews.default.svc.cluster.local", "*", "reviews.default.svc.cluster.local"],
    ["*", "*", "*"],
    ["*", "*.example.com", "*.example.com"],
    ["*.example.com", "*", "*.example.com"],
    ["a.example.com", "*.example.com", "a.example.com"],
    ["*.example.com", "a.example.com", "a.example.com"],
    ["*.example.com", "*.b.example.com", "*.b.example.com"],
    ["a.example.com", "b.example.com", undefined],
    ["a.example.com", "*.other.com", undefined],
  ])("%s through %s → %s", (vs, server, out) => {
    expect(intersectHost(vs, server)).toBe(out);
  });
});

describe("exposedDomains", () => {
  const servers = [
    { namespace: "*", host: "*.example.com" },
    { namespace: "default", host: "*" },
    { namespace: "team-a", host: "app.internal" },
  ];

  it.each([
    ["a.example.com", "shop", ["a.example.com"]],
    ["reviews.default.svc.cluster.local", "default", ["reviews.default.svc.cluster.local"]],
    ["reviews.default.svc.cluster.local", "shop", []],
    ["*", "shop", ["*.example.com"]],
    ["*", "default", ["*.example.com", "*"]],
    ["*", "team-a", ["*.example.com", "app.internal"]],
    ["app.internal", "team-b", []],
  ])("%s from namespace %s → %j", (host, ns, out) => {
    expect(exposedDomains(host, ns, servers)).toEqual(out);
  });
});

describe("isExportedTo", () => {
  it.each([
    [[], "default", "istio-system", true],
    [["*"], "default", "istio-system", true],
    [["."], "default", "istio-system", false],
    [["."], "istio-system", "istio-system", true],
    [["istio-system"], "default", "istio-system", true],
    [["other", "."], "default", "istio-system", false],
  ])("%j from %s to %s → %s", (exportTo, own, target, out) => {
    expect(isExportedTo(exportTo, own, target)).toBe(out);
  });
});

describe("selects", () => {
  it.each([
    [{}, { app: "x" }, true],
    [{ app: "x" }, { app: "x", tier: "y" }, true],
    [{ app: "x", tier: "y" }, { app: "x" }, false],
    [{ app: "x" }, { app: "z" }, false],
  ])("%j selects %j: %s", (sel, labels, out) => {
    expect(selects(sel, labels)).toBe(out);
  });
});
