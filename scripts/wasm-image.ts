// Packs the filter (build/canal.wasm) as an OCI image layout in the Wasm image "compat" variant
// that Istio's WasmPlugin `oci://` fetcher reads: one `application/vnd.oci.image.layer.v1.tar+gzip`
// layer holding `plugin.wasm`. No Docker engine is needed: the layout is written here, byte for
// byte reproducible (fixed mtimes, owners and gzip header), and can be pushed with
// `oras cp --from-oci-layout` or `crane push`. Because the layer is an ordinary image layer, the
// same image also works as a Kubernetes image volume.
//
// Usage: node --import tsx scripts/wasm-image.ts [--wasm build/canal.wasm] [--out build/wasm-image]
//        [--tag 0.1.0] [--platform linux/amd64] [--json]
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

/** The file name Istio's fetcher looks for inside the layer (Wasm image spec, compat variant). */
export const PLUGIN_FILE = "plugin.wasm";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface WasmImage {
  /** Directory of the OCI image layout. */
  dir: string;
  tag: string;
  /** The manifest's descriptor: its digest is what a WasmPlugin's `sha256` must be for `oci://`. */
  manifest: Descriptor;
  config: Descriptor;
  layer: Descriptor;
  /** sha256 of the .wasm itself: what `sha256` must be for `http(s)://` and `file://` urls. */
  wasmSha256: string;
}

