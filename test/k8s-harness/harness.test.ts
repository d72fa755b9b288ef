// The test API server harness (test/support/k8s.ts) against the real etcd and kube-apiserver
// built by `scripts/tools.sh k8s`: startup, RBAC, Istio CRDs in every served version, apply
// and read back, watch, an API server restart mid-run, and a clean stop.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { pollUntil } from "../support/processes.ts";
import {
  ETCD_VERSION,
  ISTIO_API_VERSION,
  K8S_VERSION,
  KubeApiError,
  istioCrdsPath,
  startKubeApi,
  type KubeApi,
  type KubeObject,
} from "../support/k8s.ts";

const NS = "harness";

interface VirtualService extends KubeObject {
  spec: { hosts: string[]; gateways?: string[]; http: { route: { destination: { host: string; port?: { number: number } } }[] }[] };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let api: KubeApi;

beforeAll(async () => {
  api = await startKubeApi({ name: "harness", users: [{ name: "nobody" }, { name: "viewer" }] });
  console.log(
    `k8s harness: etcd ${api.etcdVersion} + kube-apiserver ${K8S_VERSION} ready in ${api.startupMs.toFixed(0)} ms at ${api.server}`,
  );
}, 180_000);

afterAll(async () => {
  await api?.stop();
});

describe("startup", () => {
  it("serves the kube-apiserver version that scripts/k8s-tools pins, on 127.0.0.1 with a verifiable certificate", async () => {
    expect(api.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await api.request("GET", "/version");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ gitVersion: K8S_VERSION, major: "1" });
    expect(api.ca).toContain("BEGIN CERTIFICATE");
    expect(readFileSync(api.caPath, "utf8")).toBe(api.ca);
    // etcd: the cached build of the version scripts/k8s-tools pins, unless ETCD_BIN overrides it.
    if (process.env.ETCD_BIN === undefined) expect(`v${api.etcdVersion}`).toBe(ETCD_VERSION);
    else expect(api.etcdVersion).toMatch(/^3\.\d+\.\d+$/);
  });

  it("writes a kubeconfig whose CA and token work for a client that knows nothing else", async () => {
    const kc: unknown = parseYaml(readFileSync(api.kubeconfigPath, "utf8"));
    const doc = kc as {
      "current-context": string;
      clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
      users: { name: string; user: { token: string } }[];
    };
    expect(doc["current-context"]).toBe("canal-test");
    const cluster = doc.clusters[0].cluster;
    expect(cluster.server).toBe(api.server);
    const ca = Buffer.from(cluster["certificate-authority-data"], "base64").toString("utf8");
    const token = doc.users[0].user.token;
    expect(token).toBe(api.token);
    const url = new URL("/api/v1/namespaces/default", cluster.server);
    // A fresh agent that trusts only the kubeconfig's CA, verifying the hostname 127.0.0.1.
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        url,
        { agent: new Agent({ ca }), headers: { Authorization: `Bearer ${token}` } },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(JSON.parse(body)).toMatchObject({ kind: "Namespace", metadata: { name: "default" } });
  });

  it("rejects a wrong token and answers /readyz", async () => {
    expect((await api.request("GET", "/api/v1/namespaces", { token: "wrong" })).status).toBe(401);
    const ready = await api.request("GET", "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.text).toBe("ok");
  });
});

describe("RBAC", () => {
  it("lets the admin do everything and a user with no binding nothing, until a RoleBinding grants view", async () => {
    const review = await api.create("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      metadata: {},
      spec: { resourceAttributes: { verb: "*", group: "*", resource: "*" } },
    });
    expect(review).toMatchObject({ status: { allowed: true } });

    const nobody = api.tokens.nobody;
    const viewer = api.tokens.viewer;
    const denied = await api.request("GET", "/api/v1/namespaces/default/services", { token: nobody });
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({ reason: "Forbidden" });
    expect((await api.request("GET", "/api/v1/namespaces/default/services", { token: viewer })).status).toBe(403);

    // A Role of our own: the bootstrap ClusterRoles view/edit/admin are aggregated, and their
    // rules stay empty here because no kube-controller-manager runs the aggregation controller.
    await api.applyYaml(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: service-reader, namespace: default}
rules: [{apiGroups: [""], resources: [services], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewer-service-reader, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: service-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: viewer}]
`);
    // RBAC authorizes from an informer cache: the grant shows up shortly after the write.
    const status = await pollUntil("the RoleBinding to take effect", async () => {
      const res = await api.request("GET", "/api/v1/namespaces/default/services", { token: viewer });
      return res.status === 200 ? res.status : undefined;
    });
    expect(status).toBe(200);
    // The Role is read-only and the binding namespaced.
    const write = await api.request("POST", "/api/v1/namespaces/default/configmaps", {
      token: viewer,
      body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } },
    });
    expect(write.status).toBe(403);
    expect((await api.request("GET", "/api/v1/namespaces/kube-system/services", { token: viewer })).status).toBe(403);
    expect((await api.request("GET", "/api/v1/namespaces/default/services", { token: nobody })).status).toBe(403);
  });
});

describe("Istio config", () => {
  it(`installs the Istio CRDs of istio.io/api ${ISTIO_API_VERSION} and waits until they are served`, async () => {
    const t0 = performance.now();
    const names = await api.installIstioCrds();
    console.log(`k8s harness: ${names.length} Istio CRDs from ${istioCrdsPath()} established in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(names).toEqual(
      expect.arrayContaining([
        "gateways.networking.istio.io",
        "virtualservices.networking.istio.io",
        "destinationrules.networking.istio.io",
        "serviceentries.networking.istio.io",
        "wasmplugins.extensions.istio.io",
      ]),
    );
    for (const gv of ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"]) {
      const disc = await api.request("GET", `/apis/${gv}`);
      expect(disc.status, gv).toBe(200);
      const kinds = (disc.json as { resources: { kind: string }[] }).resources.map((r) => r.kind);
      expect(kinds, gv).toEqual(expect.arrayContaining(["Gateway", "VirtualService", "DestinationRule"]));
    }
    const ext = await api.request("GET", "/apis/extensions.istio.io/v1alpha1");
    expect((ext.json as { resources: { kind: string }[] }).resources.map((r) => r.kind)).toContain("WasmPlugin");
    // Installing again is a no-op (server-side apply is idempotent).
    expect(await api.installIstioCrds()).toEqual(names);
  }, 120_000);

  it("creates a Service, a Gateway and a VirtualService (networking.istio.io/v1) and reads them back", async () => {
    await api.applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
    const applied = await api.applyYaml(
      `
apiVersion: v1
kind: Service
metadata: {name: reviews, labels: {app: reviews}}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 9080}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: canal}
spec:
  selector: {app: canal-gateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  gateways: [canal]
  http:
  - match: [{uri: {prefix: /v2}}]
    route: [{destination: {host: reviews, subset: v2, port: {number: 9080}}}]
  - route: [{destination: {host: reviews, port: {number: 9080}}}]
`,
      { namespace: NS },
    );
    expect(applied.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      `Service/${NS}/reviews`,
      `Gateway/${NS}/canal`,
      `VirtualService/${NS}/reviews`,
    ]);

    const svc = await api.get(`/api/v1/namespaces/${NS}/services/reviews`);
    expect(svc.spec).toMatchObject({ type: "ClusterIP", ports: [{ port: 9080, protocol: "TCP" }] });
    // A cluster IP allocated from --service-cluster-ip-range (a config value; nothing is routed there).
    expect((svc.spec as { clusterIP: string }).clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);

    const gw = await api.get(await api.resourcePath("networking.istio.io/v1", "Gateway", NS, "canal"));
    expect(gw).toMatchObject({ apiVersion: "networking.istio.io/v1", spec: { selector: { app: "canal-gateway" } } });

    const vs = await api.get<VirtualService>(`/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices/reviews`);
    expect(vs.apiVersion).toBe("networking.istio.io/v1");
    expect(vs.spec.hosts).toEqual(["reviews"]);
    expect(vs.spec.http[0]).toMatchObject({ match: [{ uri: { prefix: "/v2" } }], route: [{ destination: { subset: "v2" } }] });
    expect(vs.metadata.managedFields).toEqual(expect.arrayContaining([expect.objectContaining({ manager: "canal-test", operation: "Apply" })]));

    const list = await api.list<VirtualService>(`/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices`);
    expect(list.items.map((i) => i.metadata.name)).toEqual(["reviews"]);
  });

