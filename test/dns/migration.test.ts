// The seed users' question — "how can we avoid breaking traffic for the running applications?" —
// answered with real processes: a client on loopback resolves helloworld through the real CoreDNS
// (caching each answer for its TTL, as a caching resolver would) and sends requests continuously
// while the controller moves the Service onto the real Envoy gateway (ECDS) and back, twice.
// Every request must succeed. The Service's "ClusterIP" and the gateway Service's address are
// loopback addresses from the test API server's service range, where the upstream and Envoy listen.
import { createServer, request as httpRequest, type Server } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { renderCanalBootstrap } from "../../envoy/bootstrap.ts";
import { EcdsPublisher } from "../../controller/src/sinks/ecds-publisher.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { udpLookup } from "../support/coredns.ts";
import { pollUntil } from "../support/processes.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { freePortOn, listenOn, LOOPBACK } from "../support/ports.ts";
import { gatewayYaml, serviceYaml, startDnsEnv, VS_PATH, vsYaml, waitA, waitEntry, type DnsEnv } from "./env.ts";

const FQDN = "helloworld.default.svc.cluster.local";
const MIN_REQUESTS = 2000;
const MAX_REQUESTS = 30_000;
const MAX_MS = 150_000;

let env: DnsEnv;
let publisher: EcdsPublisher;
let upstream: Server;
let envoy: EnvoyProcess | undefined;
let G: string;
let S: string;
let P: number;

beforeAll(async () => {
  env = await startDnsEnv("dns-migration");
  G = `${env.prefix}.0.60`;
  S = `${env.prefix}.12.7`;
  P = await freePortOn([G, S]);
  upstream = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/plain", "x-upstream": "helloworld" });
    res.end("hello from helloworld\n");
  });
  await listenOn(upstream, S, P);
  publisher = new EcdsPublisher({ code: { local: ensureCanalWasm() } });
  const { port: adsPort } = await publisher.server.start(`${LOOPBACK}:0`);
  await env.api.applyYaml(`${gatewayYaml({ addresses: [G], ports: [P] })}---\n${serviceYaml("helloworld", S, [P])}`);
  // The gateway Service's endpoint (10.1.0.5) is this Envoy: the controller probes it at G:P.
  await env.startController({ identity: "migration", publisher, wasmPlugin: false, dns: { probe: { dial: () => ({ host: G, port: P }), fastMs: 100 } } });
  envoyConfig = renderCanalBootstrap({
    listenerPort: P,
    listenerAddress: G,
    adminPort: 0,
    wasmPath: ensureCanalWasm(),
    nodeId: "gw-migration",
    nodeCluster: "istio-system/canal",
    table: { kind: "ads", adsCluster: { name: "canal-controller", host: LOOPBACK, port: adsPort } },
    clusters: [{ name: `outbound|${P}||${FQDN}`, host: S, port: P }],
  });
}, 240_000);

let envoyConfig: ReturnType<typeof renderCanalBootstrap>;

afterAll(async () => {
  await envoy?.stop();
  await env?.stop();
  await publisher?.server.stop();
  await new Promise((r) => upstream?.close(r));
});

const VS = vsYaml("helloworld", "helloworld");

interface Outcome {
  ip: string;
  status: number | string;
  upstream?: string;
}

/** One request to http://ip:P/hello with the Service's host name, on a fresh connection. */
function send(ip: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: ip, port: P, path: "/hello", headers: { host: `${FQDN}:${P}` }, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ ip, status: res.statusCode ?? 0, upstream: res.headers["x-upstream"] as string | undefined }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ ip, status: err.message }));
    req.end();
  });
}

it("moving a Service onto the gateway and back under continuous load fails no request; gating waits until the gateway serves the table", async () => {
  // Without a gateway, nothing answers the delivery probe: DNS must not move.
  await env.api.applyYaml(VS);
  const pending = await waitEntry(env.api, FQDN, "Pending", "RoutesNotServed");
  expect(pending.message).toContain("10.1.0.5");
  expect(pending.message).toContain("NoGateways");
  expect(await env.dns.query(FQDN, "A")).toEqual([S]);
  await env.api.delete(`${VS_PATH}/helloworld`);

  envoy = await startEnvoy({ name: "dns-migration-gw", config: envoyConfig, concurrency: 1 });

  // The client: resolves through CoreDNS over UDP, keeps each answer for its TTL (a caching
  // resolver: the strictest client for the drain), retries a lost UDP query like a stub resolver.
  const outcomes: Outcome[] = [];
  let dnsRetries = 0;
  let cached: { ip: string; until: number } | undefined;
  let stop = false;
  const started = Date.now();
  const client = (async () => {
    while (!stop && outcomes.length < MAX_REQUESTS && Date.now() - started < MAX_MS) {
      if (cached === undefined || Date.now() >= cached.until) {
        let answer;
        for (let attempt = 0; answer === undefined; attempt++) {
          try {
            answer = await udpLookup(env.dns.port, FQDN, "A", 1000);
          } catch (err) {
            dnsRetries++;
            if (attempt >= 3) throw err;
          }
        }
        const a = answer.answers.find((r) => r.type === "A");
        if (a === undefined) throw new Error(`no A record for ${FQDN}: ${JSON.stringify(answer)}`);
        cached = { ip: a.data, until: Date.now() + a.ttl * 1000 };
      }
      outcomes.push(await send(cached.ip));
      await new Promise((r) => setTimeout(r, 3));
    }
  })();

  const count = (pred: (o: Outcome) => boolean): number => outcomes.filter(pred).length;
  try {
    for (let round = 0; round < 2; round++) {
      const baseline = outcomes.length;
      await pollUntil("some requests straight to the Service", () => (count((o) => o.ip === S) > 0 && outcomes.length > baseline + 100 ? true : undefined), { timeoutMs: 30_000 });
      await env.api.applyYaml(VS);
      await waitA(env.dns, FQDN, [G], 30_000);
      const moved = outcomes.length;
      await pollUntil("requests through the gateway", () => (outcomes.slice(moved).filter((o) => o.ip === G).length > 200 ? true : undefined), { timeoutMs: 60_000 });
      await env.api.delete(`${VS_PATH}/helloworld`);
      await waitA(env.dns, FQDN, [S], 30_000);
      const back = outcomes.length;
      await pollUntil("requests straight to the Service again", () => (outcomes.slice(back).filter((o) => o.ip === S).length > 200 ? true : undefined), { timeoutMs: 60_000 });
      // the drain must be over before the next round (the table lost the drained routes)
      await pollUntil("the drain to end", async () => (((await env.canalDns()).data?.["canal-state.json"] ?? "").includes('"draining": []') ? true : undefined), { timeoutMs: 30_000 });
    }
    await pollUntil(`at least ${MIN_REQUESTS} requests`, () => (outcomes.length >= MIN_REQUESTS ? true : undefined), { timeoutMs: 60_000 });
  } finally {
    stop = true;
    await client;
  }
  const failed = outcomes.filter((o) => o.status !== 200 || o.upstream !== "helloworld");
  const viaGateway = count((o) => o.ip === G);
  const direct = count((o) => o.ip === S);
  console.log(`migration under load: ${outcomes.length} requests (${viaGateway} through the gateway, ${direct} direct), ${failed.length} failed, ${dnsRetries} DNS retries`);
  expect(failed.slice(0, 5)).toEqual([]);
  expect(outcomes.length).toBeGreaterThanOrEqual(MIN_REQUESTS);
  expect(viaGateway).toBeGreaterThan(400);
  expect(direct).toBeGreaterThan(400);
}, 400_000);
