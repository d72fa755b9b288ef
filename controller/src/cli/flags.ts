// Flag parsing shared by the subcommands: node:util parseArgs in strict mode, and any error as
// one UsageError line naming the subcommand (the dispatcher prints it and exits 2).
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./command.ts";

export function parseFlags<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>({ strict: true, ...config });
  } catch (err) {
    throw new UsageError(`canal ${command}: ${(err as Error).message}; see canal ${command} --help`);
  }
}

/** Help text of --system-namespaces (controller and plan say the same). */
export const SYSTEM_NAMESPACES_USAGE = `  --system-namespaces NS,...  namespaces whose Services are never redirected in DNS, besides
                           kube-system and the controller's own (--namespace) (default: none)
`;

/** kube-system, `own` and the comma-separated `raw`, each a namespace name, without duplicates. */
export function systemNamespaces(command: string, raw: string | undefined, own: string): string[] {
  const extra = raw === undefined || raw === "" ? [] : raw.split(",").map((s) => s.trim());
  const bad = extra.find((s) => !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s));
  if (bad !== undefined) throw new UsageError(`canal ${command}: --system-namespaces: ${JSON.stringify(bad)} is not a namespace name`);
  return [...new Set(["kube-system", own, ...extra])];
}
