// Shared by `canal compile` and `canal dev`: YAML files → translate() → tables, with every
// problem as one `file:line: field: message (Reason)` line.
import { sortProblems, type Problem } from "../api/problem.ts";
import { formatFileError, formatProblem, readFileSnapshot, type FileSnapshot } from "../sources/file-source.ts";
import { translate, type RegexValidator, type TranslateResult } from "../translate/index.ts";
import { standaloneProblems } from "./lint.ts";

export interface CompileOptions {
  validateRegex: RegexValidator;
  clusterDomain?: string;
  defaultNamespace?: string;
}

export interface Compiled {
  source: FileSnapshot;
  result: TranslateResult;
  /** Parse and translation problems, sorted. */
  problems: Problem[];
  /** One line per file error and problem, in file order where known. */
  errors: string[];
  /** Informational lines for stderr (implied InternalGateway, ignored kinds). */
  notes: string[];
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = JSON.stringify([p.kind, p.namespace, p.name, p.field, p.reason, p.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function compileFiles(files: readonly string[], options: CompileOptions): Compiled {
  const source = readFileSnapshot(files, options.defaultNamespace === undefined ? {} : { defaultNamespace: options.defaultNamespace });
  const result = translate(source.parsed.snapshot, options.clusterDomain === undefined ? { validateRegex: options.validateRegex } : { validateRegex: options.validateRegex, clusterDomain: options.clusterDomain });
  const notes: string[] = [];
  // Objects no table uses are validated on their own (lint.ts): a lone VirtualService is a normal input.
  const lint = options.clusterDomain === undefined ? { validateRegex: options.validateRegex } : { validateRegex: options.validateRegex, clusterDomain: options.clusterDomain };
  let problems = sortProblems(dedupe([...source.parsed.problems, ...result.problems, ...standaloneProblems(source.parsed.snapshot, result, lint)]));
  if (source.implied !== undefined) {
    notes.push(`no InternalGateway in the files: using an implied one, ${source.implied}`);
    // The implied gateway's Service only matters for DNS in a cluster; its absence is not the files' fault.
    const implied = (p: Problem): boolean => p.kind === "InternalGateway" && p.reason === "GatewayServiceNotFound";
    if (problems.some(implied)) notes.push("no Service for the gateway in the files: the DNS plan is empty (the table is not affected)");
    problems = problems.filter((p) => !implied(p));
  }
  if (source.parsed.snapshot.internalGateways.length === 0 && source.implied === undefined) {
    const gws = source.parsed.snapshot.gateways.length;
    notes.push(gws === 0 ? "no InternalGateway and no Gateway in the files: there is no table to build" : `no InternalGateway in the files and ${gws} Gateways: add an InternalGateway naming one (see examples/helloworld)`);
  }
  if (source.parsed.ignored.length > 0) notes.push(`ignored ${source.parsed.ignored.length} object(s) of kinds Canal does not read: ${[...new Set(source.parsed.ignored)].join(", ")}`);
  const located = problems.map((p) => ({ at: source.locate(p), line: "" })).map((x, i) => ({ ...x, line: formatProblem(problems[i] as Problem, x.at) }));
  const order = new Map(files.map((f, i) => [f, i]));
  located.sort((a, b) => (a.at ? (order.get(a.at.file) ?? 0) : -1) - (b.at ? (order.get(b.at.file) ?? 0) : -1) || (a.at?.line ?? 0) - (b.at?.line ?? 0));
  const errors = [...source.errors.map(formatFileError), ...located.map((x) => x.line)];
  return { source, result, problems, errors, notes };
}
