// A watch on the API server: newline-delimited JSON events, buffered, awaited with a deadline.

import type { IncomingMessage } from "node:http";
import type { KubeObject, WatchEventType, WatchEvent, KubeWatch } from "./types.ts";
import { isRecord } from "./objects.ts";

export class WatchStream<T extends KubeObject> implements KubeWatch<T> {
  private readonly buffer: WatchEvent<T>[] = [];
  private waiter: (() => void) | undefined;
  private done = false;
  private failure: Error | undefined;
  readonly ended: Promise<void>;

  constructor(
    res: IncomingMessage,
    private readonly abort: () => void,
  ) {
    let pending = "";
    let endResolve: () => void = () => {};
    this.ended = new Promise((r) => (endResolve = r));
    const finish = (err?: Error): void => {
      if (this.done) return;
      this.done = true;
      this.failure = err;
      endResolve();
      this.wake();
    };
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line === "") continue;
        const parsed: unknown = JSON.parse(line);
        if (isRecord(parsed) && typeof parsed.type === "string" && isRecord(parsed.object)) {
          this.buffer.push({ type: parsed.type as WatchEventType, object: parsed.object as T });
          this.wake();
        }
      }
    });
    res.on("end", () => finish());
    res.on("close", () => finish());
    res.on("error", (e: Error) => finish(e));
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async next(timeoutMs = 10_000): Promise<WatchEvent<T>> {
    return this.waitFor(() => true, timeoutMs);
  }

  async waitFor(pred: (e: WatchEvent<T>) => boolean, timeoutMs = 10_000): Promise<WatchEvent<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.buffer.length > 0) {
        const e = this.buffer.shift();
        if (e !== undefined && pred(e)) return e;
      }
      if (this.done) throw new Error(`watch ended${this.failure ? `: ${this.failure.message}` : ""} before a matching event`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching watch event within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  }

  close(): void {
    this.abort();
  }
}
