// A real Kubernetes API server for tests: etcd and kube-apiserver (built and cached by
// `scripts/tools.sh k8s`) on 127.0.0.1 ephemeral ports, in a temp dir that holds everything
// they need (etcd data, self-signed serving cert, service-account keys, a static token file,
// a kubeconfig). The admin token is in group system:masters; --authorization-mode=RBAC, so
// extra users (opts.users) start with no rights. Readiness is polled (/health, /readyz), logs
// go to files whose tail is quoted in errors, and process groups are killed on stop() and when
// the test process exits. Manifests are applied by server-side apply over plain HTTPS.
//
// See docs/k8s-testing.md.

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopTracked } from "./processes.ts";
import { LOOPBACK } from "./ports.ts";
import { kubeApiserverBinary, etcdBinary } from "./k8s/binaries.ts";
import type { KubeApi, StartKubeApiOptions } from "./k8s/types.ts";
import { liveWorkDirs, trackWorkDir, ApiserverExited, distinctFreePorts, ADDRESS_IN_USE, startEtcd } from "./k8s/lifecycle.ts";
import { KubeApiImpl } from "./k8s/server.ts";

export { ETCD_VERSION, etcdBinary, ISTIO_API_VERSION, istioCrdsPath, K8S_VERSION, kubeApiserverBinary } from "./k8s/binaries.ts";
export { parseManifests } from "./k8s/objects.ts";
export {
  KubeApiError,
  type ApplyOptions,
  type KubeApi,
  type KubeList,
  type KubeMetadata,
  type KubeObject,
  type KubeRequestOptions,
  type KubeResponse,
  type KubeUser,
  type KubeWatch,
  type RestartReport,
  type StartKubeApiOptions,
  type WatchEvent,
  type WatchEventType,
} from "./k8s/types.ts";

// ---------------------------------------------------------------------------------------------
// Start

/**
 * Starts etcd and kube-apiserver and resolves once the API server is ready. Throws (never
 * skips) when a binary is missing: "kube-apiserver not found: run scripts/tools.sh kube-apiserver".
 */
export async function startKubeApi(opts: StartKubeApiOptions = {}): Promise<KubeApi> {
  const t0 = performance.now();
  const name = opts.name ?? "canal-test";
  // Fail before creating anything when a binary is missing.
  kubeApiserverBinary();
  etcdBinary();
  const removeWorkDir = opts.workDir === undefined && opts.keepWorkDir !== true;
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), `canal-k8s-${name.replace(/[^A-Za-z0-9-]/g, "-")}-`));
  mkdirSync(workDir, { recursive: true });
  if (removeWorkDir) trackWorkDir(workDir);
  const timeoutMs = opts.readyTimeoutMs ?? 90_000;

  // Credentials: a static token file (admin in system:masters + opts.users) and an EC key pair
  // for service-account tokens. The serving certificate is self-signed by kube-apiserver itself
  // into --cert-dir and reused across restarts.
  const tokens: Record<string, string> = {};
  const lines: string[] = [];
  const addUser = (user: string, groups: string[]): string => {
    if (!/^[A-Za-z0-9:._@-]+$/.test(user)) throw new Error(`user name ${JSON.stringify(user)} is not allowed in the token file`);
    if (tokens[user] !== undefined) throw new Error(`duplicate user ${user}`);
    const token = randomBytes(24).toString("hex");
    tokens[user] = token;
    lines.push(`${token},${user},${user},"${groups.join(",")}"`);
    return token;
  };
  const adminToken = addUser("canal-admin", ["system:masters"]);
  for (const u of opts.users ?? []) addUser(u.name, u.groups ?? []);
  const tokenFile = join(workDir, "tokens.csv");
  writeFileSync(tokenFile, `${lines.join("\n")}\n`, { mode: 0o600 });
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const saKey = join(workDir, "sa.key");
  const saPub = join(workDir, "sa.pub");
  writeFileSync(saKey, privateKey.export({ type: "sec1", format: "pem" }), { mode: 0o600 });
  writeFileSync(saPub, publicKey.export({ type: "spki", format: "pem" }));
  mkdirSync(join(workDir, "pki"), { recursive: true });

  const etcd = await startEtcd(workDir, opts.etcdArgs ?? [], timeoutMs, opts.etcdSeedDir);
  try {
    for (let attempt = 1; ; attempt++) {
      const [port] = await distinctFreePorts(1);
      const args = [
        `--etcd-servers=http://${LOOPBACK}:${etcd.port}`,
        `--bind-address=${LOOPBACK}`,
        `--advertise-address=${LOOPBACK}`,
        `--secure-port=${port}`,
        `--cert-dir=${join(workDir, "pki")}`,
        `--token-auth-file=${tokenFile}`,
        "--authorization-mode=RBAC",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        // No controller-manager creates default ServiceAccounts, and 127.0.0.1 cannot be an
        // endpoint of the "kubernetes" Service: both would only make noise here.
        "--disable-admission-plugins=ServiceAccount",
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        // Graceful shutdown closes open watches after 2 s instead of waiting --request-timeout (60 s).
        "--shutdown-send-retry-after=true",
        ...(opts.apiserverArgs ?? []),
      ];
      const api = new KubeApiImpl(name, workDir, removeWorkDir, port, etcd.port, etcd.child, args, adminToken, tokens, timeoutMs);
      try {
        await api.startApiserver();
      } catch (err) {
        const log = existsSync(api.apiserverLogPath) ? readFileSync(api.apiserverLogPath, "utf8") : "";
        if (err instanceof ApiserverExited && attempt < 3 && ADDRESS_IN_USE.test(log)) {
          rmSync(api.apiserverLogPath, { force: true });
          continue; // lost a port race; fresh port
        }
        throw err;
      }
      api.writeClientFiles();
      api.etcdVersion = etcd.version;
      api.startupMs = performance.now() - t0;
      return api;
    }
  } catch (err) {
    await stopTracked(etcd.child, 2000);
    if (removeWorkDir) {
      rmSync(workDir, { recursive: true, force: true });
      liveWorkDirs.delete(workDir);
    }
    throw err;
  }
}
