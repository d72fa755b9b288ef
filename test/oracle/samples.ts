// Istio's own samples, rewritten for the oracle's pool (same shapes, not copies): bookinfo's
// reviews routing (header match to v2, 50/50 split), its ratings fault, httpbin's regex match
// with a rewrite and a timeout, and helloworld's canary split.
import { fqdn, GATEWAYS, POOL, PROBE_HEADER, type GeneratedVs, type OracleConfig, type PoolService, type RequestShape } from "./generator.ts";

type Yaml = { [key: string]: unknown };

function service(name: string, namespace: string): PoolService {
  const s = POOL.find((p) => p.name === name && p.namespace === namespace);
  if (s === undefined) throw new Error(`no pool service ${namespace}/${name}`);
  return s;
}

function vs(s: PoolService, probe: string, http: Yaml[], requests: RequestShape[], splits: string[][] = []): GeneratedVs {
  return {
    service: s,
    probe,
    splits,
    requests: requests.map((r) => ({ ...r, headers: { "x-remove-me": "present", ...r.headers } })),
    object: {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: `oracle-${s.name}`, namespace: s.namespace },
      spec: {
        hosts: [s.name],
        gateways: GATEWAYS,
        http: [{ name: "probe", match: [{ headers: { [PROBE_HEADER]: { exact: probe } } }], directResponse: { status: 200, body: { string: probe } } }, ...http],
      },
    },
  };
}

const get = (path: string, intent: string, headers: Record<string, string> = {}): RequestShape => ({ method: "GET", path, headers, intent });

const reviews = service("reviews", "default");
const ratings = service("ratings", "default");
const httpbin = service("httpbin", "shop");
const cart = service("cart", "shop");

export const SAMPLES: OracleConfig[] = [
  {
    name: "sample-bookinfo-reviews",
    virtualServices: [
      vs(reviews, "s1-0", [
        { match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: fqdn(reviews), subset: "v2" } }] },
        { route: [{ destination: { host: fqdn(reviews), subset: "v1" }, weight: 50 }, { destination: { host: fqdn(reviews), subset: "v3" }, weight: 50 }] },
      ], [
        get("/reviews/0", "jason -> v2", { "end-user": "jason" }),
        get("/reviews/0", "Jason is not jason", { "end-user": "Jason" }),
        { ...get("/reviews/0", "anyone else: 50/50"), weights: [{ upstream: "reviews.default/v1", weight: 50 }, { upstream: "reviews.default/v3", weight: 50 }] },
      ], [["reviews.default/v1", "reviews.default/v3"]]),
    ],
  },
  {
    name: "sample-bookinfo-ratings-fault",
    virtualServices: [
      vs(ratings, "s2-0", [
        { match: [{ headers: { "end-user": { exact: "jason" } } }], fault: { abort: { percentage: { value: 100 }, httpStatus: 500 } }, route: [{ destination: { host: fqdn(ratings), subset: "v1" } }] },
        { match: [{ headers: { "end-user": { exact: "slow" } } }], fault: { delay: { percentage: { value: 100 }, fixedDelay: "50ms" } }, route: [{ destination: { host: fqdn(ratings), subset: "v1" } }] },
        { route: [{ destination: { host: fqdn(ratings), subset: "v1" } }] },
      ], [
        get("/ratings/0", "jason aborted", { "end-user": "jason" }),
        get("/ratings/0", "slow delayed", { "end-user": "slow" }),
        get("/ratings/0", "others"),
        get("/ratings/0", "backend 503 once: not retried by default", { "x-test-fail-times": "1" }),
      ]),
    ],
  },
  {
    name: "sample-httpbin-regex-rewrite-timeout",
    virtualServices: [
      vs(httpbin, "s3-0", [
        { match: [{ uri: { regex: "/status/[0-9]{3}" } }], route: [{ destination: { host: fqdn(httpbin), subset: "v1" } }] },
        { match: [{ uri: { prefix: "/old" } }], rewrite: { uri: "/new" }, route: [{ destination: { host: fqdn(httpbin), subset: "v2" } }] },
        { match: [{ uri: { prefix: "/delay" } }], timeout: "2s", route: [{ destination: { host: fqdn(httpbin), subset: "v1" } }] },
        { route: [{ destination: { host: fqdn(httpbin), subset: "v2" } }], headers: { request: { set: { "x-sample": "httpbin" } } } },
      ], [
        get("/status/418", "regex"),
        get("/status/4180", "regex: full match only"),
        get("/old/path?x=1", "prefix rewrite keeps the rest and the query"),
        get("/delay/3", "timeout: 504 after 2 s", { "x-test-delay-ms": "2500" }),
        get("/delay/1", "within the timeout", { "x-test-delay-ms": "100" }),
        get("/anything", "default route with a header set"),
        get("/%6Fld/x", "percent-encoded path, normalized"),
        get("/status/../old/x", "dot segments, normalized"),
      ]),
    ],
  },
  {
    name: "sample-helloworld-canary",
    virtualServices: [
      vs(cart, "s4-0", [
        { match: [{ headers: { "x-canary": { exact: "true" } } }], route: [{ destination: { host: fqdn(cart), subset: "v2" } }] },
        { match: [{ uri: { prefix: "/hello" } }], route: [{ destination: { host: fqdn(cart), subset: "v1" }, weight: 90 }, { destination: { host: fqdn(cart), subset: "v2" }, weight: 10 }] },
        { route: [{ destination: { host: fqdn(cart), subset: "v1" } }] },
      ], [
        get("/", "canary", { "x-canary": "true" }),
        { ...get("/hello", "90/10"), weights: [{ upstream: "cart.shop/v1", weight: 90 }, { upstream: "cart.shop/v2", weight: 10 }] },
        get("/other", "default"),
      ], [["cart.shop/v1", "cart.shop/v2"]]),
    ],
  },
];
