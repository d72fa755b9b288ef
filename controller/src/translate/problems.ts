// Collecting problems while translating: one sink per translation pass.
import type { ObjectMeta } from "../api/meta.ts";
import type { Problem, ProblemKind, ProblemReason } from "../api/problem.ts";

export interface Subject {
  kind: ProblemKind;
  metadata: ObjectMeta;
}

export class ProblemSink {
  readonly list: Problem[] = [];

  add(subject: Subject, field: string, reason: ProblemReason, message: string): void {
    this.list.push({ kind: subject.kind, namespace: subject.metadata.namespace, name: subject.metadata.name, field, reason, message });
  }
}

/** "ns/name" of an object, for messages. */
export function refOf(o: { metadata: ObjectMeta }): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}
