// The charts with real helm and a real API server: lint, render with default and non-default
// values, apply every rendered object with server-side dry-run (Istio's CRDs and ours installed,
// strict field validation), and parse the controller's rendered flags with its own parser.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseControllerFlags } from "../../controller/src/cli.ts";
import { CONTROLLER_PROCESS_ENV, processEnvReport } from "../../controller/src/runner/process-env.ts";
import { groupKey } from "../../controller/src/sinks/ecds-publisher.ts";
import { renderAdsTransportSocket, renderWasmFilterConfig } from "../../envoy/bootstrap.ts";
import { parseManifests, startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";
import { applyAll, CONTROL_CHART, find, GATEWAY_CHART, helm, REPO, SEED_CONTROL_SETS, sets, template } from "./helm.ts";
import { MONITORING_ON } from "./monitoring.ts";

const NS = "istio-system";
const GATEWAY_VALUES = join(import.meta.dirname, "fixtures", "gateway-nondefault.yaml");
const CONTROL_VALUES = join(import.meta.dirname, "fixtures", "control-nondefault.yaml");

type Json = Record<string, unknown>;
const at = (o: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, k) => (v === null || v === undefined ? undefined : (v as Record<string | number, unknown>)[k]), o);
const podSpec = (d: KubeObject): Json => at(d, "spec", "template", "spec") as Json;
const container = (d: KubeObject, name: string): Json => {
  const c = (podSpec(d).containers as Json[]).find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
};
function controllerArgs(objects: KubeObject[]): string[] {
  const args = container(find(objects, "Deployment", "canal-controller"), "controller").args as string[];
  expect(args[0]).toBe("controller");
  return args.slice(1);
}

let gatewayDefault: KubeObject[];
let gatewayCustom: KubeObject[];
let controlDefault: KubeObject[];
let controlCustom: KubeObject[];

beforeAll(async () => {
  [gatewayDefault, gatewayCustom, controlDefault, controlCustom] = await Promise.all([
    template(GATEWAY_CHART, "canal-gateway", NS),
    template(GATEWAY_CHART, "canal-gateway", NS, ["-f", GATEWAY_VALUES]),
    template(CONTROL_CHART, "canal-control", NS, sets(SEED_CONTROL_SETS)),
    template(CONTROL_CHART, "canal-control", NS, ["-f", CONTROL_VALUES]),
  ]);
}, 60_000);

describe("helm lint", () => {
  it.each([
    ["canal, defaults", GATEWAY_CHART, []],
    ["canal, non-default values", GATEWAY_CHART, ["-f", GATEWAY_VALUES]],
    ["canal-control, the seed's --set flags", CONTROL_CHART, sets(SEED_CONTROL_SETS)],
    ["canal-control, non-default values", CONTROL_CHART, ["-f", CONTROL_VALUES]],
  ])("%s: no errors or warnings (--strict)", async (_name, chart, args) => {
    const r = await helm(["lint", "--strict", chart, "--namespace", NS, ...args]);
    expect(r.stdout + r.stderr).toContain("0 chart(s) failed");
    expect(r.code).toBe(0);
  });
});

