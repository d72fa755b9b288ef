// Sharded WasmPlugin mode (ADR 0005) in real Envoy 1.40, bootstrapped the way istiod programs a
// gateway: a data listener whose Canal filter is the router (`{"format":1,"shardedTable":{key}}`),
// and a loopback table listener carrying one Canal filter per shard and one for the manifest, each
// over ECDS from its own file. Every filter has its own vm_config environment (as istiod's
// per-WasmPlugin resourceVersion), so no two share a VM (test/envoy/wasm-vm-key.test.ts): the
// shard bytes reach the router only through Envoy's shared data. Checked: 503 until the manifest's
// every shard is there, routing and the probe's version once complete, a one-shard update visible
// after a tick with one shard compiled, a stale shard keeping the last complete table.
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EnvoyConfig, Json } from "../../envoy/bootstrap.ts";
import { TYPED_EXTENSION_CONFIG_TYPE_URL, WASM_TYPE_URL, canalRouteConfig, renderCluster } from "../../envoy/bootstrap.ts";
import type { RouteTable } from "../../schema/route-table.ts";
import { planShards, type ShardPlan } from "../../controller/src/translate/shards.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { clusterName } from "../support/gateway.ts";
import { jsonBody, request } from "../support/http.ts";
import { LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { table, to, vhost } from "../support/tables.ts";
import { startUpstream, type Echo, type Upstream } from "../support/upstream.ts";
import { ensureCanalWasm } from "../support/wasm.ts";

const KEY = "canal.io/istio-system/canal";
const K = 4;
const HOSTS = 12;
const SERVICES = ["alpha", "beta"];

function tableOf(version: string, changedHost = -1): RouteTable {
  return table(
    version,
    Array.from({ length: HOSTS }, (_, i) => vhost(`ns/svc-${i}`, [`svc-${i}.ns`, `svc-${i}.ns.svc.cluster.local`], [{ route: to(i === changedHost ? "beta" : "alpha") }])),
  );
}

function plan(t: RouteTable): ShardPlan {
  const p = planShards(t, KEY, { maxShards: K, targetBytes: 1, boundBytes: 100_000_000 });
  expect(p.shards).toHaveLength(K);
  return p;
}

const STRING_VALUE = "type.googleapis.com/google.protobuf.StringValue";
let writes = 0;

/** A Canal filter's Wasm config with `doc` as its plugin configuration and its own VM environment. */
function wasmConfig(name: string, doc: string, wasm: string): EnvoyConfig {
  writes += 1;
  return {
    "@type": WASM_TYPE_URL,
    config: {
      name,
      root_id: "canal",
      vm_config: {
        vm_id: "",
        runtime: "envoy.wasm.runtime.v8",
        code: { local: { filename: wasm } },
        // As istiod's ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION: every plugin and every update its own VM.
        environment_variables: { key_values: { CANAL_TEST_PLUGIN: `${name}-${writes}` } },
      },
      configuration: { "@type": STRING_VALUE, value: doc },
      failure_policy: "FAIL_RELOAD",
    },
  };
}

class ShardedGateway {
  constructor(
    readonly envoy: EnvoyProcess,
    readonly dir: string,
    readonly wasm: string,
    readonly upstreams: Upstream[],
  ) {}

  /** Writes carrier `name`'s ECDS file by atomic rename into its watched directory. */
  write(name: string, doc: string): void {
    const path = join(this.dir, name, "config.json");
    const response = {
      version_info: `v${writes + 1}`,
      type_url: TYPED_EXTENSION_CONFIG_TYPE_URL,
      resources: [{ "@type": TYPED_EXTENSION_CONFIG_TYPE_URL, name, typed_config: wasmConfig(name, doc, this.wasm) as Json }],
    };
    writeFileSync(`${path}.tmp`, JSON.stringify(response));
    renameSync(`${path}.tmp`, path);
  }

  send(host: string, path = "/"): Promise<{ status: number; body: string; upstream?: string; version?: string }> {
    return request({ port: this.envoy.port("data"), host, path }).then((res) => {
      const v = res.headers["x-canal-table"];
      return {
        status: res.status,
        body: res.body,
        upstream: res.status === 200 && res.headers["x-canal-table"] === undefined ? jsonBody<Echo>(res).upstream : undefined,
        version: Array.isArray(v) ? v[0] : v,
      };
    });
  }

  probe(): Promise<{ status: number; body: string; version?: string }> {
    return this.send("canal-probe.invalid");
  }

  /** Polls the probe until it answers 200 with `version`. */
  async serving(version: string): Promise<void> {
    await pollUntil(`the router to serve ${version}`, async () => {
      const p = await this.probe();
      return p.status === 200 && p.version === version ? true : undefined;
    }, { timeoutMs: 15_000, onTimeout: () => this.envoy.logTail(60) });
  }

  async stop(): Promise<void> {
    await this.envoy.stop();
    await Promise.all(this.upstreams.map((u) => u.close()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const CARRIERS = ["canal-manifest", ...Array.from({ length: K }, (_, i) => `canal-shard-${i}`)];

function hcm(prefix: string, routeConfig: EnvoyConfig, filters: EnvoyConfig[]): EnvoyConfig {
  return {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      stat_prefix: prefix,
      route_config: routeConfig,
      http_filters: [...filters, { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
    } as Json,
  };
}

async function startShardedGateway(): Promise<ShardedGateway> {
  const wasm = ensureCanalWasm();
  const dir = mkdtempSync(join(tmpdir(), "canal-shards-"));
  const upstreams: Upstream[] = [];
  for (const s of SERVICES) upstreams.push(await startUpstream(s));
  const gwStub = new ShardedGateway(undefined as unknown as EnvoyProcess, dir, wasm, upstreams);
  // Every carrier starts with the empty configuration (table mode, nothing carried): not arrived yet.
  for (const name of CARRIERS) {
    mkdirSync(join(dir, name));
    gwStub.write(name, "");
  }
  const carrier = (name: string): EnvoyConfig => ({
    name,
    config_discovery: {
      config_source: { resource_api_version: "V3", path_config_source: { path: join(dir, name, "config.json"), watched_directory: { path: join(dir, name) } } },
      default_config: wasmConfig(name, "", wasm) as Json,
      apply_default_config_without_warming: true,
      type_urls: [WASM_TYPE_URL],
    },
  });
  const config: EnvoyConfig = {
    node: { id: "canal-shards", cluster: "canal-shards" },
    admin: { address: { socket_address: { address: LOOPBACK, port_value: 0 } } },
    static_resources: {
      listeners: [
        {
          name: "data",
          address: { socket_address: { address: LOOPBACK, port_value: 0 } },
          filter_chains: [{ filters: [hcm("data", canalRouteConfig(), [{ name: "canal", typed_config: wasmConfig("canal", JSON.stringify({ format: 1, shardedTable: { key: KEY } }), wasm) as Json }])] }],
        },
        {
          name: "table",
          address: { socket_address: { address: LOOPBACK, port_value: 0 } },
          filter_chains: [{ filters: [hcm("table", { virtual_hosts: [{ name: "t", domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 404 } }] }] }, CARRIERS.map(carrier))] }],
        },
      ],
      clusters: SERVICES.map((s, i) => renderCluster({ name: clusterName(s), host: LOOPBACK, port: upstreams[i]!.port })) as Json[],
    },
  };
  try {
    const envoy = await startEnvoy({ name: "shards", config, concurrency: 2 });
    return new ShardedGateway(envoy, dir, wasm, upstreams);
  } catch (err) {
    await Promise.all(upstreams.map((u) => u.close()));
    throw err;
  }
}

let gw: ShardedGateway;
const V1 = tableOf("sha256:sharded-1");
const P1 = plan(V1);

beforeAll(async () => {
  gw = await startShardedGateway();
}, 120_000);

afterAll(async () => {
  await gw?.stop();
});

/** The HTTP filter names of a static listener, from Envoy's config dump. */
async function httpFilters(listener: string): Promise<string[]> {
  type Dump = { configs: { dynamic_listeners?: unknown; static_listeners?: { listener: { name: string; filter_chains: { filters: { typed_config: { http_filters: { name: string }[] } }[] }[] } }[] }[] };
  const dump = JSON.parse(await gw.envoy.admin("/config_dump?resource=static_listeners")) as Dump;
  const all = dump.configs.flatMap((c) => c.static_listeners ?? [c as unknown as { listener: { name: string; filter_chains: { filters: { typed_config: { http_filters: { name: string }[] } }[] }[] } }]);
  const l = all.find((x) => x.listener?.name === listener);
  return l?.listener.filter_chains[0]?.filters[0]?.typed_config.http_filters.map((f) => f.name) ?? [];
}

describe("sharded WasmPlugin mode in Envoy", () => {
  it("before any manifest: requests and the probe get 503 naming the manifest", async () => {
    const r = await gw.send("svc-0.ns");
    expect(r.status).toBe(503);
    expect(r.body).toBe(`canal: table incomplete (manifest missing: ${KEY}/manifest)\n`);
    expect((await gw.probe()).status).toBe(503);
  });

  it("with a shard missing: still 503, naming it; the data path holds no carrier", async () => {
    for (const s of P1.shards) if (s.index !== 2) gw.write(`canal-shard-${s.index}`, JSON.stringify(s));
    gw.write("canal-manifest", JSON.stringify(P1.manifest));
    const body = `canal: table incomplete (shards missing: 2; manifest ${V1.version} of ${K} shards)\n`;
    await pollUntil("the router to name shard 2 as missing", async () => ((await gw.send("svc-0.ns")).body === body ? true : undefined), {
      timeoutMs: 15_000,
      onTimeout: () => gw.envoy.logTail(60),
    });
    expect((await gw.probe()).status).toBe(503);
    // Envoy's view of the data listener: one Wasm filter (the router), then Envoy's router.
    expect(await httpFilters("data")).toEqual(["canal", "envoy.filters.http.router"]);
    expect(await httpFilters("table")).toEqual([...CARRIERS, "envoy.filters.http.router"]);
  });

  it("once complete: every host routes, an unknown host is the usual 404, the probe reports the manifest version", async () => {
    gw.write("canal-shard-2", JSON.stringify(P1.shards[2]));
    await gw.serving(V1.version);
    for (let i = 0; i < HOSTS; i++) expect((await gw.send(`svc-${i}.ns`)).upstream).toBe("alpha");
    const miss = await gw.send("nobody.example", "/x");
    expect(miss.status).toBe(404);
    expect(miss.body).toBe('canal: no route for host "nobody.example" path "/x"\n');
  });

  it("a one-shard update is served after a tick, compiling one shard; a stale shard keeps the complete table", async () => {
    const v2 = tableOf("sha256:sharded-2", 5);
    const p2 = plan(v2);
    const changed = p2.shards.filter((s, i) => s.version !== P1.shards[i]!.version);
    expect(changed).toHaveLength(1);
    const name = `canal-shard-${changed[0]!.index}`;
    // The manifest first: the shard it names is stale until its carrier updates.
    gw.write("canal-manifest", JSON.stringify(p2.manifest));
    await pollUntil("the router to see the stale shard", () => (gw.envoy.log().includes(`table incomplete (shards stale: ${changed[0]!.index}; manifest ${v2.version}`) ? true : undefined), {
      timeoutMs: 15_000,
      onTimeout: () => gw.envoy.logTail(60),
    });
    expect(await gw.probe()).toMatchObject({ status: 200, version: V1.version });
    expect((await gw.send("svc-5.ns")).upstream).toBe("alpha");
    const t0 = Date.now();
    gw.write(name, JSON.stringify(changed[0]));
    await gw.serving(v2.version);
    const ms = Date.now() - t0;
    expect((await gw.send("svc-5.ns")).upstream).toBe("beta");
    expect((await gw.send("svc-4.ns")).upstream).toBe("alpha");
    // Both workers' routers (and the main thread's) compiled only the changed shard.
    const loads = gw.envoy.log().split("\n").filter((l) => l.includes(`loaded route table ${v2.version} from ${K} shards`));
    expect(loads.length).toBeGreaterThanOrEqual(2);
    for (const l of loads) expect(l).toContain("(1 compiled)");
    console.log(`shards-envoy: one shard update served ${ms} ms after its ECDS file was written`);
  });
});