  it("serves the same objects as v1beta1 and v1alpha3, and accepts writes in v1alpha3", async () => {
    const v1 = await api.get<VirtualService>(`/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices/reviews`);
    for (const version of ["v1beta1", "v1alpha3"]) {
      const vs = await api.get<VirtualService>(`/apis/networking.istio.io/${version}/namespaces/${NS}/virtualservices/reviews`);
      expect(vs.apiVersion).toBe(`networking.istio.io/${version}`);
      expect(vs.metadata.uid).toBe(v1.metadata.uid);
      expect(vs.spec).toEqual(v1.spec);
      const gw = await api.get(`/apis/networking.istio.io/${version}/namespaces/${NS}/gateways/canal`);
      expect(gw.apiVersion).toBe(`networking.istio.io/${version}`);
    }
    await api.applyYaml(
      `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http: [{route: [{destination: {host: ratings}}]}]
`,
      { namespace: NS },
    );
    const ratings = await api.get<VirtualService>(`/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices/ratings`);
    expect(ratings.spec.hosts).toEqual(["ratings"]);
  });

  it("validates against the CRD schema and its CEL rules", async () => {
    // OpenAPI schema: hosts must be a list.
    const wrongType = await api.request("POST", `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices`, {
      body: { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "bad" }, spec: { hosts: "x" } },
    });
    expect(wrongType.status).toBe(422);
    expect(wrongType.json).toMatchObject({ reason: "Invalid" });
    expect((wrongType.json as { details: { causes: { field: string }[] } }).details.causes).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: "spec.hosts" })]),
    );
    // x-kubernetes-validations (CEL): a timeout must be a duration.
    const badDuration = api.applyYaml(
      `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad}
spec: {hosts: [bad], http: [{timeout: soon, route: [{destination: {host: bad}}]}]}
`,
      { namespace: NS },
    );
    await expect(badDuration).rejects.toBeInstanceOf(KubeApiError);
    await expect(badDuration).rejects.toMatchObject({ status: 422, reason: "Invalid" });
    await expect(badDuration).rejects.toThrow(/spec\.http\[0\]\.timeout/);
    expect((await api.request("GET", `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices/bad`)).status).toBe(404);
  });

  it("accepts a WasmPlugin (extensions.istio.io/v1alpha1)", async () => {
    const [wp] = await api.applyYaml(
      `
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: canal-router}
spec:
  selector: {matchLabels: {app: canal-gateway}}
  url: file:///etc/canal/canal.wasm
  phase: AUTHN
`,
      { namespace: NS },
    );
    expect(wp).toMatchObject({ kind: "WasmPlugin", spec: { url: "file:///etc/canal/canal.wasm", phase: "AUTHN" } });
  });
});

