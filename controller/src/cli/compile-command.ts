// `canal compile <files…>`: Istio YAML on disk → the route table(s) the controller would deliver,
// as JSON on stdout. Problems go to stderr as `file:line: field: message (Reason)`.
import { listYamlFiles } from "../sources/file-source.ts";
import type { GatewayResult } from "../translate/index.ts";
import { loadRegexValidator } from "../translate/regex-validator.ts";
import { parseFlags } from "./flags.ts";
import { UsageError, type Command } from "./command.ts";
import { compileFiles } from "./files.ts";

const COMPILE_USAGE = `usage: canal compile [flags] <file|dir>...

Reads Kubernetes YAML (multi-document; Services, Gateways, VirtualServices, DestinationRules,
InternalGateways; other kinds are ignored) and prints each InternalGateway's route table as JSON:
{"<namespace>/<name>": <table>, ...}. A directory stands for its *.yaml/*.yml files. With no
InternalGateway and exactly one Gateway, an implied InternalGateway serves that Gateway. A
VirtualService that no table uses (a lone Istio file, no Gateway) is still validated on its own.

Every problem is printed to stderr as 'file:line: field: message (Reason)'. Any problem makes
the exit status 1 and nothing is printed on stdout, unless --allow-rejected.

flags:
  --allow-rejected         print the tables even when objects or fields were rejected (exit 0)
  --gateway NS/NAME        print only this InternalGateway's table (the bare table)
  -o, --output FORMAT      tables (default) | full: also clusters, DNS plan, counts, problems
  --namespace NS           namespace of objects that have none (default: default)
  --cluster-domain DOMAIN  Kubernetes cluster domain (default: cluster.local)
  -q, --quiet              no notes on stderr (problems are still printed)
  -h, --help               this help

examples:
  canal compile examples/helloworld
  canal compile --gateway istio-system/canal gateway.yaml vs.yaml > table.json
`;

export interface CompileFlags {
  paths: string[];
  allowRejected: boolean;
  gateway?: string;
  output: "tables" | "full";
  namespace: string;
  clusterDomain: string;
  quiet: boolean;
}

export function parseCompileFlags(args: string[]): CompileFlags | "help" {
  const { values, positionals } = parseFlags("compile", {
    args,
    allowPositionals: true,
    options: {
      "allow-rejected": { type: "boolean", default: false },
      gateway: { type: "string" },
      output: { type: "string", short: "o", default: "tables" },
      namespace: { type: "string", default: "default" },
      "cluster-domain": { type: "string", default: "cluster.local" },
      quiet: { type: "boolean", short: "q", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (positionals.length === 0) throw new UsageError("canal compile: no files given; usage: canal compile [flags] <file|dir>...");
  const output = values.output as string;
  if (output !== "tables" && output !== "full") throw new UsageError(`canal compile: --output must be tables or full, got "${output}"`);
  const gateway = values.gateway;
  if (gateway !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(gateway)) throw new UsageError(`canal compile: --gateway must be NAMESPACE/NAME, got "${gateway}"`);
  const flags: CompileFlags = {
    paths: positionals,
    allowRejected: values["allow-rejected"] as boolean,
    output,
    namespace: values.namespace as string,
    clusterDomain: values["cluster-domain"] as string,
    quiet: values.quiet as boolean,
  };
  if (gateway !== undefined) flags.gateway = gateway;
  return flags;
}

/** What stdout gets: tables keyed by InternalGateway, or one bare table, or the full results. */
function outputValue(gateways: GatewayResult[], flags: CompileFlags): unknown {
  const single = flags.gateway !== undefined;
  if (flags.output === "full") return single ? gateways[0] : gateways;
  if (single) return gateways[0]?.table;
  return Object.fromEntries(gateways.map((g) => [`${g.ref.namespace}/${g.ref.name}`, g.table]));
}

export const compileCommand: Command = {
  summary: "translate Istio YAML files into the route table(s) and print them as JSON; problems as file:line",
  async run(args: string[]): Promise<number> {
    const flags = parseCompileFlags(args);
    if (flags === "help") {
      process.stdout.write(COMPILE_USAGE);
      return 0;
    }
    let files: string[];
    try {
      files = listYamlFiles(flags.paths);
    } catch (err) {
      process.stderr.write(`canal compile: ${(err as Error).message}\n`);
      return 1;
    }
    const out = compileFiles(files, { validateRegex: loadRegexValidator(), clusterDomain: flags.clusterDomain, defaultNamespace: flags.namespace });
    // Each object's own errors first, then what they mean for the tables.
    for (const e of out.errors) process.stderr.write(`${e}\n`);
    if (!flags.quiet) for (const n of out.notes) process.stderr.write(`canal compile: ${n}\n`);
    const key = (g: GatewayResult): string => `${g.ref.namespace}/${g.ref.name}`;
    const gateways = out.result.gateways.filter((g) => flags.gateway === undefined || key(g) === flags.gateway);
    if (flags.gateway !== undefined && gateways.length === 0) {
      process.stderr.write(`canal compile: no InternalGateway ${flags.gateway} in the files (found: ${out.result.gateways.map(key).join(", ") || "none"})\n`);
      return 1;
    }
    const rejected = out.errors.length > 0;
    if (!flags.quiet && rejected) {
      process.stderr.write(`canal compile: ${out.errors.length} problem(s)${flags.allowRejected ? "; printing the tables anyway (--allow-rejected)" : "; no table printed (pass --allow-rejected to print it anyway)"}\n`);
    }
    if ((rejected && !flags.allowRejected) || gateways.length === 0) return 1;
    const value = outputValue(gateways, flags);
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return 0;
  },
};
