// What one size of the controller bench measures.

export interface ChangeResult {
  index: number;
  vs: string;
  applyMs: number;
  /** Start of the apply → Envoy's update_success seen by a poll (10 ms interval). */
  ackPolledMs: number;
  /** Start of the apply → Envoy logged the response as accepted (its own timestamp). */
  ackMs: number | undefined;
  /** Start of the apply → Envoy logged the response's arrival. */
  receivedMs: number | undefined;
  /** Start of the apply → a request was routed by the change (the workers serve it). */
  servedMs: number;
  translations: number;
  /** VirtualServices whose routes were translated anew (canal_memo_virtualservices{result="translated"}), until quiet. */
  vsTranslated: number;
  /** CPU ms from time zero until served: Envoy's main thread, Envoy's workers. */
  envoyMainCpuMs: number;
  envoyWorkersCpuMs: number;
  /** Controller CPU ms from time zero until served (and until quiet, for isolated changes). */
  controllerCpuMs: number;
  controllerCpuUntilQuietMs: number;
  /** Date.now() at time zero (to match Envoy's log timestamps). */
  startWall: number;
}

export interface SizeResult {
  n: number;
  etcdVersion: string;
  objects: number;
  createS: number;
  createRate: number;
  /** "cache": the objects came from an etcd data dir saved by an earlier run (createS is that run's); absent in older saved runs. */
  objectsSource?: "created" | "cache";
  apiStartS: number;
  /** Spawn → log lines. */
  ecdsListeningS: number;
  cachesSyncedS: number;
  envoyStartS: number;
  /** Spawn → Envoy accepted the full table (Envoy's log) / seen by the poll / served by the workers. */
  syncAckS: number;
  syncPolledS: number;
  syncServedS: number;
  syncReceivedS: number | undefined;
  tableBytes: number;
  vhosts: number;
  domains: number;
  routes: number;
  rssAfterSync: number;
  rssSettled: number;
  rssEnd: number;
  hwm: number;
  /** Highest VmRSS the 200 ms sampler saw in each phase. */
  peakByPhase: { phase: string; bytes: number }[];
  /** CPU seconds until the initial table was served: Envoy's main thread and the controller, each from its start. */
  syncEnvoyMainCpuS: number;
  syncControllerCpuS: number;
  controllerCpuS: number;
  translateSamples: number[];
  pushSamples: number[];
  metricsTableBytes: number;
  changes: ChangeResult[];
  burst: ChangeResult[];
  breakdown: Breakdown;
  /** VmRSS when the controller logged "starting" (modules loaded, informers not listed yet). */
  rssAtStart: number;
  /** What bin/canal.mjs ran: "bundle", or "sources (why)". */
  code: string;
}

export interface Breakdown {
  listMs: number;
  parseMs: number;
  translateMs: number;
  stringifyMs: number;
  encodeMs: number;
  resourceBytes: number;
  /** translate() with the controller's memo after one VirtualService changed, + tableJson (CPU ms, median of 10). */
  incrementalMs: number;
  /** VirtualServices translated anew in those passes (median). */
  incrementalVs: number;
}