describe("watch", () => {
  it("delivers ADDED, MODIFIED and DELETED events for VirtualServices", async () => {
    const path = `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices`;
    const list = await api.list<VirtualService>(path);
    const watch = await api.watch<VirtualService>(path, { resourceVersion: list.metadata.resourceVersion });
    try {
      await api.applyYaml(
        `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http: [{route: [{destination: {host: details}}]}]
`,
        { namespace: NS },
      );
      const added = await watch.next();
      expect(added.type).toBe("ADDED");
      expect(added.object.metadata.name).toBe("details");

      await api.applyYaml(
        `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http: [{route: [{destination: {host: details, port: {number: 9080}}}]}]
`,
        { namespace: NS },
      );
      const modified = await watch.next();
      expect(modified.type).toBe("MODIFIED");
      expect(modified.object.spec.http[0].route[0].destination.port).toEqual({ number: 9080 });

      await api.delete(`${path}/details`);
      const deleted = await watch.next();
      expect(deleted).toMatchObject({ type: "DELETED", object: { metadata: { name: "details" } } });
    } finally {
      watch.close();
    }
    await watch.ended;
  });
});

describe("restart", () => {
  const vsPath = `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices`;

  async function expectRestartedWithData(
    kill: boolean,
  ): Promise<void> {
    const before = await api.get<VirtualService>(`${vsPath}/reviews`);
    const { etcd, apiserver } = api.pids();
    const server = api.server;
    const ca = api.ca;
    const list = await api.list(vsPath);
    const watch = await api.watch(vsPath, { resourceVersion: list.metadata.resourceVersion });

    const report = await api.restart({ kill });
    console.log(
      `k8s harness: kube-apiserver ${kill ? "killed" : "stopped"} in ${report.stopMs.toFixed(0)} ms, ready again in ${report.startMs.toFixed(0)} ms`,
    );
    if (kill) {
      expect(report).toMatchObject({ signal: "SIGKILL", exitSignal: "SIGKILL" });
    } else {
      // A graceful shutdown that finished by itself (no SIGKILL fallback), open watch and all.
      expect(report).toMatchObject({ signal: "SIGTERM", exitCode: 0, exitSignal: null });
    }

    await watch.ended; // the old server closed the stream (or died)
    await expect(watch.waitFor(() => false, 1000)).rejects.toThrow(/watch ended/);
    expect(alive(apiserver)).toBe(false);
    expect(api.pids().etcd).toBe(etcd);
    expect(api.pids().apiserver).not.toBe(apiserver);
    expect(alive(api.pids().apiserver)).toBe(true);
    expect(api.server).toBe(server);
    expect(api.ca).toBe(ca);

    const after = await api.get<VirtualService>(`${vsPath}/reviews`);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.spec).toEqual(before.spec);
    expect((await api.get(`/api/v1/namespaces/${NS}/services/reviews`)).metadata.name).toBe("reviews");

    // Writes and a new list+watch work against the restarted server.
    const gwPath = `/apis/networking.istio.io/v1/namespaces/${NS}/gateways`;
    const gwList = await api.list(gwPath);
    const watch2 = await api.watch(gwPath, { resourceVersion: gwList.metadata.resourceVersion });
    const name = kill ? "after-crash" : "after-restart";
    try {
      await api.applyYaml(
        `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}}
spec: {selector: {app: canal-gateway}, servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]}
`,
        { namespace: NS },
      );
      const e = await watch2.next();
      expect(e).toMatchObject({ type: "ADDED", object: { metadata: { name } } });
    } finally {
      watch2.close();
    }
  }

  it("restarts only the API server gracefully: watches end, the data, port, CA and token survive", async () => {
    await expectRestartedWithData(false);
  }, 120_000);

  it("restarts only the API server after a crash (SIGKILL) with the same data", async () => {
    await expectRestartedWithData(true);
  }, 120_000);

  it("answers 410 Gone to a watch from a resourceVersion older than the restart (clients must re-list)", async () => {
    const vs = await api.get(`${vsPath}/reviews`); // last written before both restarts
    const res = await api.request("GET", `${vsPath}`, { query: { watch: 1, resourceVersion: vs.metadata.resourceVersion ?? "" }, timeoutMs: 10_000 });
    // The watch cache starts at etcd's current revision, so an older one is reported as expired:
    // a 200 stream whose one event is an ERROR with code 410, then the end of the stream.
    console.log(`k8s harness: stale watch: HTTP ${res.status} ${res.text.slice(0, 200)}`);
    expect(res.status).toBe(200);
    const events = res.text.trim().split("\n").map((l): unknown => JSON.parse(l));
    expect(events).toEqual([expect.objectContaining({ type: "ERROR", object: expect.objectContaining({ code: 410, reason: "Expired" }) })]);
  }, 30_000);
});

