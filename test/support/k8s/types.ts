// The API-server harness's public types: objects, requests, watches, options, and KubeApi.

import type * as k8s from "@kubernetes/client-node";
import type { IncomingMessage } from "node:http";

export interface KubeMetadata {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: KubeMetadata;
  [key: string]: unknown;
}

export interface KubeList<T extends KubeObject = KubeObject> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface KubeResponse {
  status: number;
  headers: IncomingMessage["headers"];
  /** Raw body text. */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface KubeRequestOptions {
  /** Sent as JSON unless it is a string (sent as is). */
  body?: unknown;
  contentType?: string;
  /** Bearer token; default the admin token. */
  token?: string;
  query?: Record<string, string | number | boolean>;
  timeoutMs?: number;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
}

export interface KubeWatch<T extends KubeObject = KubeObject> {
  /** Resolves with the next event (buffered in arrival order); rejects after timeoutMs or when the stream ends. */
  next(timeoutMs?: number): Promise<WatchEvent<T>>;
  /** Resolves with the first event (buffered or future) that matches `pred`, dropping the ones before it. */
  waitFor(pred: (e: WatchEvent<T>) => boolean, timeoutMs?: number): Promise<WatchEvent<T>>;
  /** Resolves when the server or close() ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

export interface ApplyOptions {
  /** Server-side apply field manager; default "canal-test". */
  fieldManager?: string;
  /** Namespace for namespaced objects without metadata.namespace; default "default". */
  namespace?: string;
  /** Bearer token; default the admin token. */
  token?: string;
}

export interface RestartReport {
  /** "SIGTERM" (graceful) or "SIGKILL" (crash). */
  signal: "SIGTERM" | "SIGKILL";
  /** How the old process ended: its exit code, or the signal that ended it. */
  exitCode: number | null;
  exitSignal: string | null;
  stopMs: number;
  startMs: number;
}

export interface KubeUser {
  name: string;
  groups?: string[];
}

export interface StartKubeApiOptions {
  /** For messages and the temp dir name. */
  name?: string;
  /** Directory for data, certificates and logs; default a fresh temp dir removed by stop(). */
  workDir?: string;
  /** Keep workDir after stop() (always kept when given explicitly). */
  keepWorkDir?: boolean;
  /** Extra users with static bearer tokens (see KubeApi.tokens); RBAC gives them nothing until bound. */
  users?: KubeUser[];
  /** Extra kube-apiserver flags (appended; a later flag wins). */
  apiserverArgs?: string[];
  /** Extra etcd flags. */
  etcdArgs?: string[];
  /**
   * An etcd data directory (of a stopped etcd) copied in as etcd's data before it starts: the
   * objects it holds are there at once (a bench reuses a large object set instead of creating it
   * again). etcd runs with --force-new-cluster so the copy's member takes the new ports.
   */
  etcdSeedDir?: string;
  /** Time allowed for etcd and for kube-apiserver to become ready; default 90 s each. */
  readyTimeoutMs?: number;
}

export interface KubeApi {
  /** https://127.0.0.1:PORT */
  readonly server: string;
  readonly port: number;
  /** Admin bearer token (user "canal-admin", group system:masters). */
  readonly token: string;
  /** Bearer tokens by user name: the admin and every opts.users entry. */
  readonly tokens: Readonly<Record<string, string>>;
  /** PEM of the self-signed CA that issued the serving certificate (SANs: 127.0.0.1, 10.96.0.1, kubernetes.default.svc). */
  readonly ca: string;
  readonly caPath: string;
  /** A kubeconfig for the admin (context "canal-test"). */
  readonly kubeconfigPath: string;
  /** http://127.0.0.1:PORT of etcd. */
  readonly etcdUrl: string;
  /** What etcd's /version says, e.g. "3.7.0". */
  readonly etcdVersion: string;
  readonly workDir: string;
  readonly apiserverLogPath: string;
  readonly etcdLogPath: string;
  /** Milliseconds from start until etcd was healthy and /readyz answered ok. */
  readonly startupMs: number;
  /** How the last restart() went: time to stop the old server and to get /readyz ok from the new one. */
  readonly lastRestart: RestartReport | undefined;
  /** Process ids (process-group leaders) of etcd and of the current kube-apiserver. */
  pids(): { etcd: number; apiserver: number };

  /** One HTTPS request to the API server (admin token unless opts.token). Never throws on HTTP status. */
  request(method: string, path: string, opts?: KubeRequestOptions): Promise<KubeResponse>;
  /** GET that throws KubeApiError unless 2xx. */
  get<T extends KubeObject = KubeObject>(path: string, token?: string): Promise<T>;
  /** GET a list that throws KubeApiError unless 2xx. */
  list<T extends KubeObject = KubeObject>(path: string, token?: string): Promise<KubeList<T>>;
  /** POST that throws KubeApiError unless 2xx. */
  create<T extends KubeObject = KubeObject>(path: string, body: unknown, token?: string): Promise<T>;
  /** DELETE that throws KubeApiError unless 2xx or 404. */
  delete(path: string, token?: string): Promise<void>;
  /** REST path of a kind (found by discovery), e.g. ("networking.istio.io/v1", "VirtualService", "ns", "x"). */
  resourcePath(apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string>;
  /** Server-side applies each object (force: true) and returns what the server stored. */
  apply(objects: KubeObject[], opts?: ApplyOptions): Promise<KubeObject[]>;
  /** Parses a multi-document YAML (empty documents skipped) and applies it. */
  applyYaml(text: string, opts?: ApplyOptions): Promise<KubeObject[]>;
  /** Applies every CRD in these YAML files and waits until each is Established and all its served versions answer. Returns the CRD names. */
  installCrds(paths: string[]): Promise<string[]>;
  /** installCrds([istioCrdsPath()]). */
  installIstioCrds(): Promise<string[]>;
  /** Istio's CRDs and Canal's InternalGateway CRD (controller/crds): what the controller watches. */
  installCanalCrds(): Promise<string[]>;
  /** installCanalCrds() plus the istio-system namespace (the seed's Gateway, InternalGateway and the controller's Lease live there). */
  prepareForCanal(): Promise<void>;
  /** A client-node KubeConfig for this API server (admin credentials). */
  kubeConfig(): k8s.KubeConfig;
  /** Opens a watch on a collection path (`?watch=1` is added). */
  watch<T extends KubeObject = KubeObject>(
    path: string,
    opts?: { resourceVersion?: string; token?: string; query?: Record<string, string> },
  ): Promise<KubeWatch<T>>;
  /**
   * Stops only kube-apiserver and starts it again with the same etcd, port, certificates and
   * tokens. Default: SIGTERM, a graceful shutdown (open watches are closed by the server within
   * about 2 s: --shutdown-send-retry-after); { kill: true }: SIGKILL, a crash.
   */
  restart(opts?: { kill?: boolean }): Promise<RestartReport>;
  /** Stops kube-apiserver and etcd and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** A non-2xx answer; `reason` and `message` come from the Status object when there is one. */
export class KubeApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly reason: string,
    readonly body: string,
  ) {
    super(`${method} ${path}: HTTP ${status} ${reason}: ${body.slice(0, 2000)}`);
    this.name = "KubeApiError";
  }
}
