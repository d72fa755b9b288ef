// Requests held by fault delays. Each root context owns one list; its onTick releases what is due.
// Plain parallel arrays of numbers: removing objects from an AS 0.17 array leaks (ARC), numbers
// do not.
import { continueRequest, nowNanos, setEffectiveContext } from "../host";
import { WasmResultValues } from "@solo-io/proxy-runtime";
import { replyAbort } from "./replies";
import { RouteTable } from "../table";

/** Tick period while requests are held; bounds how late a delay can end. */
export const DELAY_TICK_MS: u32 = 5;

export class HeldRequests {
  ids: Array<u32> = new Array<u32>();
  deadlines: Array<u64> = new Array<u64>();
  abortStatuses: Array<u32> = new Array<u32>();

  hold(contextId: u32, delayMs: u32, abortStatus: u32): void {
    this.ids.push(contextId);
    this.deadlines.push(nowNanos() + <u64>delayMs * 1000000);
    this.abortStatuses.push(abortStatus);
  }

  isHeld(contextId: u32): bool {
    return this.ids.includes(contextId);
  }

  forget(contextId: u32): void {
    let i = this.ids.indexOf(contextId);
    if (i >= 0) this.removeAt(i);
  }

  get length(): i32 {
    return this.ids.length;
  }

  private removeAt(i: i32): void {
    let last = this.ids.length - 1;
    this.ids[i] = this.ids[last];
    this.deadlines[i] = this.deadlines[last];
    this.abortStatuses[i] = this.abortStatuses[last];
    this.ids.pop();
    this.deadlines.pop();
    this.abortStatuses.pop();
  }

  /** Resumes every request whose delay is over, or answers it if it also drew an abort. */
  releaseDue(table: RouteTable): void {
    if (this.ids.length == 0) return;
    let now = nowNanos();
    let i = 0;
    while (i < this.ids.length) {
      if (this.deadlines[i] > now) { i++; continue; }
      let id = this.ids[i];
      let status = this.abortStatuses[i];
      this.removeAt(i);
      // The stream may have ended meanwhile (client gone): then there is nothing to resume.
      if (setEffectiveContext(id) != WasmResultValues.Ok) continue;
      if (status != 0) replyAbort(table, status);
      else continueRequest();
    }
  }
}
