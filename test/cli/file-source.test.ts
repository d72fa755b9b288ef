// The file source's field path → line mapping, in-process: map keys with dots and slashes,
// quoted keys, list indexes, fields that do not exist (the parent's line), several documents.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readFileSnapshot, splitFieldPath } from "../../controller/src/sources/file-source.ts";

const dir = mkdtempSync(join(tmpdir(), "canal-file-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("splitFieldPath", () => {
  it.each([
    ["spec.http[2].match[0].uri.regex", ["spec", "http", 2, "match", 0, "uri", "regex"]],
    ["metadata.labels[app.kubernetes.io/name]", ["metadata", "labels", "app.kubernetes.io/name"]],
    ['spec.http[0].headers.request.set["x y"]', ["spec", "http", 0, "headers", "request", "set", "x y"]],
    ['a["q\\"]"].b', ["a", 'q"]', "b"]],
    ["", []],
  ])("%s", (path, segments) => {
    expect(splitFieldPath(path)).toEqual(segments);
  });
});

describe("locate", () => {
  const file = join(dir, "objects.yaml");
  writeFileSync(file, `# comment
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web
spec:
  ports:
    - port: 80
    - port: 81
      name: http
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: istio-system}
spec:
  hosts: [a.example.com, b.example.com]
  http:
  - headers:
      request:
        set:
          "x y": "1"
`);
  const snap = readFileSnapshot([file]);
  const at = (kind: "Service" | "VirtualService", namespace: string, name: string, field: string): number | undefined => snap.locate({ kind, namespace, name, field })?.line;

  it.each([
    ["Service", "default", "web", "", 2],
    ["Service", "default", "web", "metadata.labels[app.kubernetes.io/name]", 7],
    ["Service", "default", "web", "spec.ports[1].name", 12],
    ["Service", "default", "web", "spec.ports[1]", 11],
    ["Service", "default", "web", "spec.ports[7].port", 9],
    ["Service", "default", "web", "spec.selector", 8],
    ["VirtualService", "istio-system", "vs", "spec.hosts[1]", 18],
    ["VirtualService", "istio-system", "vs", 'spec.http[0].headers.request.set["x y"]', 23],
  ] as const)("%s %s/%s %s → line %i", (kind, ns, name, field, line) => {
    expect(at(kind, ns, name, field)).toBe(line);
  });

  it("objects that are not in the files have no location", () => {
    expect(at("Service", "other", "web", "spec")).toBeUndefined();
  });
});
