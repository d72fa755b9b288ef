// scripts/wasm-image.ts: the OCI image layout of the filter, checked the way a registry client
// and Istio's fetcher read it — every blob verified by digest and size, the media types of the
// Wasm image "compat" variant, the layer a gzip tar (read by GNU tar) with plugin.wasm — and
// reproducible.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { buildWasmImage, MEDIA_TYPES, PLUGIN_FILE, type Descriptor } from "../../scripts/wasm-image.ts";
import { REPO } from "./helm.ts";

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), "canal-wasm-image-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A small valid module: the header plus a custom section carrying `marker`. */
function wasmModule(marker: string): Buffer {
  const name = Buffer.from("canal-test");
  const payload = Buffer.concat([Buffer.from([name.length]), name, Buffer.from(marker)]);
  return Buffer.concat([Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, payload.length]), payload]);
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** Reads a blob and checks it against its descriptor, as a registry client would. */
function blob(dir: string, d: Descriptor): Buffer {
  expect(d.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  const data = readFileSync(join(dir, "blobs", "sha256", d.digest.slice(7)));
  expect(`sha256:${sha(data)}`).toBe(d.digest);
  expect(data.length).toBe(d.size);
  return data;
}

interface Layout {
  index: { schemaVersion: number; mediaType: string; manifests: Descriptor[] };
  manifest: { schemaVersion: number; mediaType: string; config: Descriptor; layers: Descriptor[]; annotations: Record<string, string> };
  config: { architecture: string; os: string; rootfs: { type: string; diff_ids: string[] } };
  layer: Buffer;
}

function readLayout(dir: string): Layout {
  expect(JSON.parse(readFileSync(join(dir, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as Layout["index"];
  expect(index.manifests).toHaveLength(1);
  const manifestDesc = index.manifests[0] as Descriptor;
  const manifest = JSON.parse(blob(dir, manifestDesc).toString()) as Layout["manifest"];
  const config = JSON.parse(blob(dir, manifest.config).toString()) as Layout["config"];
  expect(manifest.layers).toHaveLength(1);
  const layer = blob(dir, manifest.layers[0] as Descriptor);
  return { index, manifest, config, layer };
}

describe("make wasm-image (scripts/wasm-image.ts)", () => {
  it("writes an OCI layout in Istio's compat variant: one tar+gzip layer holding plugin.wasm, every blob matching its digest", () => {
    const wasm = wasmModule("v1");
    const dir = tmp();
    const image = buildWasmImage({ wasm, out: dir, tag: "1.2.3" });
    const { index, manifest, config, layer } = readLayout(dir);
    expect(index.mediaType).toBe(MEDIA_TYPES.index);
    expect(index.manifests[0]).toEqual({ ...image.manifest, annotations: { "org.opencontainers.image.ref.name": "1.2.3" } });
    expect(index.manifests[0]?.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(manifest.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
    expect(manifest.layers[0]?.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    expect(manifest.annotations["org.opencontainers.image.version"]).toBe("1.2.3");
    // The uncompressed layer is what diff_ids name (image volumes and runtimes check it).
    const tar = gunzipSync(layer);
    expect(config.rootfs).toEqual({ type: "layers", diff_ids: [`sha256:${sha(tar)}`] });
    expect([config.os, config.architecture]).toEqual(["linux", "amd64"]);
    // No stray files: exactly the three blobs.
    expect(readdirSync(join(dir, "blobs", "sha256")).sort()).toEqual([image.manifest, image.config, image.layer].map((d) => d.digest.slice(7)).sort());
    expect(image.wasmSha256).toBe(sha(wasm));
  });

  it("GNU tar reads the layer: one regular file plugin.wasm, 0644, root-owned, byte-identical to the module", () => {
    const wasm = wasmModule("tar-check");
    const dir = tmp();
    buildWasmImage({ wasm, out: dir, tag: "t" });
    const { manifest } = readLayout(dir);
    const layerPath = join(dir, "blobs", "sha256", (manifest.layers[0] as Descriptor).digest.slice(7));
    const listing = execFileSync("tar", ["-tvzf", layerPath, "--numeric-owner"], { encoding: "utf8" }).trim().split("\n");
    expect(listing).toHaveLength(1);
    expect(listing[0]).toMatch(new RegExp(`^-rw-r--r-- 0/0 +${wasm.length} 1970-01-01 00:00 ${PLUGIN_FILE}$`));
    const out = tmp();
    execFileSync("tar", ["-xzf", layerPath, "-C", out]);
    expect(readFileSync(join(out, PLUGIN_FILE)).equals(wasm)).toBe(true);
  });

  it("is reproducible: the same module gives the same manifest digest; another module or tag another one", () => {
    const a = buildWasmImage({ wasm: wasmModule("same"), out: tmp(), tag: "1" });
    const b = buildWasmImage({ wasm: wasmModule("same"), out: tmp(), tag: "1" });
    const c = buildWasmImage({ wasm: wasmModule("other"), out: tmp(), tag: "1" });
    const d = buildWasmImage({ wasm: wasmModule("same"), out: tmp(), tag: "2" });
    expect(b.manifest.digest).toBe(a.manifest.digest);
    expect(c.manifest.digest).not.toBe(a.manifest.digest);
    expect(d.manifest.digest).not.toBe(a.manifest.digest);
    expect(d.layer.digest).toBe(a.layer.digest); // the tag is in annotations only
  });

  it("refuses what is not a Wasm module and tags OCI would refuse", () => {
    expect(() => buildWasmImage({ wasm: Buffer.from("#!/bin/sh\n"), out: tmp(), tag: "1" })).toThrow(/not a WebAssembly module/);
    expect(() => buildWasmImage({ wasm: wasmModule("x"), out: tmp(), tag: "-bad" })).toThrow(/invalid tag/);
  });

  it("the command packs build/canal.wasm-like input and prints the digests Istio checks", () => {
    const dir = tmp();
    const wasmPath = join(dir, "in.wasm");
    const wasm = wasmModule("cli");
    execFileSync("sh", ["-c", `cat > ${wasmPath}`], { input: wasm });
    const out = join(dir, "layout");
    const json = JSON.parse(execFileSync(process.execPath, ["--import", "tsx", join(REPO, "scripts/wasm-image.ts"), "--wasm", wasmPath, "--out", out, "--tag", "9.9.9", "--json"], { cwd: REPO, encoding: "utf8" })) as { manifest: Descriptor; wasmSha256: string };
    expect(json.wasmSha256).toBe(sha(wasm));
    expect(readLayout(out).index.manifests[0]?.digest).toBe(json.manifest.digest);
    const text = execFileSync(process.execPath, ["--import", "tsx", join(REPO, "scripts/wasm-image.ts"), "--wasm", wasmPath, "--out", out, "--tag", "9.9.9"], { cwd: REPO, encoding: "utf8" });
    expect(text).toContain(`--set wasm.sha256=${json.manifest.digest.slice(7)}`);
    expect(text).toContain(`oras cp --from-oci-layout ${out}:9.9.9`);
    const help = execFileSync(process.execPath, ["--import", "tsx", join(REPO, "scripts/wasm-image.ts"), "--help"], { cwd: REPO, encoding: "utf8" });
    expect(help).toMatch(/^usage: /);
  });
});
