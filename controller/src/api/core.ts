// Core Kubernetes Service (v1): the fields Canal reads. Other Service fields are accepted and
// ignored: they do not affect routing.
import type { ObjectBase } from "./meta.ts";

export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";

export interface ServicePort {
  name?: string;
  port: number;
  protocol: string;
  appProtocol?: string;
  targetPort?: number | string;
}

export interface ServiceSpec {
  type: ServiceType;
  /** "None" for a headless Service; absent until the API server allocates one. */
  clusterIP?: string;
  /** Dual-stack: every cluster IP (the first equals clusterIP). Read for DNS redirection (A and AAAA). */
  clusterIPs?: string[];
  ports: ServicePort[];
}

export type Service = ObjectBase<"Service", ServiceSpec>;
