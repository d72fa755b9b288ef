// A minimal DNS client over UDP (node:dgram) for tests: one question, answers decoded for the
// common types, in the form dig prints them.

import { createSocket } from "node:dgram";
import { LOOPBACK } from "./ports.ts";

export type DnsType = "A" | "AAAA" | "SRV" | "PTR" | "CNAME" | "TXT" | "NS" | "SOA" | "MX" | "HTTPS" | "ANY";

export interface DnsRecord {
  /** Owner name, fully qualified, lower case, with the final dot. */
  name: string;
  ttl: number;
  type: string;
  /** The record data as dig prints it (e.g. "10.96.0.10", "0 100 80 web.ns.svc.cluster.local."). */
  data: string;
}

export interface DnsAnswer {
  /** NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ... */
  rcode: string;
  authoritative: boolean;
  answers: DnsRecord[];
  /** The authority section (the SOA of a negative answer). */
  authority: DnsRecord[];
}

const TYPE_CODES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, HTTPS: 65, ANY: 255 };
const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE_CODES).map(([k, v]) => [v, k]));
const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, "").split(".").filter((p) => p !== "");
  const bufs = parts.map((p) => {
    const b = Buffer.from(p, "ascii");
    if (b.length > 63) throw new Error(`label too long: ${p}`);
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  return Buffer.concat([...bufs, Buffer.from([0])]);
}

function decodeName(msg: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let hops = 0; hops < 64; hops++) {
    const len = msg[pos];
    if (len === 0) {
      if (next < 0) next = pos + 1;
      return { name: `${labels.join(".")}.`.toLowerCase(), next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1];
      continue;
    }
    labels.push(msg.subarray(pos + 1, pos + 1 + len).toString("ascii"));
    pos += 1 + len;
  }
  throw new Error("DNS name compression loop");
}

function ipv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // compress the longest run of zero groups (RFC 5952), as dig prints it
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

function decodeRecords(msg: Buffer, offset: number, count: number): { records: DnsRecord[]; next: number } {
  const records: DnsRecord[] = [];
  let pos = offset;
  for (let i = 0; i < count; i++) {
    const { name, next } = decodeName(msg, pos);
    const type = msg.readUInt16BE(next);
    const ttl = msg.readUInt32BE(next + 4);
    const rdlen = msg.readUInt16BE(next + 8);
    const rd = next + 10;
    const typeName = TYPE_NAMES.get(type) ?? `TYPE${type}`;
    let data: string;
    switch (typeName) {
      case "A":
        data = [...msg.subarray(rd, rd + 4)].join(".");
        break;
      case "AAAA":
        data = ipv6(msg.subarray(rd, rd + 16));
        break;
      case "CNAME":
      case "PTR":
      case "NS":
        data = decodeName(msg, rd).name;
        break;
      case "SRV":
        data = `${msg.readUInt16BE(rd)} ${msg.readUInt16BE(rd + 2)} ${msg.readUInt16BE(rd + 4)} ${decodeName(msg, rd + 6).name}`;
        break;
      case "SOA": {
        const mname = decodeName(msg, rd);
        const rname = decodeName(msg, mname.next);
        const n = rname.next;
        const nums = [0, 4, 8, 12, 16].map((o) => msg.readUInt32BE(n + o));
        data = `${mname.name} ${rname.name} ${nums.join(" ")}`;
        break;
      }
      case "TXT": {
        const strs: string[] = [];
        for (let p = rd; p < rd + rdlen; ) {
          const l = msg[p];
          strs.push(JSON.stringify(msg.subarray(p + 1, p + 1 + l).toString("utf8")));
          p += 1 + l;
        }
        data = strs.join(" ");
        break;
      }
      default:
        data = msg.subarray(rd, rd + rdlen).toString("hex");
    }
    records.push({ name, ttl, type: typeName, data });
    pos = rd + rdlen;
  }
  return { records, next: pos };
}

/** One DNS query over UDP to 127.0.0.1:port with node:dgram (no EDNS; answers up to 512 bytes). */
export function udpLookup(port: number, name: string, type: DnsType = "A", timeoutMs = 2000): Promise<DnsAnswer> {
  const code = TYPE_CODES[type];
  const id = Math.floor(Math.random() * 0x10000);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4);
  const question = Buffer.concat([encodeName(name), Buffer.from([code >> 8, code & 0xff, 0, 1])]);
  const query = Buffer.concat([header, question]);
  return new Promise((resolvePromise, reject) => {
    const sock = createSocket("udp4");
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no DNS answer from ${LOOPBACK}:${port} for ${name} ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("error", (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.on("message", (msg) => {
      if (msg.length < 12 || msg.readUInt16BE(0) !== id) return; // not ours
      clearTimeout(timer);
      sock.close();
      try {
        const flags = msg.readUInt16BE(2);
        const qd = msg.readUInt16BE(4);
        const an = msg.readUInt16BE(6);
        const ns = msg.readUInt16BE(8);
        let pos = 12;
        for (let i = 0; i < qd; i++) pos = decodeName(msg, pos).next + 4;
        const answers = decodeRecords(msg, pos, an);
        const authority = decodeRecords(msg, answers.next, ns);
        resolvePromise({
          rcode: RCODES[flags & 0xf] ?? `RCODE${flags & 0xf}`,
          authoritative: (flags & 0x0400) !== 0,
          answers: answers.records,
          authority: authority.records,
        });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    sock.send(query, port, LOOPBACK);
  });
}
