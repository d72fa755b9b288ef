// The command line of bench:controller.

import { DEFAULT_ETCD_CACHE } from "./object-store.ts";

export interface Options {
  sizes: number[];
  changes: number;
  /** Back-to-back changes after the isolated ones. */
  burst: number;
  namespaces: number;
  applyConcurrency: number;
  envoyConcurrency: number;
  /** Seconds allowed for creating the objects of one size. */
  createTimeoutS: number;
  /** Seconds allowed for the initial sync of one size. */
  syncTimeoutS: number;
  /** Seconds allowed for one change to be served. */
  changeTimeoutS: number;
  /** --max-old-space-size for the controller's Node.js (MB); undefined: Node's default. */
  controllerHeapMb: number | undefined;
  /** Extra Node.js arguments for the controller process (--controller-node-arg, repeatable), e.g. --heapsnapshot-signal=SIGUSR2. */
  controllerNodeArgs: string[];
  /** The controller's --heap-growing-percent; undefined: its default. */
  controllerHeapGrowing: number | undefined;
  /** The controller's --idle-gc-ms; undefined: its default. */
  controllerIdleGcMs: number | undefined;
  /** The controller's --log-level (its log is kept with --keep). */
  controllerLogLevel: string;
  /** Where etcd data dirs of created object sets are saved and reused (object-store.ts); undefined: create every time. */
  etcdCache: string | undefined;
  write: boolean;
  keep: boolean;
  /** Write the raw results (JSON) here after the run. */
  saveJson: string | undefined;
  /** Do not run: render the section from results saved by --save-json. */
  renderJson: string | undefined;
}

const USAGE =
  "options: --sizes 1000,10000 --changes 50 --burst 20 --namespaces 4 --apply-concurrency 16 --envoy-concurrency 2 " +
  "--create-timeout S --sync-timeout S --change-timeout S --controller-max-old-space MB --controller-node-arg ARG --controller-heap-growing-percent N --controller-idle-gc-ms MS --controller-log-level LEVEL --etcd-cache DIR --no-etcd-cache --save-json PATH --render-json PATH --no-write --keep";

export function parseOptions(argv: string[]): Options {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`usage: npm run bench:controller [-- options] (results: the Controller section of docs/benchmarks.md)\n${USAGE}\n`);
    process.exit(0);
  }
  const opts: Options = {
    sizes: [1000, 10000],
    changes: 50,
    burst: 20,
    namespaces: 4,
    applyConcurrency: 64,
    envoyConcurrency: 2,
    createTimeoutS: 900,
    syncTimeoutS: 600,
    changeTimeoutS: 60,
    controllerHeapMb: undefined,
    controllerNodeArgs: [],
    controllerHeapGrowing: undefined,
    controllerIdleGcMs: undefined,
    controllerLogLevel: "info",
    etcdCache: DEFAULT_ETCD_CACHE,
    write: true,
    keep: false,
    saveJson: undefined,
    renderJson: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${a} needs a positive whole number; ${USAGE}`);
      return v;
    };
    if (a === "--sizes") {
      opts.sizes = (argv[++i] ?? "").split(",").map(Number);
      if (opts.sizes.length === 0 || opts.sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes needs positive whole numbers, e.g. 1000,10000`);
    } else if (a === "--changes") opts.changes = next();
    else if (a === "--burst") {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`--burst needs a whole number; ${USAGE}`);
      opts.burst = v;
    } else if (a === "--namespaces") opts.namespaces = next();
    else if (a === "--apply-concurrency") opts.applyConcurrency = next();
    else if (a === "--envoy-concurrency") opts.envoyConcurrency = next();
    else if (a === "--create-timeout") opts.createTimeoutS = next();
    else if (a === "--sync-timeout") opts.syncTimeoutS = next();
    else if (a === "--change-timeout") opts.changeTimeoutS = next();
    else if (a === "--controller-max-old-space") opts.controllerHeapMb = next();
    else if (a === "--controller-node-arg") {
      const v = argv[++i];
      if (v === undefined || !v.startsWith("--")) throw new Error(`--controller-node-arg needs a Node.js option such as --heapsnapshot-signal=SIGUSR2; ${USAGE}`);
      opts.controllerNodeArgs.push(v);
    }
    else if (a === "--controller-heap-growing-percent") {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`--controller-heap-growing-percent needs a whole number; ${USAGE}`);
      opts.controllerHeapGrowing = v;
    } else if (a === "--controller-idle-gc-ms") {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`--controller-idle-gc-ms needs a whole number; ${USAGE}`);
      opts.controllerIdleGcMs = v;
    } else if (a === "--controller-log-level") opts.controllerLogLevel = argv[++i] ?? "info";
    else if (a === "--etcd-cache") opts.etcdCache = argv[++i];
    else if (a === "--no-etcd-cache") opts.etcdCache = undefined;
    else if (a === "--save-json") opts.saveJson = argv[++i];
    else if (a === "--render-json") opts.renderJson = argv[++i];
    else if (a === "--no-write") opts.write = false;
    else if (a === "--keep") opts.keep = true;
    else throw new Error(`unknown option ${a}; ${USAGE}`);
  }
  return opts;
}
