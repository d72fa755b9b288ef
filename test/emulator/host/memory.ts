// The module's linear memory as host functions see it: reads, little-endian writes, and values
// returned in memory the module allocates (its exported malloc).

import { dec, EMPTY, enc, WasmResult } from "./abi.ts";

export class ModuleMemory {
  private memory!: WebAssembly.Memory;
  private alloc!: (size: number) => number;
  private memBuf: ArrayBuffer | null = null;
  private u8 = EMPTY;
  private dv = new DataView(new ArrayBuffer(0));

  /** Set once the module is instantiated (imports are built before, and read memory lazily). */
  attach(memory: WebAssembly.Memory, alloc: (size: number) => number): void {
    this.memory = memory;
    this.alloc = alloc;
  }

  /** Size of the module's linear memory in bytes. */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /** Memory allocated by the module's malloc (0: it failed). */
  allocate(size: number): number {
    return this.alloc(size) >>> 0;
  }

  view(): DataView {
    if (this.memBuf !== this.memory.buffer) {
      this.memBuf = this.memory.buffer;
      this.u8 = new Uint8Array(this.memBuf);
      this.dv = new DataView(this.memBuf);
    }
    return this.dv;
  }
  bytes(): Uint8Array {
    this.view();
    return this.u8;
  }
  readBytes(ptr: number, len: number): Uint8Array {
    return this.bytes().slice(ptr >>> 0, (ptr >>> 0) + (len >>> 0));
  }
  readString(ptr: number, len: number): string {
    const u8 = this.bytes();
    ptr >>>= 0;
    len >>>= 0;
    if (len < 48) {
      let s = "";
      for (let i = 0; i < len; i++) {
        const c = u8[ptr + i];
        if (c >= 0x80) return dec.decode(u8.subarray(ptr, ptr + len));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return dec.decode(u8.subarray(ptr, ptr + len));
  }
  setU32(ptr: number, v: number): void {
    this.view().setUint32(ptr >>> 0, v >>> 0, true);
  }
  setU64(ptr: number, v: bigint): void {
    this.view().setBigUint64(ptr >>> 0, BigInt.asUintN(64, v), true);
  }
  /** Copies bytes into module memory allocated by its malloc; writes pointer and size. */
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): number {
    let p = 0;
    if (data.length > 0) {
      p = this.alloc(data.length) >>> 0;
      if (p === 0) return WasmResult.InvalidMemoryAccess;
      this.bytes().set(data, p);
    }
    this.setU32(ptrPtr, p);
    this.setU32(sizePtr, data.length);
    return WasmResult.Ok;
  }
  copyOutString(s: string, ptrPtr: number, sizePtr: number): number {
    return this.copyOut(s.length === 0 ? EMPTY : enc.encode(s), ptrPtr, sizePtr);
  }
}
