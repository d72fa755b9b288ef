// `canal dev` as a real process with real Envoy (func-e): a request routes as the example says,
// an edit in a temp copy of the folder changes where it goes, a bad edit keeps the last good
// table and prints file:line, and SIGTERM leaves no child process behind.
import { execFileSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, request } from "../support/http.ts";
import { freePort, LOOPBACK } from "../support/ports.ts";
import { pollUntil, spawnTracked, stopTracked } from "../support/processes.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { canal, CANAL, REPO } from "./run.ts";

let dir: string;
let proc: ChildProcess;
let port: number;
let adminPort: number;
let out = "";

function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  return pollUntil(what, probe, { timeoutMs, intervalMs: 100, onTimeout: () => `canal dev output:\n${out}` });
}

/** The demo backend that answered, or the status code. */
async function upstreamOf(path: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await request({ port, host: "helloworld", path, headers, timeoutMs: 5000 });
  return res.status === 200 ? jsonBody<{ upstream: string }>(res).upstream : String(res.status);
}

function waitRoute(path: string, headers: Record<string, string>, expected: string): Promise<boolean> {
  return until(`${path} ${JSON.stringify(headers)} → ${expected}`, async () => ((await upstreamOf(path, headers)) === expected ? true : undefined));
}

/** Every process below `pid` (ps, recursively). */
function descendants(pid: number): number[] {
  const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, parent] of rows) if (parent === p) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const VS = (): string => join(dir, "virtualservice.yaml");

