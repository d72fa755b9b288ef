// File source: Istio YAML on disk (what `canal compile` and `canal dev` read) → the same parsed
// snapshot the cluster source produces, plus a map from every object and field path back to the
// file and line it came from, so problems can be printed as `file:line: field: message`.
//
// Reading is the only I/O here; parsing and translation stay with api/ and translate/.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from "yaml";
import { parseObjects, type ParsedObjects } from "../api/parse.ts";
import type { Problem } from "../api/problem.ts";
import { INTERNAL_GATEWAY_API_VERSION } from "../api/internalgateway.ts";

export interface Location {
  file: string;
  /** 1-based. */
  line: number;
}

/** A file-level error: unreadable file, YAML syntax, a document that is not an object, a duplicate. */
export interface FileError extends Location {
  message: string;
}

interface LoadedDoc {
  file: string;
  doc: Document;
  lines: LineCounter;
  raw: unknown;
}

export interface FileSnapshot {
  /** The YAML files read, in order. */
  files: string[];
  parsed: ParsedObjects;
  /** YAML errors, duplicate objects: the affected documents are left out. */
  errors: FileError[];
  /** Set when the files had no InternalGateway and one was implied for their only Gateway. */
  implied?: string;
  /** Where a problem's object (and field) is written. */
  locate(p: Pick<Problem, "kind" | "namespace" | "name" | "field">): Location | undefined;
}

export interface FileSourceOptions {
  /** Namespace of objects that carry none (as `kubectl apply` without -n). Default "default". */
  defaultNamespace?: string;
  /** With no InternalGateway and exactly one Gateway, translate as if one named it. Default true. */
  implyInternalGateway?: boolean;
}

const YAML_FILE = /\.ya?ml$/i;

/** Files to read: each argument as given, a directory as its *.yaml / *.yml files (sorted, not recursive). */
export function listYamlFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new Error(`${p}: no such file or directory`);
    if (statSync(p).isDirectory()) {
      const names = readdirSync(p).filter((n) => YAML_FILE.test(n) && statSync(join(p, n)).isFile()).sort();
      if (names.length === 0) throw new Error(`${p}: no .yaml or .yml files in this directory`);
      out.push(...names.map((n) => join(p, n)));
    } else out.push(p);
  }
  return out;
}

function lineOf(lines: LineCounter, offset: number | undefined): number {
  return offset === undefined ? 1 : lines.linePos(offset).line;
}

function loadFile(file: string, docs: LoadedDoc[], errors: FileError[]): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    errors.push({ file, line: 1, message: `cannot read: ${(err as Error).message}` });
    return;
  }
  const lines = new LineCounter();
  for (const doc of parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, strict: true, prettyErrors: false })) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) errors.push({ file, line: e.linePos?.[0].line ?? lineOf(lines, e.pos[0]), message: `YAML: ${e.message.split("\n")[0] ?? ""}` });
      continue;
    }
    const raw: unknown = doc.toJS();
    if (raw === null || raw === undefined) continue;
    if (typeof raw !== "object" || Array.isArray(raw)) {
      errors.push({ file, line: lineOf(lines, doc.contents?.range[0]), message: "YAML: expected a Kubernetes object (a mapping with apiVersion and kind)" });
      continue;
    }
    docs.push({ file, doc, lines, raw });
  }
}

function identity(raw: unknown, defaultNamespace: string): { kind: string; namespace: string; name: string } {
  const o = raw as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  return {
    kind: typeof o.kind === "string" ? o.kind : "",
    namespace: typeof o.metadata?.namespace === "string" ? o.metadata.namespace : defaultNamespace,
    name: typeof o.metadata?.name === "string" ? o.metadata.name : "",
  };
}

