// One controller replica as its own OS process (so a test can SIGKILL it): the same wiring as
// test/dns/env.ts's in-process controllers (ECDS mode, --dns with TTL 5 s, drain 7 s, lease 3 s),
// its own ECDS server on an ephemeral loopback port, the prober dialling pods through network.ts.
// Prints one line `{"ads":<port>}` on stdout once started; logs go to stderr.
//
//   node --import tsx test/chaos/controller-main.ts <kubeconfig> <identity> <dns mount path> <pod net>
import * as k8s from "@kubernetes/client-node";
import { DnsManager } from "../../controller/src/sinks/dns/manager.ts";
import { resolveKinds } from "../../controller/src/kube/resources.ts";
import { Controller } from "../../controller/src/runner/controller.ts";
import { jsonLogger } from "../../controller/src/common/log.ts";
import { EcdsPublisher } from "../../controller/src/sinks/ecds-publisher.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { podDial, POD_WASM_PATH } from "./network.ts";

const [kubeconfig, identity, mountPath, podNet] = process.argv.slice(2);
if (kubeconfig === undefined || identity === undefined || mountPath === undefined || podNet === undefined) {
  process.stderr.write("usage: controller-main.ts <kubeconfig> <identity> <dns mount path> <pod net>\n");
  process.exit(2);
}
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);
const log = jsonLogger("info", { identity });
const publisher = new EcdsPublisher({ code: { local: POD_WASM_PATH } });
const { port } = await publisher.server.start("127.0.0.1:0");
const dns = new DnsManager(
  kc,
  { configMap: { namespace: "kube-system", name: "canal-dns" }, ttlSeconds: 5, drainSeconds: 7, dryRun: false, mountPath, clusterDomain: "cluster.local", pollMs: 1000, probe: { dial: podDial(podNet), fastMs: 100, intervalMs: 1000 } },
  log,
);
const controller = new Controller({ kc, kinds: await resolveKinds(kc), log, identity, leaseNamespace: "istio-system", leaseDurationSeconds: 3, validateRegex: loadRegexValidator(), dns, publisher });
await controller.start();
process.stdout.write(`${JSON.stringify({ ads: port })}\n`);
process.on("SIGTERM", () => {
  void controller.stop().finally(() => publisher.server.stop().finally(() => process.exit(0)));
});
