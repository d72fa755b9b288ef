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
