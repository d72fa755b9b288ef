// DNS redirection of a Service routed by an HTTPRoute (GAMMA), end to end: a real kube-apiserver
// with the pinned Gateway API CRDs, a real CoreDNS fed from canal-dns, the controller with --dns
// and a real gateway Envoy behind the gateway Service (DNS flips only once it serves a table that
// routes the name). The name is redirected exactly as for a VirtualService, and resolves back to
// the Service when the route goes; a route the Service's namespace does not own moves nothing.
import { afterAll, beforeAll, expect, it } from "vitest";
import { resolveKinds } from "../../controller/src/kube/resources.ts";
import { gatewayYaml, serviceYaml, startDnsEnv, waitA, waitEntry, type DnsEnv } from "../dns/env.ts";
import { gatewayApiCrdsPath } from "../support/gateway-api.ts";
import type { KubeObject } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";

const FQDN = "helloworld.default.svc.cluster.local";
const ROUTE_PATH = "/apis/gateway.networking.k8s.io/v1/namespaces";
let env: DnsEnv;
let G: string;
let S: string;

function route(ns: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hello, namespace: ${ns}}
spec:
  parentRefs: [{group: "", kind: Service, name: helloworld, namespace: default}]
  rules: [{backendRefs: [{name: helloworld, namespace: default, port: 5000}]}]
`;
}

beforeAll(async () => {
  env = await startDnsEnv("gwapi-dns");
  G = `${env.prefix}.0.50`;
  S = `${env.prefix}.12.7`;
  // The environment resolved the watched kinds before these CRDs existed: add the Gateway API
  // kinds to its list (the controllers it starts read that same list).
  await env.api.installCrds([gatewayApiCrdsPath("standard")]);
  env.kinds.push(...(await resolveKinds(env.kc)).filter((k) => k.group === "gateway.networking.k8s.io"));
  expect(env.kinds.map((k) => k.kind)).toContain("HTTPRoute");
  await env.api.applyYaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n");
  await env.startGateway();
  await env.startController({ identity: "gwapi-dns" });
}, 240_000);

afterAll(async () => {
  await env?.stop();
});

it("an HTTPRoute on a Service moves its name to the gateway once the gateway serves it; deleting the route moves it back; another namespace's route moves nothing", async () => {
  await env.api.applyYaml(`${gatewayYaml({ addresses: [G], ports: [5000] })}---\n${serviceYaml("helloworld", S, [5000])}`);
  expect(await env.dns.query(FQDN, "A")).toEqual([S]);
  // Not owned: team-a's route for default's Service is refused (HostNotOwned), so DNS stays.
  await env.api.applyYaml(route("team-a"));
  await pollUntil("the HostNotOwned Event on team-a/hello", async () => {
    const events = await env.api.list<KubeObject & { reason: string; involvedObject: { kind: string; name: string } }>("/api/v1/namespaces/team-a/events");
    return events.items.some((e) => e.involvedObject.kind === "HTTPRoute" && e.reason === "HostNotOwned") ? true : undefined;
  }, { timeoutMs: 20_000 });
  expect(await env.dns.query(FQDN, "A")).toEqual([S]);

  await env.api.applyYaml(route("default"));
  await waitA(env.dns, FQDN, [G]);
  await waitEntry(env.api, FQDN, "Redirected");

  await env.api.delete(`${ROUTE_PATH}/default/httproutes/hello`);
  await waitA(env.dns, FQDN, [S]);
}, 120_000);
