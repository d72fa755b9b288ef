// Kubernetes objects as the harness reads them: type guards, multi-document YAML, and REST paths
// of a group/version.

import { parseAllDocuments } from "yaml";
import type { KubeObject } from "./types.ts";

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function isKubeObject(v: unknown): v is KubeObject {
  return isRecord(v) && typeof v.apiVersion === "string" && typeof v.kind === "string" && isRecord(v.metadata);
}

/** Parses a multi-document YAML into objects; empty documents are skipped, syntax errors throw. */
export function parseManifests(text: string, source = "<yaml>"): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0].message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isKubeObject(value)) throw new Error(`${source}: a document is not a Kubernetes object (apiVersion, kind, metadata)`);
    out.push(value);
  }
  return out;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function groupVersionPath(apiVersion: string): string {
  const { group, version } = splitApiVersion(apiVersion);
  return group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
}

export interface DiscoveredResource {
  name: string;
  kind: string;
  namespaced: boolean;
}
