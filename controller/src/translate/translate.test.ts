// translate()'s options: the cluster domain and the injected regex check.
import { describe, expect, it } from "vitest";
import { emptySnapshot } from "../api/snapshot.ts";
import { translate } from "./index.ts";
import { loadCase } from "./testing/cases.ts";

describe("translate options", () => {
  it("defaults the cluster domain to cluster.local", () => {
    const r = translate(loadCase("seed-helloworld").snapshot, { validateRegex: () => null });
    expect(r.gateways[0]?.dnsPlan[0]?.fqdn).toBe("helloworld.default.svc.cluster.local");
  });

  it.each(["", "corp local", "-corp.local", "corp..local"])("refuses the cluster domain %j", (clusterDomain) => {
    expect(() => translate(emptySnapshot(), { validateRegex: () => null, clusterDomain })).toThrow(/clusterDomain/);
  });

  it("uses the injected regex check, and a check that throws rejects the pattern instead of failing", () => {
    const { snapshot } = loadCase("match-conditions");
    const seen: string[] = [];
    const accepting = translate(snapshot, { validateRegex: (p) => (seen.push(p), null) });
    expect(seen).toEqual(expect.arrayContaining(["GET|HEAD", "v[0-9]+", "/items/[0-9]+(/.*)?"]));
    expect(accepting.problems).toEqual([]);
    const throwing = translate(snapshot, {
      validateRegex: () => {
        throw new Error("engine unavailable");
      },
    });
    const regexProblems = throwing.problems.filter((p) => p.reason === "InvalidRegex");
    expect(regexProblems.length).toBeGreaterThan(0);
    expect(regexProblems[0]?.message).toContain("engine unavailable");
  });

  it("an empty snapshot gives no gateways and no problems", () => {
    expect(translate(emptySnapshot(), { validateRegex: () => null })).toEqual({ gateways: [], problems: [] });
  });
});