const USAGE = `usage: node --import tsx scripts/wasm-image.ts [flags]

Writes the filter as an OCI image layout (Istio Wasm image, compat variant: one tar+gzip layer
holding ${PLUGIN_FILE}), reproducibly, without a container engine. Push it with
  oras cp --from-oci-layout <out>:<tag> <registry>/<repo>:<tag>
  crane push <out> <registry>/<repo>:<tag>

flags:
  --wasm PATH       the filter (default: build/canal.wasm)
  --out DIR         the layout directory, replaced (default: build/wasm-image)
  --tag TAG         the layout's tag, org.opencontainers.image.ref.name (default: package.json version)
  --platform OS/ARCH  the config's platform, for use as an image volume (default: linux/amd64)
  --json            print the result as JSON instead of text
  -h, --help        this help
`;

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A ustar archive with one regular file (mode 0644, owner 0:0, mtime 0). */
export function tarOneFile(name: string, data: Buffer): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long: ${name}`);
  const header = Buffer.alloc(512, 0);
  const put = (text: string, offset: number, length: number): void => {
    header.write(text, offset, length, "ascii");
  };
  const octal = (n: number, length: number): string => n.toString(8).padStart(length - 1, "0") + "\0";
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8); // uid
  put(octal(0, 8), 116, 8); // gid
  put(octal(data.length, 12), 124, 12);
  put(octal(0, 12), 136, 12); // mtime
  put("        ", 148, 8); // checksum placeholder: spaces while summing
  put("0", 156, 1); // regular file
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  put("root", 265, 32);
  put("root", 297, 32);
  let sum = 0;
  for (const b of header) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  const padding = (512 - (data.length % 512)) % 512;
  return Buffer.concat([header, data, Buffer.alloc(padding, 0), Buffer.alloc(1024, 0)]);
}

function writeBlob(dir: string, mediaType: string, data: Buffer): Descriptor {
  const hex = sha256(data);
  writeFileSync(join(dir, "blobs", "sha256", hex), data);
  return { mediaType, digest: `sha256:${hex}`, size: data.length };
}

/** Canonical enough JSON: fixed key order as written, no whitespace. */
function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function buildWasmImage(opts: { wasm: Buffer; out: string; tag: string; platform?: string }): WasmImage {
  const { wasm, out, tag } = opts;
  if (wasm.length < 8 || wasm.readUInt32BE(0) !== 0x0061736d) throw new Error("not a WebAssembly module (no \\0asm magic)");
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag)) throw new Error(`invalid tag "${tag}" (OCI tag syntax: [A-Za-z0-9_][A-Za-z0-9._-]{0,127})`);
  const [os, architecture] = (opts.platform ?? "linux/amd64").split("/");
  if (!os || !architecture) throw new Error(`--platform must be OS/ARCH, got "${opts.platform}"`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "blobs", "sha256"), { recursive: true });

  const tar = tarOneFile(PLUGIN_FILE, wasm);
  // gzip header: mtime 0, no name; the OS byte is fixed by zlib, so the output is reproducible.
  const layer = writeBlob(out, MEDIA_TYPES.layer, gzipSync(tar, { level: 9 }));
  const config = writeBlob(
    out,
    MEDIA_TYPES.config,
    json({
      created: "1970-01-01T00:00:00Z",
      architecture,
      os,
      config: {},
      rootfs: { type: "layers", diff_ids: [`sha256:${sha256(tar)}`] },
      history: [{ created: "1970-01-01T00:00:00Z", created_by: `scripts/wasm-image.ts: ${PLUGIN_FILE}` }],
    }),
  );
  const annotations = {
    "org.opencontainers.image.title": "canal",
    "org.opencontainers.image.description": "Canal route filter (Proxy-Wasm) for Istio WasmPlugin",
    "org.opencontainers.image.version": tag,
  };
  const manifest = writeBlob(out, MEDIA_TYPES.manifest, json({ schemaVersion: 2, mediaType: MEDIA_TYPES.manifest, config, layers: [layer], annotations }));
  const indexEntry: Descriptor = { ...manifest, annotations: { "org.opencontainers.image.ref.name": tag } };
  writeFileSync(join(out, "index.json"), json({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [indexEntry] }));
  writeFileSync(join(out, "oci-layout"), json({ imageLayoutVersion: "1.0.0" }));
  return { dir: out, tag, manifest, config, layer, wasmSha256: sha256(wasm) };
}

function main(argv: string[]): number {
  const repo = resolve(import.meta.dirname, "..");
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        wasm: { type: "string", default: join(repo, "build", "canal.wasm") },
        out: { type: "string", default: join(repo, "build", "wasm-image") },
        tag: { type: "string" },
        platform: { type: "string", default: "linux/amd64" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`wasm-image: ${(err as Error).message}; see --help\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const tag = values.tag ?? (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;
  let wasm: Buffer;
  try {
    wasm = readFileSync(values.wasm);
  } catch (err) {
    process.stderr.write(`wasm-image: cannot read ${values.wasm}: ${(err as Error).message} (build it with: make build)\n`);
    return 1;
  }
  let image: WasmImage;
  try {
    image = buildWasmImage({ wasm, out: values.out, tag, platform: values.platform });
  } catch (err) {
    process.stderr.write(`wasm-image: ${(err as Error).message}\n`);
    return 1;
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(image, null, 2) + "\n");
    return 0;
  }
  const hex = image.manifest.digest.slice("sha256:".length);
  process.stdout.write(
    `wrote ${image.dir} (OCI image layout, tag ${tag})\n` +
      `  manifest ${image.manifest.digest} (${image.manifest.size} bytes)\n` +
      `  layer    ${image.layer.digest} (${image.layer.size} bytes, ${PLUGIN_FILE})\n` +
      `  wasm     sha256 ${image.wasmSha256}\n\n` +
      `push:  oras cp --from-oci-layout ${image.dir}:${tag} REGISTRY/canal-filter:${tag}\n` +
      `   or: crane push ${image.dir} REGISTRY/canal-filter:${tag}\n` +
      `then:  helm install canal-control charts/canal-control -n istio-system \\\n` +
      `         --set wasm.url=oci://REGISTRY/canal-filter:${tag} --set wasm.sha256=${hex}\n` +
      `(for oci:// Istio checks the manifest digest; for http(s):// it checks the .wasm's sha256 ${image.wasmSha256})\n`,
  );
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  process.exitCode = main(process.argv.slice(2));
}
