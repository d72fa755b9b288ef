// Kubernetes object metadata: the fields the controller reads, and object identity helpers.

/** The metadata fields Canal reads. Anything else in `metadata` is accepted and ignored. */
export interface ObjectMeta {
  name: string;
  /** Always set after parsing (defaulted for objects that omit it). */
  namespace: string;
  /** RFC 3339, as the API server writes it. Orders objects: older wins conflicts. */
  creationTimestamp?: string;
  generation?: number;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * A field the parser found but Canal does not translate. `known` fields belong to the Istio API
 * (e.g. `mirror`, `corsPolicy`); unknown ones are typos or fields of a newer API version. The
 * translator reports both as UnsupportedField when it uses the object, and treats an ignored
 * field inside a match block as a condition it cannot evaluate.
 */
export interface IgnoredField {
  /** Field path from the object root, e.g. "spec.http[0].match[1].sourceLabels". */
  path: string;
  known: boolean;
}

export interface ObjectBase<K extends string, S> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
  /** Filled in by the parser; absent means none. */
  ignoredFields?: IgnoredField[];
}

/** A reference to a namespaced object. */
export interface NamespacedName {
  namespace: string;
  name: string;
}

export function keyOf(ref: NamespacedName): string {
  return `${ref.namespace}/${ref.name}`;
}
