// Typed access to test/gateway-api/cases/conformance.json (the conformance cases as data) and
// its manifests. The JSON keeps Go's field names.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseManifests, type KubeObject } from "../support/k8s.ts";

export const CASES_FILE = join(import.meta.dirname, "cases", "conformance.json");

export interface ConformanceRequest {
  Host?: string;
  Method?: string;
  Path?: string;
  Headers?: Record<string, string>;
  UnfollowRedirect?: boolean;
}

export interface ConformanceCase {
  subtest?: string;
  expected: {
    Request: ConformanceRequest;
    ExpectedRequest?: { Request?: ConformanceRequest; AbsentHeaders?: string[] };
    RedirectRequest?: { Scheme?: string; Host?: string; Port?: string; Path?: string };
    Response?: { StatusCode?: number; StatusCodes?: number[]; Headers?: Record<string, string>; AbsentHeaders?: string[] };
    Backend?: string;
    Namespace?: string;
    TestCaseName?: string;
  };
  unresolved?: string[];
}

export interface ConformanceTest {
  name: string;
  description: string;
  file: string;
  mesh: boolean;
  core: boolean;
  features: string[];
  manifests: string[];
  cases: ConformanceCase[];
  weights?: Record<string, number>[];
  notes?: string[];
}

export interface CasesFile {
  version: string;
  text: string;
  base: Record<string, string>;
  manifests: Record<string, string>;
  tests: ConformanceTest[];
  /** The objects of a base manifest ("base/manifests.yaml", "mesh/manifests.yaml"). */
  baseObjects(path: string): KubeObject[];
  /** The objects of a test's manifest. */
  manifestObjects(path: string): KubeObject[];
}

export function casesFile(): CasesFile {
  const text = readFileSync(CASES_FILE, "utf8");
  const data = JSON.parse(text) as Omit<CasesFile, "text" | "baseObjects" | "manifestObjects">;
  const objects = (source: Record<string, string>, path: string): KubeObject[] => {
    const yaml = source[path];
    if (yaml === undefined) throw new Error(`conformance.json has no manifest ${path}`);
    return parseManifests(yaml, path);
  };
  return { ...data, text, baseObjects: (p) => objects(data.base, p), manifestObjects: (p) => objects(data.manifests, p) };
}