describe("missing tools", () => {
  it("throws a message that says how to get kube-apiserver (never skips)", async () => {
    const saved = { bin: process.env.KUBE_APISERVER_BIN, cache: process.env.CANAL_CACHE };
    const empty = mkdtempSync(join(tmpdir(), "canal-empty-cache-"));
    process.env.KUBE_APISERVER_BIN = join(empty, "nope");
    process.env.CANAL_CACHE = empty;
    try {
      await expect(startKubeApi()).rejects.toThrow(/^kube-apiserver not found: run scripts\/tools\.sh kube-apiserver/);
    } finally {
      if (saved.bin === undefined) delete process.env.KUBE_APISERVER_BIN;
      else process.env.KUBE_APISERVER_BIN = saved.bin;
      if (saved.cache === undefined) delete process.env.CANAL_CACHE;
      else process.env.CANAL_CACHE = saved.cache;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("stop", () => {
  it("stops kube-apiserver and etcd, frees the port and removes the temp dir", async () => {
    const { etcd, apiserver } = api.pids();
    const workDir = api.workDir;
    expect(existsSync(workDir)).toBe(true);
    await api.stop();
    expect(alive(apiserver)).toBe(false);
    expect(alive(etcd)).toBe(false);
    expect(existsSync(workDir)).toBe(false);
    await expect(api.request("GET", "/readyz", { timeoutMs: 2000 })).rejects.toThrow(/ECONNREFUSED/);
    await api.stop(); // idempotent
  });
});