beforeAll(async () => {
  ensureCanalWasm();
  dir = mkdtempSync(join(tmpdir(), "canal-dev-test-"));
  cpSync(join(REPO, "examples", "helloworld"), dir, { recursive: true });
  [port, adminPort] = [await freePort(), await freePort()];
  const ecdsPort = await freePort();
  proc = spawnTracked(process.execPath, [CANAL, "dev", "--dir", dir, "--port", String(port), "--admin-port", String(adminPort), "--ecds-port", String(ecdsPort), "--debounce-ms", "100"], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  await until("canal dev to say it is running", () => (out.includes("Canal is running") ? true : proc.exitCode !== null ? Promise.reject(new Error(`exited ${proc.exitCode}`)) : undefined), 120_000);
}, 180_000);

afterAll(async () => {
  if (proc) await stopTracked(proc);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("canal dev", () => {
  it("prints what to try, and requests route as examples/helloworld says", async () => {
    expect(out).toContain(`curl -s -H 'host: helloworld' -H 'x-canary: true' http://127.0.0.1:${port}/`);
    expect(out).toContain(`curl -s -H 'host: helloworld' http://127.0.0.1:${port}/hello`);
    expect(out).toMatch(/Envoy runs table sha256:[0-9a-f]{64}/);
    expect(await upstreamOf("/", { "x-canary": "true" })).toBe("helloworld-v2");
    // /hello: 90/10 between v1 and v2; only those two ever answer.
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add(await upstreamOf("/hello"));
    expect([...seen].every((u) => u === "helloworld-v1" || u === "helloworld-v2")).toBe(true);
    expect(seen.has("helloworld-v1")).toBe(true);
    // No route for / without the header: the filter's 404.
    expect(await upstreamOf("/")).toBe("404");
  }, 60_000);

  it("an edit changes where the request goes", async () => {
    const text = readFileSync(VS(), "utf8");
    writeFileSync(VS(), text.replace(/subset: v2\n(\s+)# Everyone/, "subset: v1\n$1# Everyone").replace("subset: v2\n    # Everyone", "subset: v1\n    # Everyone"));
    expect(readFileSync(VS(), "utf8")).not.toBe(text);
    await waitRoute("/", { "x-canary": "true" }, "helloworld-v1");
  }, 60_000);

  it("a bad edit prints file:line: field: message and keeps the last good table", async () => {
    const good = readFileSync(VS(), "utf8");
    const before = out.length;
    writeFileSync(VS(), good.replace('exact: "true"', "exact: [true]"));
    const line = good.split("\n").findIndex((l) => l.includes('exact: "true"')) + 1;
    const expected = `${VS()}:${line}: spec.http[0].match[0].headers[x-canary].exact: expected a string, got a list; the VirtualService is ignored until this is fixed (InvalidField)`;
    await until("the error line", () => (out.slice(before).includes(expected) ? true : undefined));
    await until("the keep message", () => (/keeping the last good table sha256:/.test(out.slice(before)) ? true : undefined));
    expect(await upstreamOf("/", { "x-canary": "true" })).toBe("helloworld-v1");
    // A YAML syntax error: same.
    const mark = out.length;
    writeFileSync(VS(), good.replace("  http:\n", "  http: [\n"));
    await until("the YAML error", () => (new RegExp(`${VS().replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:\\d+: YAML: `).test(out.slice(mark)) ? true : undefined));
    expect(await upstreamOf("/", { "x-canary": "true" })).toBe("helloworld-v1");
    // Fixed again: routing follows the file.
    writeFileSync(VS(), good.replace("subset: v1\n    # Everyone", "subset: v2\n    # Everyone"));
    await waitRoute("/", { "x-canary": "true" }, "helloworld-v2");
  }, 90_000);

  it("a new Service and VirtualService: a new backend, Envoy restarted with its cluster", async () => {
    writeFileSync(join(dir, "ratings.yaml"), `apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default}
spec: {ports: [{port: 9080, name: http}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: istio-system}
spec:
  hosts: [ratings.default.svc.cluster.local]
  gateways: [canal]
  http:
  - route: [{destination: {host: ratings.default.svc.cluster.local}}]
`);
    await until("ratings routed", async () => {
      const res = await request({ port, host: "ratings", path: "/r", timeoutMs: 5000 }).catch(() => undefined);
      return res?.status === 200 && jsonBody<{ upstream: string }>(res).upstream === "ratings" ? true : undefined;
    }, 60_000);
    expect(out).toContain("restarting Envoy");
  }, 90_000);

  it("SIGTERM stops Envoy, func-e and the backends; exit 0", async () => {
    const children = descendants(proc.pid ?? -1);
    expect(children.length).toBeGreaterThanOrEqual(2); // func-e and Envoy
    const exited = once(proc, "exit");
    proc.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    await until("every child gone", () => (children.every((p) => !alive(p)) ? true : undefined), 10_000);
    // The ports are free again.
    for (const p of [port, adminPort]) {
      const s: Server = createServer();
      await new Promise<void>((resolve, reject) => s.once("error", reject).listen(p, LOOPBACK, () => resolve()));
      await new Promise((r) => s.close(r));
    }
  }, 30_000);
});

describe("canal dev refuses to start", () => {
  it("a folder with errors: the file:line lines, one line why, exit 1, nothing started", async () => {
    const bad = mkdtempSync(join(tmpdir(), "canal-dev-bad-"));
    try {
      cpSync(join(REPO, "examples", "helloworld"), bad, { recursive: true });
      writeFileSync(join(bad, "broken.yaml"), "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  namespace: [default\n");
      const ports = [await freePort(), await freePort(), await freePort()].map(String);
      const r = await canal(["dev", "--dir", bad, "--port", ports[0] as string, "--admin-port", ports[1] as string, "--ecds-port", ports[2] as string]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`^${join(bad, "broken.yaml").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:\\d+: YAML: `, "m"));
      expect(r.stdout).not.toContain("starting Envoy");
      expect(r.stderr).toBe(`canal dev: ${bad} has errors (above); fix them and run canal dev again\n`);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  }, 30_000);

  it("a busy port: one clear line and exit 1", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, LOOPBACK, () => r()));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const r = await canal(["dev", "--port", String(busy)]);
      expect([r.code, r.stderr]).toEqual([1, `canal dev: port ${busy} on 127.0.0.1 for the gateway listener is already in use (another canal dev or make run?); pass --port to use another\n`]);
    } finally {
      blocker.close();
    }
  }, 30_000);
});