/** `spec.http[0].match[1].headers["x y"].exact` → ["spec", "http", 0, "match", 1, "headers", "x y", "exact"]. */
export function splitFieldPath(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  let i = 0;
  while (i < path.length) {
    const c = path[i];
    if (c === ".") {
      i++;
    } else if (c === "[") {
      if (path[i + 1] === '"') {
        let j = i + 2;
        while (j < path.length && path[j] !== '"') j += path[j] === "\\" ? 2 : 1;
        try {
          out.push(JSON.parse(path.slice(i + 1, j + 1)) as string);
        } catch {
          out.push(path.slice(i + 2, j));
        }
        i = path.indexOf("]", j) + 1 || path.length;
      } else {
        const j = path.indexOf("]", i);
        const key = path.slice(i + 1, j < 0 ? path.length : j);
        out.push(/^\d+$/.test(key) ? Number(key) : key);
        i = j < 0 ? path.length : j + 1;
      }
    } else {
      const m = /^[^.[]+/.exec(path.slice(i));
      out.push(m?.[0] ?? "");
      i += m?.[0].length ?? 1;
    }
  }
  return out;
}

/** The offset of the deepest node of `path` that exists (a map entry's key, a list item). */
function offsetOf(root: Node | null | undefined, path: string): number | undefined {
  let node: unknown = root;
  let offset = root?.range?.[0];
  for (const seg of splitFieldPath(path)) {
    if (isSeq(node) && typeof seg === "number") {
      const item: unknown = node.items[seg];
      if (item === undefined) break;
      node = item;
      offset = (item as Node).range?.[0] ?? offset;
    } else if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else break;
  }
  return offset;
}

/** With no InternalGateway and exactly one Gateway: the InternalGateway a user would write for it. */
function impliedInternalGateway(docs: readonly LoadedDoc[], defaultNamespace: string): { raw: unknown; label: string } | undefined {
  const ids = docs.map((d) => ({ ...identity(d.raw, defaultNamespace), raw: d.raw as { spec?: { selector?: unknown } } }));
  if (ids.some((d) => d.kind === "InternalGateway")) return undefined;
  // Istio's Gateways only: a Gateway API Gateway (same kind, gateway.networking.k8s.io) is not one.
  const gateways = ids.filter((d) => d.kind === "Gateway" && !String((d.raw as { apiVersion?: unknown }).apiVersion).startsWith("gateway.networking.k8s.io/"));
  if (gateways.length !== 1) return undefined;
  const gw = gateways[0] as (typeof gateways)[number];
  // The Service in front of the gateway: the seed calls it `canal`, the chart `canal-gateway`.
  const services = new Set(ids.filter((d) => d.kind === "Service" && d.namespace === gw.namespace).map((d) => d.name));
  const service = ["canal-gateway", "canal", gw.name].find((n) => services.has(n)) ?? "canal-gateway";
  const selector = gw.raw.spec?.selector;
  // As the chart's InternalGateway (grantOwnNamespace): the Gateway's namespace may route any host.
  const spec: Record<string, unknown> = { gatewayRef: { name: gw.name }, serviceRef: { name: service }, hostGrants: [{ namespaces: [gw.namespace], hosts: ["*"] }] };
  if (selector !== null && typeof selector === "object" && !Array.isArray(selector) && Object.keys(selector).length > 0) spec["workloadSelector"] = { matchLabels: selector };
  return {
    raw: { apiVersion: INTERNAL_GATEWAY_API_VERSION, kind: "InternalGateway", metadata: { name: gw.name, namespace: gw.namespace }, spec },
    label: `${gw.namespace}/${gw.name} (gatewayRef ${gw.name}, serviceRef ${service}, hosts "*" granted to ${gw.namespace})`,
  };
}

/** Reads YAML files into a snapshot; never throws for bad content (that becomes errors/problems). */
export function readFileSnapshot(files: readonly string[], options: FileSourceOptions = {}): FileSnapshot {
  const defaultNamespace = options.defaultNamespace ?? "default";
  const loaded: LoadedDoc[] = [];
  const errors: FileError[] = [];
  for (const f of files) loadFile(f, loaded, errors);
  const byKey = new Map<string, LoadedDoc>();
  const docs: LoadedDoc[] = [];
  for (const d of loaded) {
    const id = identity(d.raw, defaultNamespace);
    const key = `${id.kind}/${id.namespace}/${id.name}`;
    const first = byKey.get(key);
    if (first !== undefined && id.kind !== "" && id.name !== "") {
      const at = `${first.file}:${lineOf(first.lines, offsetOf(first.doc.contents, "metadata.name"))}`;
      errors.push({ file: d.file, line: lineOf(d.lines, offsetOf(d.doc.contents, "metadata.name")), message: `metadata.name: ${id.kind} ${id.namespace}/${id.name} is already defined at ${at}; this copy is ignored` });
      continue;
    }
    byKey.set(key, d);
    docs.push(d);
  }
  const implied = options.implyInternalGateway === false ? undefined : impliedInternalGateway(docs, defaultNamespace);
  const raws = docs.map((d) => d.raw);
  if (implied) raws.push(implied.raw);
  const parsed = parseObjects(raws, { defaultNamespace });
  const locate = (p: Pick<Problem, "kind" | "namespace" | "name" | "field">): Location | undefined => {
    const d = byKey.get(`${p.kind}/${p.namespace}/${p.name}`);
    if (d === undefined) return undefined;
    return { file: d.file, line: lineOf(d.lines, offsetOf(d.doc.contents, p.field)) };
  };
  const snapshot: FileSnapshot = { files: [...files], parsed, errors, locate };
  if (implied) snapshot.implied = implied.label;
  return snapshot;
}

/** `file:line: field: message (Reason)`; the message's own `field: ` prefix is not repeated. */
export function formatProblem(p: Problem, at: Location | undefined): string {
  const where = at ? `${at.file}:${at.line}` : `${p.kind} ${p.namespace}/${p.name}`;
  const message = p.field !== "" && p.message.startsWith(`${p.field}: `) ? p.message.slice(p.field.length + 2) : p.message;
  const field = p.field !== "" ? p.field : `${p.kind} ${p.namespace}/${p.name}`;
  return `${where}: ${field}: ${message} (${p.reason})`;
}

export function formatFileError(e: FileError): string {
  return `${e.file}:${e.line}: ${e.message}`;
}