describe("canal (gateway)", () => {
  it("defaults: proxyv2 in router mode, seed labels, no sidecar, non-root, dedicated nodes, HPA, PDB", () => {
    const d = find(gatewayDefault, "Deployment", "canal-gateway");
    const pod = at(d, "spec", "template") as Json;
    expect(at(pod, "metadata", "labels")).toMatchObject({ app: "canal-gateway", istio: "gateway", "sidecar.istio.io/inject": "false" });
    expect(at(pod, "metadata", "annotations", "sidecar.istio.io/inject")).toBe("false");
    const proxy = container(d, "istio-proxy");
    expect(proxy.image).toBe("docker.io/istio/proxyv2:1.32.0");
    expect((proxy.args as string[]).slice(0, 2)).toEqual(["proxy", "router"]);
    expect(podSpec(d).securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1337 });
    expect(proxy.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(podSpec(d).nodeSelector).toEqual({ "canal.io/gateway": "true" });
    expect(podSpec(d).tolerations).toEqual([{ key: "canal.io/gateway", operator: "Equal", value: "true", effect: "NoSchedule" }]);
    const anti = at(podSpec(d), "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution") as Json[];
    expect(anti.map((t) => at(t, "podAffinityTerm", "topologyKey"))).toEqual(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
    expect(at(d, "spec", "replicas")).toBeUndefined(); // the HPA owns the replica count
    expect(find(gatewayDefault, "HorizontalPodAutoscaler").spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
    expect(find(gatewayDefault, "PodDisruptionBudget").spec).toMatchObject({ minAvailable: 1, selector: { matchLabels: { app: "canal-gateway", istio: "gateway" } } });
    const svc = find(gatewayDefault, "Service", "canal-gateway");
    expect(at(svc, "metadata", "labels")).toMatchObject({ app: "canal-gateway", istio: "gateway" });
    expect(at(svc, "spec", "ports")).toEqual([{ name: "http-5000", port: 5000, targetPort: 5000, protocol: "TCP", appProtocol: "http" }]);
    expect(gatewayDefault.some((o) => o.kind === "Gateway" || o.kind === "EnvoyFilter")).toBe(false);
    // Ready only while the filter serves a table (docs/adr/0004-delivery-proof.md): its reserved
    // probe on the first HTTP port, not Envoy's /healthz/ready (which is ready with no table).
    expect(proxy.readinessProbe).toMatchObject({ httpGet: { path: "/", port: 5000, httpHeaders: [{ name: "Host", value: "canal-probe.invalid" }] } });
    expect(proxy.startupProbe).toMatchObject({ httpGet: { path: "/healthz/ready", port: 15021 } });
  });

  it("gateway pods get no ServiceAccount token: only the projected istio-token (audience istio-ca) pilot-agent uses for istiod", () => {
    for (const objects of [gatewayDefault, gatewayCustom]) {
      const d = objects.find((o) => o.kind === "Deployment") as KubeObject;
      expect(podSpec(d).automountServiceAccountToken).toBe(false);
      expect((objects.find((o) => o.kind === "ServiceAccount") as KubeObject & { automountServiceAccountToken?: boolean }).automountServiceAccountToken).toBe(false);
      const token = (podSpec(d).volumes as Json[]).find((v) => v.name === "istio-token");
      expect(at(token, "projected", "sources", 0, "serviceAccountToken")).toMatchObject({ audience: "istio-ca", path: "istio-token" });
      expect((container(d, "istio-proxy").volumeMounts as Json[]).find((m) => m.name === "istio-token")).toMatchObject({ mountPath: "/var/run/secrets/tokens" });
    }
  });

  it("non-default values: Gateway servers equal the Service ports, hard anti-affinity, fixed replicas, ECDS node.cluster and filter copy", () => {
    const d = find(gatewayCustom, "Deployment", "east-west");
    expect(at(d, "spec", "replicas")).toBe(3);
    expect(gatewayCustom.some((o) => o.kind === "HorizontalPodAutoscaler")).toBe(false);
    expect(find(gatewayCustom, "PodDisruptionBudget").spec).toMatchObject({ maxUnavailable: 1 });
    expect(at(podSpec(d), "securityContext", "sysctls")).toBeUndefined();
    const svcPorts = at(find(gatewayCustom, "Service", "east-west-gw"), "spec", "ports") as Json[];
    // The loopback table server (table-server.test.ts) is no Service port.
    const servers = (at(find(gatewayCustom, "Gateway", "east-west"), "spec", "servers") as Json[]).filter((s) => at(s, "port", "name") !== "canal-table");
    expect(servers.map((s) => [at(s, "port", "number"), at(s, "port", "name"), at(s, "port", "protocol")])).toEqual(svcPorts.map((p) => [p.port, p.name, "HTTP"]));
    expect(at(find(gatewayCustom, "Gateway"), "spec", "selector")).toEqual({ app: "east-west" });
    const ports = (container(d, "istio-proxy").ports as Json[]).map((p) => p.containerPort);
    expect(ports).toEqual([5000, 8080, 15021, 15090]);
    const anti = at(podSpec(d), "affinity", "podAntiAffinity") as Json;
    expect(Object.keys(anti)).toEqual(["requiredDuringSchedulingIgnoredDuringExecution"]);
    expect(at(podSpec(d), "affinity", "nodeAffinity")).toBeDefined();
    expect(podSpec(d).imagePullSecrets).toEqual([{ name: "regcred" }, { name: "other" }]);
    // ECDS: Envoy's node.cluster must be the controller's group key of the InternalGateway.
    const proxyConfig = JSON.parse(at(d, "spec", "template", "metadata", "annotations", "proxy.istio.io/config") as string) as Json;
    expect(proxyConfig.serviceCluster).toBe(groupKey({ namespace: NS, name: "east-west" }));
    const init = (podSpec(d).initContainers as Json[])[0] as Json;
    expect(init.image).toBe("registry.example/canal/canal:0.1.0");
    expect(init.command).toEqual(["cp", "/app/build/canal.wasm", "/var/lib/canal/filter.wasm"]);
    expect((container(d, "istio-proxy").volumeMounts as Json[]).find((m) => m.name === "canal-filter")).toMatchObject({ mountPath: "/var/lib/canal", readOnly: true });
    expect(container(d, "istio-proxy").readinessProbe).toMatchObject({ httpGet: { port: 5000, httpHeaders: [{ name: "Host", value: "canal-probe.invalid" }] } });
  });

  it.each([
    ["antiAffinity.nodes=sometimes", ["--set", "antiAffinity.nodes=sometimes"], "antiAffinity.nodes/zones must be required, preferred or none"],
    ["no ports", ["--set", "service.ports=null"], "service.ports must list at least one port"],
    ["duplicate port names", ["--set-json", 'service.ports=[{"name":"http","port":80},{"name":"http","port":81}]'], 'service.ports: duplicate name "http"'],
    ["a port without a number", ["--set-json", 'service.ports=[{"name":"http"}]'], "every service.ports entry needs a name and a port"],
    ["ECDS without filter image", ["--set", "ecds.enabled=true"], "ecds.enabled needs ecds.filterImage"],
    ["a misspelled value (values.schema.json)", ["--set", "sevice.name=x"], "additional properties 'sevice' not allowed"],
    ["a port out of range", ["--set-json", 'service.ports=[{"name":"http","port":70000}]'], "at '/service/ports/0/port'"],
  ])("refuses %s with a clear message", async (_name, args, message) => {
    const r = await helm(["template", "x", GATEWAY_CHART, "-n", NS, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
  });
});

describe("canal-control", () => {
  it("the seed's install: image from global.hub/tag, pull secrets, 2 replicas, the default InternalGateway, the CRD in crds/ equal to the controller's", async () => {
    const d = find(controlDefault, "Deployment", "canal-controller");
    expect(at(d, "spec", "replicas")).toBe(2);
    expect(container(d, "controller").image).toBe("registry.example/canal/canal:0.1.0");
    expect(podSpec(d).imagePullSecrets).toEqual([{ name: "regcred" }]);
    expect(podSpec(d).securityContext).toMatchObject({ runAsNonRoot: true });
    expect(find(controlDefault, "InternalGateway", "canal").spec).toEqual({
      gatewayRef: { name: "canal" },
      serviceRef: { name: "canal-gateway" },
      workloadSelector: { matchLabels: { app: "canal-gateway" } },
      // grantOwnNamespace: the seed's VirtualServices in istio-system may route any host (ADR 0003).
      hostGrants: [{ namespaces: ["istio-system"], hosts: ["*"] }],
    });
    // WasmPlugin mode: no canal-ecds EnvoyFilter, no WasmPlugin (the controller writes those), no
    // ConfigMap; the only EnvoyFilter is the cluster_header route (cluster-header-route.test.ts).
    expect(controlDefault.filter((o) => o.kind === "EnvoyFilter").map((o) => o.metadata.name)).toEqual(["canal-cluster-header"]);
    expect(controlDefault.some((o) => o.kind === "WasmPlugin" || o.kind === "ConfigMap")).toBe(false);
    const withCrds = await template(CONTROL_CHART, "canal-control", NS, [...sets(SEED_CONTROL_SETS), "--include-crds"]);
    const crd = find(withCrds, "CustomResourceDefinition", "internalgateways.canal.io");
    const [own] = parseManifests(readFileSync(join(REPO, "controller/crds/internalgateway.yaml"), "utf8"));
    expect(crd).toEqual(own);
  });

  it("the controller's process environment (process-env.ts) is the Deployment's and the image's, in both modes", () => {
    const wanted = Object.entries(CONTROLLER_PROCESS_ENV).map(([name, value]) => ({ name, value }));
    expect(wanted.length).toBeGreaterThan(0);
    for (const objects of [controlDefault, controlCustom]) {
      expect(container(find(objects, "Deployment", "canal-controller"), "controller").env).toEqual(wanted);
    }
    const dockerfile = readFileSync(join(REPO, "Dockerfile"), "utf8");
    for (const { name, value } of wanted) expect(dockerfile, `Dockerfile ENV ${name}`).toMatch(new RegExp(`^ENV ${name}=${value}$`, "m"));
    // What the starting log line reports.
    expect(processEnvReport({ MALLOC_MMAP_THRESHOLD_: "1048576" })).toEqual({ MALLOC_MMAP_THRESHOLD_: "1048576" });
    expect(processEnvReport({})).toEqual({ MALLOC_MMAP_THRESHOLD_: "unset" });
  });

  it("WasmPlugin mode: the rendered flags parse with the controller's own parser and carry url + sha256", () => {
    const config = parseControllerFlags(controllerArgs(controlDefault));
    if (config === "help") throw new Error("unexpected --help");
    expect(config.wasmPlugin).toEqual({ url: SEED_CONTROL_SETS["wasm.url"], sha256: SEED_CONTROL_SETS["wasm.sha256"], shards: "auto", tablePort: 15099 });
    expect(config.ecds).toBeUndefined();
    expect(config).toMatchObject({ namespace: NS, leaseName: "canal-controller", leaseDurationSeconds: 15, metricsAddress: "0.0.0.0:9090", logLevel: "info", clusterDomain: "cluster.local" });
  });

  it("EnvoyFilter mode: flags parse (ECDS, no WasmPlugin); the EnvoyFilter's default config is the bootstrap's; gateway and controller agree on the wasm path", () => {
    const config = parseControllerFlags(controllerArgs(controlCustom));
    if (config === "help") throw new Error("unexpected --help");
    expect(config.wasmPlugin).toBeUndefined();
    expect(config.ecds).toEqual({ address: "0.0.0.0:18080", wasmPath: "/var/lib/canal/filter.wasm", maxStreams: 1024, maxStreamsPerIp: 64 });
    expect(config).toMatchObject({ leaseName: "canal-leader", leaseDurationSeconds: 10, clusterDomain: "corp.local", logLevel: "debug", metricsAddress: "0.0.0.0:9191" });
    const ef = find(controlCustom, "EnvoyFilter", "canal-ecds");
    const patches = at(ef, "spec", "configPatches") as Json[];
    const filter = at(patches.find((p) => p.applyTo === "HTTP_FILTER"), "patch", "value") as Json;
    expect(filter.name).toBe("canal");
    expect(at(filter, "config_discovery", "default_config")).toEqual(renderWasmFilterConfig("/var/lib/canal/filter.wasm", ""));
    // The config source is the gateways' static cluster canal-ecds: Envoy refuses an xDS config
    // source on a cluster that came over CDS, so the EnvoyFilter adds no cluster (test/istio).
    expect(patches.map((p) => at(p, "applyTo"))).toEqual(["HTTP_FILTER"]);
    expect(at(filter, "config_discovery", "config_source", "api_config_source", "grpc_services", 0, "envoy_grpc", "cluster_name")).toBe("canal-ecds");
    expect(at(ef, "spec", "workloadSelector", "labels")).toEqual({ app: "east-west" });
    const svc = find(controlCustom, "Service", "canal-xds");
    expect(at(svc, "spec", "ports", 0)).toMatchObject({ port: 18080, targetPort: "grpc-ecds", appProtocol: "grpc" });
    // The gateway chart's ECDS values (same fixture pair) point at the same file and Service.
    const gw = find(gatewayCustom, "Deployment", "east-west");
    expect((podSpec(gw).initContainers as Json[])[0]?.command).toContain(config.ecds?.wasmPath);
    const override = ((container(gw, "istio-proxy").env as Json[]).find((e) => e.name === "ISTIO_BOOTSTRAP_OVERRIDE") as Json).value;
    expect(override).toBe("/etc/canal/bootstrap/custom_bootstrap.yaml");
    const bootstrap = parseYaml((at(find(gatewayCustom, "ConfigMap", "east-west-bootstrap"), "data", "custom_bootstrap.yaml") as string)) as Json;
    const cluster = at(bootstrap, "static_resources", "clusters", 0) as Json;
    expect(cluster.name).toBe("canal-ecds");
    expect(at(cluster, "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address", "socket_address")).toEqual({ address: "canal-xds.istio-system.svc.cluster.local", port_value: 18080 });
  });

  it("host ownership: systemNamespaces reach --system-namespaces, hostGrants the InternalGateway; grantOwnNamespace can be turned off", () => {
    const config = parseControllerFlags(controllerArgs(controlCustom));
    if (config === "help") throw new Error("unexpected --help");
    expect(config.systemNamespaces).toEqual(["kube-system", NS, "monitoring", "cert-manager"]);
    const seed = parseControllerFlags(controllerArgs(controlDefault));
    expect(seed === "help" ? "help" : seed.systemNamespaces).toEqual(["kube-system", NS]);
    expect(at(find(controlCustom, "InternalGateway", "east-west"), "spec", "hostGrants")).toEqual([{ namespaces: ["frontend"], hosts: ["api.example.com"] }]);
  });

  it("DNS on: the flags parse into the controller's DNS config; the empty canal-dns ConfigMap; a Role limited to canal-dns by name", () => {
    const config = parseControllerFlags(controllerArgs(controlCustom));
    if (config === "help") throw new Error("unexpected --help");
    expect(config.dns).toEqual({ configMap: { namespace: "kube-system", name: "canal-dns" }, mountPath: "/etc/coredns/custom-canal", ttlSeconds: 30, drainSeconds: 120, dryRun: true });
    const seed = parseControllerFlags(controllerArgs(controlDefault));
    expect(seed === "help" ? "help" : seed.dns).toBeUndefined(); // off by default
    expect(controllerArgs(controlDefault).some((a) => a.startsWith("--dns"))).toBe(false);
    const cm = find(controlCustom, "ConfigMap", "canal-dns");
    expect(cm.metadata.namespace).toBe("kube-system");
    const role = controlCustom.find((o) => o.kind === "Role" && o.metadata.namespace === "kube-system") as KubeObject;
    // CoreDNS's own ConfigMap is not granted unless dns.corefileAccess opts in (test/charts/rbac.test.ts).
    expect((role as unknown as { rules: Json[] }).rules).toEqual([{ apiGroups: [""], resources: ["configmaps"], resourceNames: ["canal-dns"], verbs: ["get", "update", "patch"] }]);
  });

  it("EnvoyFilter mode: a NetworkPolicy admits only gateway pods of the gateway namespaces to the ECDS port; the metrics port stays open", async () => {
    const np = find(controlCustom, "NetworkPolicy", "canal-xds") as KubeObject & { spec: Json };
    expect(at(np, "spec", "podSelector", "matchLabels")).toEqual(at(find(controlCustom, "Deployment", "canal-controller"), "spec", "selector", "matchLabels"));
    const [ecds, metrics] = at(np, "spec", "ingress") as Json[];
    expect(at(ecds, "from")).toEqual([{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [NS] }] }, podSelector: { matchLabels: { app: "east-west" } } }]);
    expect(at(ecds, "ports")).toEqual([{ port: "grpc-ecds", protocol: "TCP" }]);
    expect(metrics).toEqual({ ports: [{ port: "metrics", protocol: "TCP" }] });
    const extended = await template(CONTROL_CHART, "canal-control", NS, ["-f", CONTROL_VALUES, "--set", "ecds.networkPolicy.gatewayNamespaces={gw-a,gw-b}", "--set-json", 'ecds.networkPolicy.extraFrom=[{"ipBlock":{"cidr":"10.0.0.0/8"}}]']);
    const from = at(find(extended, "NetworkPolicy", "canal-xds"), "spec", "ingress", 0, "from") as Json[];
    expect(at(from[0], "namespaceSelector", "matchExpressions", 0, "values")).toEqual(["gw-a", "gw-b"]);
    expect(from[1]).toEqual({ ipBlock: { cidr: "10.0.0.0/8" } });
    const off = await template(CONTROL_CHART, "canal-control", NS, ["-f", CONTROL_VALUES, "--set", "ecds.networkPolicy.enabled=false"]);
    expect(off.some((o) => o.kind === "NetworkPolicy")).toBe(false);
    expect(controlDefault.some((o) => o.kind === "NetworkPolicy")).toBe(false); // WasmPlugin mode: no ECDS port
  });

  it("ECDS TLS: the controller's flags and Secret mount; the gateways' canal-ecds cluster has the UpstreamTlsContext envoy/bootstrap.ts renders", async () => {
    const control = await template(CONTROL_CHART, "canal-control", NS, ["-f", CONTROL_VALUES, "--set", "ecds.tls.secretName=canal-ecds-tls", "--set", "ecds.tls.requireClientCert=true"]);
    const config = parseControllerFlags(controllerArgs(control));
    if (config === "help") throw new Error("unexpected --help");
    expect(config.ecds?.tls).toEqual({ cert: "/etc/canal/ecds-tls/tls.crt", key: "/etc/canal/ecds-tls/tls.key", clientCa: "/etc/canal/ecds-tls/ca.crt" });
    const d = find(control, "Deployment", "canal-controller");
    expect((podSpec(d).volumes as Json[]).find((v) => v.name === "ecds-tls")).toEqual({ name: "ecds-tls", secret: { secretName: "canal-ecds-tls" } });
    expect((container(d, "controller").volumeMounts as Json[]).find((m) => m.name === "ecds-tls")).toEqual({ name: "ecds-tls", mountPath: "/etc/canal/ecds-tls", readOnly: true });
    expect(config.ecds?.tls).toBeDefined();
    expect((parseControllerFlags(controllerArgs(controlCustom)) as { ecds?: { tls?: unknown } }).ecds?.tls).toBeUndefined(); // plaintext by default

    const gateway = await template(GATEWAY_CHART, "canal-gateway", NS, ["-f", GATEWAY_VALUES, "--set", "ecds.tls.enabled=true", "--set", "ecds.tls.clientCert=true"]);
    const bootstrap = parseYaml(at(find(gateway, "ConfigMap", "east-west-bootstrap"), "data", "custom_bootstrap.yaml") as string) as Json;
    expect(at(bootstrap, "static_resources", "clusters", 0, "transport_socket")).toEqual(
      renderAdsTransportSocket({ caFile: "/etc/canal/ecds-tls/ca.crt", serverName: "canal-xds.istio-system.svc", certFile: "/etc/canal/ecds-tls/tls.crt", keyFile: "/etc/canal/ecds-tls/tls.key" }),
    );
    const gw = find(gateway, "Deployment", "east-west");
    expect((podSpec(gw).volumes as Json[]).find((v) => v.name === "canal-ecds-tls")).toEqual({ name: "canal-ecds-tls", secret: { secretName: "canal-ecds-tls" } });
    expect((container(gw, "istio-proxy").volumeMounts as Json[]).some((m) => m.name === "canal-ecds-tls" && m.mountPath === "/etc/canal/ecds-tls")).toBe(true);
    const plain = parseYaml(at(find(gatewayCustom, "ConfigMap", "east-west-bootstrap"), "data", "custom_bootstrap.yaml") as string) as Json;
    expect(at(plain, "static_resources", "clusters", 0, "transport_socket")).toBeUndefined();
  });

  it.each([
    ["no global.hub", ["--set", "wasm.url=oci://r/x:1"], "global.hub is required"],
    ["no wasm.url in WasmPlugin mode", ["--set", "global.hub=r/canal"], "wasm.url is required with delivery.mode=wasmplugin"],
    ["a wasm.url that is no URL", ["--set", "global.hub=r/canal", "--set", "wasm.url=registry/canal"], "wasm.url must be an oci://, http(s):// or file:// URL"],
    ["an upper-case sha256", ["--set", "global.hub=r/canal", "--set", "wasm.url=https://x/c.wasm", "--set", `wasm.sha256=${"A".repeat(64)}`], "wasm.sha256 must be 64 lower-case hex digits"],
    ["an unknown delivery.mode", ["--set", "global.hub=r/canal", "--set", "delivery.mode=ecds"], 'delivery.mode must be wasmplugin or envoyfilter, got "ecds"'],
    ["a misspelled value (values.schema.json)", [...sets(SEED_CONTROL_SETS), "--set", "controller.logLevl=debug"], "at '/controller': additional properties 'logLevl' not allowed"],
    ["a wasm.imagePullSecret that is no Secret name", [...sets(SEED_CONTROL_SETS), "--set", "wasm.imagePullSecret=Filter_Pull"], "at '/wasm/imagePullSecret': 'Filter_Pull' does not match pattern"],
    ["a log level the controller does not know", [...sets(SEED_CONTROL_SETS), "--set", "controller.logLevel=verbose"], "at '/controller/logLevel': value must be one of 'debug', 'info', 'warn', 'error'"],
  ])("refuses %s with a clear message", async (_name, args, message) => {
    const r = await helm(["template", "x", CONTROL_CHART, "-n", NS, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  it("wasm.imagePullSecret: rendered as --wasm-pull-secret, which parses into the WasmPlugin config; absent by default; global.imagePullSecrets stays the pods'", async () => {
    expect(controllerArgs(controlDefault).some((a) => a.startsWith("--wasm-pull-secret"))).toBe(false);
    const seed = parseControllerFlags(controllerArgs(controlDefault));
    if (seed === "help") throw new Error("unexpected --help");
    expect(seed.wasmPlugin).not.toHaveProperty("pullSecret");

    const objects = await template(CONTROL_CHART, "canal-control", NS, sets({ ...SEED_CONTROL_SETS, "wasm.imagePullSecret": "filter-registry.pull" }));
    const args = controllerArgs(objects);
    expect(args).toContain("--wasm-pull-secret=filter-registry.pull");
    const config = parseControllerFlags(args);
    if (config === "help") throw new Error("unexpected --help");
    expect(config.wasmPlugin).toStrictEqual({ url: SEED_CONTROL_SETS["wasm.url"], sha256: SEED_CONTROL_SETS["wasm.sha256"], pullSecret: "filter-registry.pull", shards: "auto", tablePort: 15099 });
    // The pods' pull secrets are global.imagePullSecrets only, not the filter's secret.
    expect(podSpec(find(objects, "Deployment", "canal-controller")).imagePullSecrets).toEqual([{ name: "regcred" }]);
  });

  it("an https:// filter url works as well", async () => {
    const objects = await template(CONTROL_CHART, "canal-control", NS, sets({ "global.hub": "r/canal", "wasm.url": "https://files.example/canal.wasm" }));
    const config = parseControllerFlags(controllerArgs(objects));
    if (config === "help") throw new Error("unexpected --help");
    expect(config.wasmPlugin).toEqual({ url: "https://files.example/canal.wasm", sha256: undefined, shards: "auto", tablePort: 15099 });
  });
});

describe("server-side dry-run on a real API server", () => {
  let api: KubeApi;

  beforeAll(async () => {
    api = await startKubeApi({ name: "charts-dry-run" });
    await api.installIstioCrds();
    await api.installCrds([join(CONTROL_CHART, "crds", "internalgateway.yaml")]);
    await api.applyYaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n");
  }, 180_000);

  afterAll(async () => {
    await api?.stop();
  });

  it.each([
    ["canal, defaults", () => gatewayDefault],
    ["canal, non-default values", () => gatewayCustom],
    ["canal-control, the seed's flags", () => controlDefault],
    ["canal-control, non-default values", () => controlCustom],
  ])("%s: every object is accepted (strict field validation)", async (_name, objects) => {
    const rendered = objects();
    expect(rendered.length).toBeGreaterThan(4);
    if (rendered.some((o) => o.kind === "Deployment" && o.metadata.name === "canal-controller")) {
      find(rendered, "EnvoyFilter", "canal-cluster-header"); // the route patch is among the applied objects
    }
    expect(await applyAll(api, rendered, { dryRun: true })).toEqual([]);
  }, 60_000);

  it("canal, monitoring on: the dashboard and bootstrap ConfigMaps and the Deployment are accepted (the PrometheusRule needs prometheus-operator's CRD, not installed here)", async () => {
    const rendered = (await template(GATEWAY_CHART, "canal-gateway", NS, MONITORING_ON)).filter((o) => o.kind !== "PrometheusRule");
    find(rendered, "ConfigMap", "canal-gateway-dashboard");
    find(rendered, "ConfigMap", "canal-gateway-bootstrap");
    expect(await applyAll(api, rendered, { dryRun: true })).toEqual([]);
  }, 60_000);

  it("the seed's sequence with real helm: install both charts (CRD from crds/, then the default InternalGateway), upgrade, uninstall", async () => {
    const kc = ["--kubeconfig", api.kubeconfigPath];
    const gw = await helm(["install", "canal-gateway", GATEWAY_CHART, "-n", NS, ...kc]);
    expect(gw.stderr).toBe("");
    expect(gw.code).toBe(0);
    expect(gw.stdout).toContain("STATUS: deployed");
    expect(gw.stdout).toContain("kubectl label node <node> canal.io/gateway=true"); // NOTES: the dedicated-node commands
    await api.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/internalgateways.canal.io");
    await pollUntil("the InternalGateway CRD gone", async () => ((await api.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/internalgateways.canal.io")).status === 404 ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
    const ctl = await helm(["install", "canal-control", CONTROL_CHART, "-n", NS, ...kc, ...sets(SEED_CONTROL_SETS)]);
    expect(ctl.code, ctl.stderr).toBe(0);
    expect(ctl.stdout).toContain("InternalGateway istio-system/canal serves the Istio Gateway canal through Service canal-gateway");
    expect(ctl.stdout).toContain("Routing: EnvoyFilter istio-system/canal-cluster-header makes the routes of the gateway pods app: canal-gateway follow the filter's x-canal-cluster.");
    expect((await api.request("GET", `/apis/networking.istio.io/v1alpha3/namespaces/${NS}/envoyfilters/canal-cluster-header`)).status).toBe(200);
    const ig = await api.get(`/apis/canal.io/v1alpha1/namespaces/${NS}/internalgateways/canal`);
    expect(ig.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("Helm");
    for (const path of [`/apis/apps/v1/namespaces/${NS}/deployments/canal-gateway`, `/apis/apps/v1/namespaces/${NS}/deployments/canal-controller`, `/api/v1/namespaces/${NS}/services/canal-gateway`, `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/canal-gateway`]) {
      expect((await api.request("GET", path)).status, path).toBe(200);
    }
    const up = await helm(["upgrade", "canal-control", CONTROL_CHART, "-n", NS, ...kc, ...sets({ ...SEED_CONTROL_SETS, "global.tag": "0.1.1" })]);
    expect(up.code, up.stderr).toBe(0);
    const d = await api.get(`/apis/apps/v1/namespaces/${NS}/deployments/canal-controller`);
    expect(container(d, "controller").image).toBe("registry.example/canal/canal:0.1.1");
    for (const release of ["canal-control", "canal-gateway"]) {
      const un = await helm(["uninstall", release, "-n", NS, ...kc]);
      expect(un.code, un.stderr).toBe(0);
    }
    expect((await api.request("GET", `/apis/apps/v1/namespaces/${NS}/deployments/canal-controller`)).status).toBe(404);
    // Helm keeps CRDs it installed from crds/ (and with them, nothing is lost on uninstall).
    expect((await api.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/internalgateways.canal.io")).status).toBe(200);
  }, 120_000);

  it("the dry-run catches schema errors (a bad value and an unknown field are refused)", async () => {
    const badCpu = await template(GATEWAY_CHART, "canal-gateway", NS, ["--set", "resources.requests.cpu=lots"]);
    const failures = await applyAll(api, badCpu.filter((o) => o.kind === "Deployment"), { dryRun: true });
    expect(failures.join("\n")).toMatch(/Deployment istio-system\/canal-gateway: (400|422|500) .*quantities must match/);
    const badIg = await template(CONTROL_CHART, "canal-control", NS, [...sets(SEED_CONTROL_SETS), "--set", "internalGateway.serviceRef.port=80"]);
    const igFailures = await applyAll(api, badIg.filter((o) => o.kind === "InternalGateway"), { dryRun: true });
    expect(igFailures.join("\n")).toMatch(/InternalGateway istio-system\/canal: 500 .*\.spec\.serviceRef\.port: field not declared in schema/);
  }, 60_000);
});
