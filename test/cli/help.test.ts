// Every subcommand answers --help (exit 0, its usage on stdout) and a bad flag with one line on
// stderr and exit 2; the dispatcher lists every subcommand.
import { describe, expect, it } from "vitest";
import { canal } from "./run.ts";

const SUBCOMMANDS = ["controller", "compile", "dev", "status", "plan"];

describe("canal --help", () => {
  it("lists every subcommand", async () => {
    const r = await canal(["--help"]);
    expect(r.code).toBe(0);
    for (const s of SUBCOMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${s} +\\S`, "m"));
  }, 30_000);

  it.each(SUBCOMMANDS)("canal %s --help: usage on stdout, exit 0", async (name) => {
    const r = await canal([name, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout.startsWith(`usage: canal ${name} [flags]`)).toBe(true);
    expect(r.stdout).toContain("-h, --help");
  }, 30_000);

  it.each(SUBCOMMANDS)("canal %s --no-such-flag: one line on stderr, exit 2", async (name) => {
    const r = await canal([name, "--no-such-flag"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")).toHaveLength(2); // one line + the final newline
    expect(r.stderr).toMatch(new RegExp(`^canal ${name}: .*--no-such-flag.*\\n$`));
  }, 30_000);

  it.each([
    [["dev", "--port", "http"], "canal dev: --port must be a port number 1-65535, got \"http\"\n"],
    [["status", "-n", "a", "-A"], "canal status: pass either -n NAMESPACE or -A, not both\n"],
    [["status", "-o", "yaml"], "canal status: --output must be text or json, got \"yaml\"\n"],
    [["compile", "-o", "xml", "x.yaml"], "canal compile: --output must be tables or full, got \"xml\"\n"],
  ])("bad values: %j", async (args, line) => {
    const r = await canal(args);
    expect([r.code, r.stderr]).toEqual([2, line]);
  }, 30_000);

  it("an unknown subcommand: one line, exit 2", async () => {
    const r = await canal(["frobnicate"]);
    expect([r.code, r.stderr]).toEqual([2, 'canal: unknown command "frobnicate"; run canal --help for the list\n']);
  }, 30_000);
});
