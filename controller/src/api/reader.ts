// Strict, path-aware reading of untyped input (parsed YAML or JSON). Type errors are collected
// with their field path; fields outside the known set are recorded, not dropped silently.
import type { IgnoredField } from "./meta.ts";

export interface FieldError {
  field: string;
  message: string;
}

export class Reader {
  readonly errors: FieldError[] = [];
  readonly ignored: IgnoredField[] = [];

  fail(field: string, message: string): undefined {
    this.errors.push({ field, message });
    return undefined;
  }

  /**
   * An object whose keys must be in `supported` (translated) or `known` (recognised Istio/K8s
   * fields Canal does not translate: recorded as known ignored fields). Any other key is recorded
   * as an unknown ignored field.
   */
  object(v: unknown, path: string, supported: readonly string[], known: readonly string[] = []): Record<string, unknown> | undefined {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return this.fail(path, `expected an object, got ${describe(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (supported.includes(k)) continue;
      if (o[k] === null || o[k] === undefined) continue;
      this.ignored.push({ path: join(path, k), known: known.includes(k) });
    }
    return o;
  }

  /** A plain map of arbitrary keys (labels, header matches): only checks it is an object. */
  map(v: unknown, path: string): Record<string, unknown> | undefined {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return this.fail(path, `expected an object, got ${describe(v)}`);
    return v as Record<string, unknown>;
  }

  string(v: unknown, path: string): string | undefined {
    if (typeof v !== "string") return this.fail(path, `expected a string, got ${describe(v)}`);
    return v;
  }

  integer(v: unknown, path: string): number | undefined {
    if (typeof v !== "number" || !Number.isSafeInteger(v)) return this.fail(path, `expected an integer, got ${describe(v)}`);
    return v;
  }

  number(v: unknown, path: string): number | undefined {
    if (typeof v !== "number" || !Number.isFinite(v)) return this.fail(path, `expected a number, got ${describe(v)}`);
    return v;
  }

  boolean(v: unknown, path: string): boolean | undefined {
    if (typeof v !== "boolean") return this.fail(path, `expected a boolean, got ${describe(v)}`);
    return v;
  }

  array<T>(v: unknown, path: string, item: (x: unknown, p: string) => T | undefined): T[] | undefined {
    if (!Array.isArray(v)) return this.fail(path, `expected a list, got ${describe(v)}`);
    const out: T[] = [];
    v.forEach((x, i) => {
      const r = item(x, `${path}[${i}]`);
      if (r !== undefined) out.push(r);
    });
    // A copy of exactly its length: push() leaves room for 16 more elements, which every kept
    // parsed object would carry (at 10,000 VirtualServices, megabytes of empty slots).
    return out.slice();
  }

  stringMap(v: unknown, path: string): Record<string, string> | undefined {
    const o = this.map(v, path);
    if (o === undefined) return undefined;
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(o)) {
      const s = this.string(x, mapKey(path, k));
      if (s !== undefined) out[k] = s;
    }
    return out;
  }

  stringList(v: unknown, path: string): string[] | undefined {
    return this.array(v, path, (x, p) => this.string(x, p));
  }
}

/** Reads `o[key]` with `read` when present (null counts as absent, as in Kubernetes). */
export function opt<T>(o: Record<string, unknown>, key: string, path: string, read: (v: unknown, p: string) => T | undefined): T | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  return read(v, join(path, key));
}

/** `path[key]`: a key of a map (labels, headers), quoted only when it needs to be. */
export function mapKey(path: string, key: string): string {
  const k = /^[\x21-\x7e]+$/.test(key) && !/[[\]"]/.test(key) ? key : JSON.stringify(key);
  return `${path}[${k}]`;
}

/** `path.key` for a field name (any other key is written as a map key). */
export function join(path: string, key: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return mapKey(path, key);
  return path === "" ? key : `${path}.${key}`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}
