// metadata: the fields Canal reads, with the namespace defaulted the way kubectl does.
import type { ObjectMeta } from "./meta.ts";
import { opt, type Reader } from "./reader.ts";

const META_FIELDS = ["name", "namespace", "creationTimestamp", "generation", "uid", "resourceVersion", "labels", "annotations"];
/** Standard metadata Canal does not need: accepted silently (every live object has some). */
const META_OTHER = [
  "generateName", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers",
  "managedFields",
];

/** RFC 3339 date-time as Kubernetes writes it (e.g. 2024-05-01T10:00:00Z). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function parseMeta(r: Reader, v: unknown, defaultNamespace: string): ObjectMeta | undefined {
  const o = r.object(v, "metadata", [...META_FIELDS, ...META_OTHER]);
  if (o === undefined) return undefined;
  const name = opt(o, "name", "metadata", (x, p) => r.string(x, p));
  const ts = opt(o, "creationTimestamp", "metadata", (x, p) => timestamp(r, x, p));
  if (name === undefined || name === "") return r.fail("metadata.name", "required");
  const meta: ObjectMeta = { name, namespace: opt(o, "namespace", "metadata", (x, p) => r.string(x, p)) || defaultNamespace };
  if (ts !== undefined) meta.creationTimestamp = ts;
  const generation = opt(o, "generation", "metadata", (x, p) => r.integer(x, p));
  if (generation !== undefined) meta.generation = generation;
  const uid = opt(o, "uid", "metadata", (x, p) => r.string(x, p));
  if (uid !== undefined) meta.uid = uid;
  const rv = opt(o, "resourceVersion", "metadata", (x, p) => r.string(x, p));
  if (rv !== undefined) meta.resourceVersion = rv;
  const labels = opt(o, "labels", "metadata", (x, p) => r.stringMap(x, p));
  if (labels !== undefined) meta.labels = labels;
  const annotations = opt(o, "annotations", "metadata", (x, p) => r.stringMap(x, p));
  if (annotations !== undefined) meta.annotations = annotations;
  return meta;
}

function timestamp(r: Reader, v: unknown, path: string): string | undefined {
  // YAML turns an unquoted timestamp into a Date.
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? r.fail(path, "invalid date") : v.toISOString().replace(".000Z", "Z");
  const s = r.string(v, path);
  if (s === undefined) return undefined;
  if (!RFC3339.test(s) || Number.isNaN(Date.parse(s))) return r.fail(path, `expected an RFC 3339 time such as 2024-05-01T10:00:00Z, got ${JSON.stringify(s)}`);
  return s;
}
