// The filter's table loader against the shared corpus (test/tables): valid tables load, invalid
// ones are rejected with a log line that starts with the expected field path, and a rejected
// table never replaces the one that is serving.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LogLevel } from "./host.js";
import { send, startCanal } from "./canal.js";

const tables = join(import.meta.dirname, "..", "tables");

function corpus(dir: string): Array<[string, unknown]> {
  return readdirSync(join(tables, dir))
    .filter((f) => f.endsWith(".json"))
    .map((f) => [f, JSON.parse(readFileSync(join(tables, dir, f), "utf8"))]);
}

const serving = { format: 1, version: "serving-v1", virtualHosts: [] };

describe("valid tables load", () => {
  it.each(corpus("valid"))("%s", async (_name, table) => {
    const host = await startCanal(serving);
    expect(host.configure(JSON.stringify(table))).toBe(true);
    const version = (table as { version: string }).version;
    expect(host.logMessages(LogLevel.info)).toContainEqual(expect.stringMatching(new RegExp(`^canal: loaded route table ${version.replace(/[.:]/g, "\\$&")}: `)));
    // The new table serves: its version is on the filter's own 404s (a catch-all has none).
    const domains = (table as { virtualHosts: Array<{ domains: string[] }> }).virtualHosts.flatMap((v) => v.domains);
    const out = send(host, "/definitely-unrouted", { ":authority": "unknown.invalid" });
    if (domains.includes("*")) expect(out.cluster).toBeDefined();
    else expect(out.local?.headers).toContainEqual(["x-canal-table", version]);
  });
});

describe("invalid tables are rejected with the field path, last good table kept", () => {
  it.each(corpus("invalid"))("%s", async (_name, entry) => {
    const { table, error } = entry as { table: unknown; error: string };
    const host = await startCanal(serving);
    host.clearLogs();
    const raw = typeof table === "string" ? table : JSON.stringify(table);
    expect(host.configure(raw)).toBe(false);
    const errors = host.logMessages(LogLevel.error);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`canal: rejected route table: ${error}`);
    expect(errors[0]).toContain("(still serving table serving-v1)");
    const out = send(host, "/x", { ":authority": "anything.example" });
    expect(out.local?.status).toBe(404);
    expect(out.local?.headers).toContainEqual(["x-canal-table", "serving-v1"]);
  });
});

it("an empty configuration is the empty table: everything is a 404 that says why", async () => {
  const host = await startCanal("");
  const out = send(host, "/hello?x=1", { ":authority": "helloworld.default:5000" });
  expect(out.local?.status).toBe(404);
  expect(out.local?.bodyText).toBe('canal: no route for host "helloworld.default:5000" path "/hello"\n');
  expect(out.local?.headers).toContainEqual(["x-canal-table", "empty"]);
});
