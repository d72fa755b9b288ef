// Loads Canal's real filter (build/canal.wasm, rebuilt when stale) into the emulator, so the fast
// suites exercise the same binary the real-Envoy suite runs.
import { readFileSync } from "node:fs";
import { ensureCanalWasm } from "../support/wasm.js";
import { ProxyWasmHost, type HeaderList, type HostOptions, type LocalResponse } from "./host.js";

let wasm: Uint8Array<ArrayBuffer> | null = null;

function canalWasm(): Uint8Array<ArrayBuffer> {
  if (wasm === null) wasm = new Uint8Array(readFileSync(ensureCanalWasm()));
  return wasm;
}

/** A started filter with `table` configured (an object is serialized; a string is sent as is). */
export async function startCanal(table: unknown, opts: HostOptions = {}): Promise<ProxyWasmHost> {
  const config = typeof table === "string" ? table : JSON.stringify(table);
  const host = await ProxyWasmHost.load(canalWasm(), { rootId: "canal", pluginConfig: config, ...opts });
  if (!host.startVm()) throw new Error("canal: proxy_on_vm_start returned false");
  if (!host.configure()) throw new Error(`canal: the table was rejected: ${host.logMessages().join("\n")}`);
  return host;
}

export interface Outcome {
  /** x-canal-cluster after the filter ran, when it forwarded the request. */
  cluster?: string;
  local?: LocalResponse;
  requestHeaders: HeaderList;
  responseHeaders: HeaderList;
  action: number;
}

/** Runs one request through the filter and completes it. */
export function send(host: ProxyWasmHost, path: string, headers: Record<string, string> = {}, response: HeaderList = [[":status", "200"]]): Outcome {
  const reqHeaders: HeaderList = [
    [":method", headers[":method"] ?? "GET"],
    [":scheme", headers[":scheme"] ?? "http"],
    [":path", path],
    [":authority", headers[":authority"] ?? "a.example.com"],
  ];
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith(":")) reqHeaders.push([k, v]);
  const id = host.newHttpContext();
  const action = host.requestHeaders(id, reqHeaders, true);
  const local = host.getLocalResponse(id) ?? undefined;
  const requestHeaders = host.getRequestHeaders(id);
  if (!local) host.responseHeaders(id, response, true);
  const responseHeaders = local ? [] : host.getResponseHeaders(id);
  host.completeRequest(id);
  const cluster = local ? undefined : requestHeaders.find(([k]) => k === "x-canal-cluster")?.[1];
  return { cluster, local, requestHeaders, responseHeaders, action };
}

export function header(list: HeaderList, name: string): string | undefined {
  return list.find(([k]) => k === name)?.[1];
}
