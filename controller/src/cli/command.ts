// The contract every `canal` subcommand implements, so the dispatcher in ../cli.ts stays a table.

export interface Command {
  /** One line for `canal --help`. */
  summary: string;
  /** Runs the subcommand with its own arguments (after the subcommand name); resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

export { UsageError } from "../common/errors.ts";

/** Resolves on the first SIGINT or SIGTERM: long-running subcommands stop cleanly on either. */
export function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}
