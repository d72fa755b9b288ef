// UnsupportedField problems for the fields the parser recorded as ignored, each saying what
// Canal does instead. Reported once per object that a gateway actually uses.
import type { IgnoredField } from "../api/meta.ts";
import type { ProblemSink, Subject } from "./problems.ts";

interface Rule {
  test: RegExp;
  consequence: string;
}

/** First match wins. Paths are as the parser writes them. */
const VIRTUAL_SERVICE_RULES: Rule[] = [
  { test: /^spec\.http\[\d+\]\.match\[\d+\]\.statPrefix$/, consequence: "it only names statistics, so it is ignored and the match block is kept" },
  { test: /^spec\.http\[\d+\]\.match\[\d+\]\./, consequence: "a central gateway cannot evaluate this condition, so the match block is dropped rather than matched more widely than written" },
  { test: /^spec\.http\[\d+\]\.delegate$/, consequence: "the route answers 503 (falling through to later routes could send its traffic elsewhere)" },
  { test: /^spec\.http\[\d+\]\.rewrite\./, consequence: "the route answers 503: forwarding with the path only partly rewritten could reach the wrong endpoint" },
  { test: /^spec\.http\[\d+\]\.redirect\.derivePort$/, consequence: "it is ignored: the redirect keeps the request's port unless redirect.port is set" },
  { test: /^spec\.http\[\d+\]\.fault\.delay\./, consequence: "no delay is injected by this fault" },
  { test: /^spec\.http\[\d+\]\.fault\.abort\./, consequence: "no abort is injected by this fault" },
  { test: /^spec\.(tcp|tls)$/, consequence: "Canal routes HTTP only; these routes are ignored" },
  { test: /^spec\.http\[\d+\]\./, consequence: "it is ignored; the rest of the route is kept" },
  { test: /./, consequence: "it is ignored" },
];

const GATEWAY_RULES: Rule[] = [
  { test: /^spec\.servers\[\d+\]\.tls$/, consequence: "Canal serves plain HTTP; the TLS settings are ignored" },
  { test: /./, consequence: "it is ignored" },
];

export function reportIgnoredFields(subject: Subject, fields: readonly IgnoredField[] | undefined, sink: ProblemSink): void {
  const rules = subject.kind === "Gateway" ? GATEWAY_RULES : VIRTUAL_SERVICE_RULES;
  for (const f of fields ?? []) {
    const rule = rules.find((r) => r.test.test(f.path)) as Rule;
    const what = f.known ? `${f.path} is not supported by Canal` : `${f.path} is not a field Canal knows (a typo, or a newer API version?)`;
    sink.add(subject, f.path, "UnsupportedField", `${what}: ${rule.consequence}. Remove it to silence this problem.`);
  }
}
