// The one-copy encoders must write exactly the bytes protobufjs writes level by level.
import { describe, expect, it } from "vitest";
import type { TableJsonParts } from "../../translate/assemble-table.ts";
import { encodeNested, joinJson, level, sameJson } from "./nested.ts";
import { decodeDiscoveryResponse, encodeDiscoveryResponse, encodeDiscoveryResponseWithProtobufjs, type DiscoveryResponse } from "./proto.ts";
import { encodeCanalResource, encodeCanalResourceWithProtobufjs, type CanalResourceOptions } from "./resource.ts";

const TABLES: [string, string][] = [
  ["one byte", "x"],
  ["a small table", JSON.stringify({ format: 1, version: "sha256:ab", virtualHosts: [] })],
  ["non-ASCII (2-, 3- and 4-byte UTF-8)", JSON.stringify({ body: "é ü 中文 😀", n: 1 })],
  ["127 bytes (1-byte length)", "a".repeat(127)],
  ["128 bytes (2-byte length)", "a".repeat(128)],
  ["16,384 bytes (3-byte length)", "b".repeat(16_384)],
  ["2.1 MB (4-byte length) with non-ASCII", `${"c".repeat(2_097_150)}é😀`],
];

const OPTIONS: [string, CanalResourceOptions][] = [
  ["local code, defaults", { code: { local: "/etc/canal/canal.wasm" } }],
  ["remote code, every name set", { code: { remote: { uri: "https://x/canal.wasm", cluster: "wasm", sha256: "a".repeat(64), timeoutMs: 2500 } }, resourceName: "r", pluginName: "p", rootId: "root", vmId: "vm", runtime: "envoy.wasm.runtime.null" }],
];

describe("encodeCanalResource (one copy of the table)", () => {
  for (const [what, opts] of OPTIONS) {
    for (const [name, json] of TABLES) {
      it(`${what}: ${name} → the same bytes as protobufjs`, () => {
        const fast = encodeCanalResource(opts, json);
        const reference = encodeCanalResourceWithProtobufjs(opts, json);
        expect(Buffer.from(fast).equals(Buffer.from(reference))).toBe(true);
      });
    }
  }
  it("the empty table (an absent field in protobuf) goes the reference way", () => {
    const opts = OPTIONS[0]?.[1] as CanalResourceOptions;
    expect(Buffer.from(encodeCanalResource(opts, "")).equals(Buffer.from(encodeCanalResourceWithProtobufjs(opts, "")))).toBe(true);
  });
});

describe("encodeDiscoveryResponse (one copy of the resource)", () => {
  const resource = encodeCanalResource({ code: { local: "/w.wasm" } }, `{"t":"${"z".repeat(70_000)}é"}`);
  const base: DiscoveryResponse = {
    versionInfo: "sha256:0123",
    resources: [{ type_url: "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", value: resource }],
    typeUrl: "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
    nonce: "n-1-7",
    controlPlane: "canal-controller",
  };
  const cases: [string, DiscoveryResponse][] = [
    ["one resource, control plane set", base],
    ["no control plane, empty version", { ...base, controlPlane: undefined, versionInfo: "" }],
    ["two resources (the reference path)", { ...base, resources: [...base.resources, ...base.resources] }],
    ["an empty resource value (the reference path)", { ...base, resources: [{ type_url: "t", value: new Uint8Array(0) }] }],
  ];
  for (const [name, r] of cases) {
    it(`${name} → the same bytes as protobufjs, and it decodes back`, () => {
      const fast = encodeDiscoveryResponse(r);
      expect(Buffer.from(fast).equals(Buffer.from(encodeDiscoveryResponseWithProtobufjs(r)))).toBe(true);
      const back = decodeDiscoveryResponse(fast);
      expect(back.versionInfo).toBe(r.versionInfo);
      expect(back.nonce).toBe(r.nonce);
      expect(back.resources.length).toBe(r.resources.length);
      back.resources.forEach((x, i) => expect(Buffer.from(x.value).equals(Buffer.from(r.resources[i]?.value ?? new Uint8Array(0)))).toBe(true));
    });
  }
});

describe("encodeNested", () => {
  it("writes before, tag, length, inner levels, payload, then the afters innermost first", () => {
    const out = encodeNested([level(Uint8Array.of(0xaa), 2, Uint8Array.of(0xbb)), level(Uint8Array.of(), 1)], "hi");
    // outer: aa, tag(2,LEN)=0x12, len=4, [inner: tag(1,LEN)=0x0a, len=2, "hi"], bb
    expect([...out]).toEqual([0xaa, 0x12, 4, 0x0a, 2, 0x68, 0x69, 0xbb]);
  });
  it("refuses a field number outside protobuf's range", () => {
    expect(() => level(Uint8Array.of(), 0)).toThrow(/field number 0/);
  });
});

describe("JSON parts (the table without one big string)", () => {
  const parts: TableJsonParts = { head: '{"format":1,"virtualHosts":[', items: ['{"name":"a/é"}', '{"name":"b/😀"}', "{}"], tail: "]}", byteLength: 0 };
  parts.byteLength = Buffer.byteLength(joinJson(parts));
  it("encode the same bytes as the joined string, through every level", () => {
    const opts: CanalResourceOptions = { code: { local: "/w.wasm" } };
    expect(Buffer.from(encodeCanalResource(opts, parts)).equals(Buffer.from(encodeCanalResourceWithProtobufjs(opts, joinJson(parts))))).toBe(true);
    expect(joinJson(parts)).toBe('{"format":1,"virtualHosts":[{"name":"a/é"},{"name":"b/😀"},{}]}');
  });
  it("a wrong byteLength is caught, not written past", () => {
    expect(() => encodeNested([level(Uint8Array.of(), 1)], { ...parts, byteLength: parts.byteLength - 1 })).toThrow(/payload bytes/);
  });
  it("sameJson compares parts piece by piece, and across forms by content", () => {
    expect(sameJson(parts, { ...parts, items: [...parts.items] })).toBe(true);
    expect(sameJson(parts, { ...parts, items: ['{"name":"a/é"}', '{"name":"b/😀"}', "{ }"] })).toBe(false);
    expect(sameJson(parts, joinJson(parts))).toBe(true);
    expect(sameJson("x", "y")).toBe(false);
  });
});
