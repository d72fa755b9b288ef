// canal_problems by kind and reason: kinds and reasons are fixed enums (api/problem.ts), so every
// pair is reported, 0 included (a bounded few hundred series), and a reason that goes away reads 0.
import { GATEWAY_API_REASONS, PROBLEM_KINDS, PROBLEM_REASONS, type Problem, type ProblemKind, type ProblemReason } from "../api/index.ts";

const ALL_REASONS: readonly ProblemReason[] = [...PROBLEM_REASONS, ...GATEWAY_API_REASONS];

export function problemCounts(problems: readonly Problem[]): Array<{ kind: ProblemKind; reason: ProblemReason; count: number }> {
  const counts = new Map<string, number>();
  for (const p of problems) counts.set(`${p.kind} ${p.reason}`, (counts.get(`${p.kind} ${p.reason}`) ?? 0) + 1);
  return PROBLEM_KINDS.flatMap((kind) => ALL_REASONS.map((reason) => ({ kind, reason, count: counts.get(`${kind} ${reason}`) ?? 0 })));
}
