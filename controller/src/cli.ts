// `canal` — the command line: a table of subcommands, each in its own module under cli/.
// Every subcommand parses its own flags and prints its own --help.
import type { Command } from "./cli/command.ts";
import { UsageError } from "./cli/command.ts";
import { controllerCommand } from "./cli/controller-command.ts";
import { compileCommand } from "./cli/compile-command.ts";
import { devCommand } from "./cli/dev-command.ts";
import { statusCommand } from "./cli/status-command.ts";
import { planCommand } from "./cli/plan-command.ts";

export { UsageError } from "./cli/command.ts";
export { parseControllerFlags, runController, type ControllerConfig } from "./cli/controller-command.ts";

/** Subcommands in the order `canal --help` lists them. Add a line here for a new one. */
const COMMANDS: Record<string, Command> = {
  controller: controllerCommand,
  compile: compileCommand,
  dev: devCommand,
  status: statusCommand,
  plan: planCommand,
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 3;
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return `usage: canal <command> [flags]\n\ncommands:\n${lines.join("\n")}\n\nrun 'canal <command> --help' for its flags.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`canal: unknown command "${name}"; run canal --help for the list\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(err.message + "\n");
      return 2;
    }
    process.stderr.write(`canal ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}
