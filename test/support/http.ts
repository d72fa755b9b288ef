// A small HTTP/1.1 client on node:http (no undici) that returns status, headers and body, and a
// raw-socket variant for requests node:http would refuse to build byte for byte.

import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { LOOPBACK } from "./ports.ts";

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header name/value pairs as received (repeated headers stay separate). */
  rawHeaders: string[];
  body: string;
  /** Wall time from sending to the end of the body. */
  ms: number;
}

export interface RequestOptions {
  port: number;
  /** The address to connect to; default 127.0.0.1. */
  address?: string;
  host?: string;
  /** Path and query, e.g. "/a/b?x=1". */
  path?: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string;
  timeoutMs?: number;
  agent?: Agent;
}

/** All values of a response header (case-insensitive name), in order. */
export function headerValues(res: HttpResponse, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    if (res.rawHeaders[i].toLowerCase() === name.toLowerCase()) out.push(res.rawHeaders[i + 1]);
  }
  return out;
}

/** One request; rejects on network errors or when `timeoutMs` (default 10 s) passes. */
export function request(opts: RequestOptions): Promise<HttpResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...(opts.headers ?? {}) };
    if (opts.host !== undefined) headers.host = opts.host;
    if (opts.body !== undefined) headers["content-length"] = String(Buffer.byteLength(opts.body));
    const req = httpRequest(
      {
        host: opts.address ?? LOOPBACK,
        port: opts.port,
        method: opts.method ?? "GET",
        path: opts.path ?? "/",
        headers,
        setHost: opts.host === undefined,
        agent: opts.agent ?? false,
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks).toString("utf8"),
            ms: performance.now() - started,
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`request to ${opts.host ?? ""}${opts.path ?? "/"} timed out`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** Parses a JSON body, failing with the body in the message. */
export function jsonBody<T>(res: HttpResponse): T {
  try {
    return JSON.parse(res.body) as T;
  } catch (err) {
    throw new Error(`expected a JSON body, got status ${res.status}: ${res.body.slice(0, 500)}`, { cause: err });
  }
}

export interface RawResponse {
  status: number;
  head: string;
  body: Buffer;
}

/**
 * Sends `bytes` as they are on a fresh connection and reads one response (Connection: close
 * expected in the request). For header values that are not valid UTF-8, which node:http
 * would re-encode.
 */
export function rawRequest(port: number, bytes: Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: LOOPBACK, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error("raw request timed out")), timeoutMs);
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const split = all.indexOf("\r\n\r\n");
      const head = (split < 0 ? all : all.subarray(0, split)).toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m === null) {
        reject(new Error(`no HTTP response (${all.length} bytes): ${head.slice(0, 200)}`));
        return;
      }
      resolve({ status: Number(m[1]), head, body: split < 0 ? Buffer.alloc(0) : all.subarray(split + 4) });
    });
  });
}

/** A keep-alive agent for loops of requests (close it with `agent.destroy()`). */
export function keepAliveAgent(maxSockets = 16): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}
