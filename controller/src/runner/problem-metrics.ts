// canal_problems by kind and reason: the reasons are a fixed enum (api/problem.ts) and the kinds
// five, so every pair is reported, 0 included (37 × 5 series), and a reason that goes away reads 0.
import { PROBLEM_KINDS, PROBLEM_REASONS, type Problem, type ProblemKind, type ProblemReason } from "../api/index.ts";

export function problemCounts(problems: readonly Problem[]): Array<{ kind: ProblemKind; reason: ProblemReason; count: number }> {
  const counts = new Map<string, number>();
  for (const p of problems) counts.set(`${p.kind} ${p.reason}`, (counts.get(`${p.kind} ${p.reason}`) ?? 0) + 1);
  return PROBLEM_KINDS.flatMap((kind) => PROBLEM_REASONS.map((reason) => ({ kind, reason, count: counts.get(`${kind} ${reason}`) ?? 0 })));
}
