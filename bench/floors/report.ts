// The "## Cost floors" section of docs/benchmarks.md (bench:filter --floors): proxy CPU per
// request of native routes, the three floors and Canal, and what each layer adds. Differences are
// taken per round (the same round's two sides, so load that changes between rounds cancels) and
// summarized by their median and middle half; ratios use the pooled figures (all CPU ÷ all requests).
import { median, roundDifferences } from "../filter-compare.ts";
import type { Measured } from "../filter-measure.ts";

/** The sides of a floors run, in measuring order. */
export const SIDES = ["native", "platform", "sdk", "read", "hostcalls", "canal", "before"] as const;
export type SideName = (typeof SIDES)[number];

export interface FloorRow {
  vhosts: number;
  sides: Map<SideName, Measured>;
}

const LABEL: Record<SideName, string> = {
  native: "native routes",
  platform: "platform floor",
  sdk: "SDK floor",
  read: "read floor",
  hostcalls: "host-call floor",
  canal: "Canal",
  before: "Canal before",
};

/** What a difference of two sides' per-round figures means; `minus` may hold two sides to subtract. */
interface Layer {
  name: string;
  plus: SideName[];
  minus: SideName[];
}

const LAYERS: Layer[] = [
  { name: "Wasm (platform − native)", plus: ["platform"], minus: ["native"] },
  { name: "SDK (SDK − platform)", plus: ["sdk"], minus: ["platform"] },
  { name: "host calls (host-call − platform)", plus: ["hostcalls"], minus: ["platform"] },
  { name: "header read (read − platform)", plus: ["read"], minus: ["platform"] },
  { name: "write and re-route (host-call − read)", plus: ["hostcalls"], minus: ["read"] },
  { name: "Canal above the SDK floor (Canal − SDK)", plus: ["canal"], minus: ["sdk"] },
  { name: "Canal's logic (Canal − SDK − host calls)", plus: ["canal", "platform"], minus: ["sdk", "hostcalls"] },
  { name: "Canal − before", plus: ["canal"], minus: ["before"] },
];

const us = (x: number): string => x.toFixed(1);
const signed = (x: number): string => `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(1)}`;
const fmt = (n: number): string => n.toLocaleString("en-US", { maximumFractionDigits: 0 });

/** Per-round sum of `plus` sides minus `minus` sides; null when a side was not measured. */
export function layerDifference(row: FloorRow, layer: Layer): ReturnType<typeof roundDifferences> | null {
  const rounds = (names: SideName[]): number[] | null => {
    const ms = names.map((n) => row.sides.get(n));
    if (ms.some((m) => m === undefined)) return null;
    const per = ms.map((m) => (m as Measured).cpuUsPerRound);
    return per[0].map((_, k) => per.reduce((t, r) => t + r[k], 0));
  };
  const plus = rounds(layer.plus);
  const minus = rounds(layer.minus);
  if (plus === null || minus === null) return null;
  return roundDifferences(plus, minus);
}

export function floorsReport(args: { rows: FloorRow[]; header: string[]; rounds: number }): { section: string; summary: string[] } {
  const { rows } = args;
  const present = (SIDES as readonly SideName[]).filter((s) => rows.every((r) => r.sides.has(s)));
  const cell = (m: Measured): string => `${us(median(m.cpuUsPerRound))} (${us(Math.min(...m.cpuUsPerRound))}–${us(Math.max(...m.cpuUsPerRound))}); pooled ${us(m.cpuUsPerRequest)}`;
  const pooled = (r: FloorRow, s: SideName): number => (r.sides.get(s) as Measured).cpuUsPerRequest;
  const layers = LAYERS.filter((l) => [...l.plus, ...l.minus].every((s) => present.includes(s)));
  const costTable = [
    `| vhosts | ${present.map((s) => `${LABEL[s]} µs/req`).join(" | ")} |`,
    `|---:|${present.map(() => "---:").join("|")}|`,
    ...rows.map((r) => `| ${fmt(r.vhosts)} | ${present.map((s) => cell(r.sides.get(s) as Measured)).join(" | ")} |`),
  ];
  const layerTable = [
    `| vhosts | ${layers.map((l) => `${l.name} µs/req`).join(" | ")} |`,
    `|---:|${layers.map(() => "---:").join("|")}|`,
    ...rows.map((r) => {
      const cells = layers.map((l) => {
        const d = layerDifference(r, l) as ReturnType<typeof roundDifferences>;
        return `**${signed(d.median)}** (${signed(d.q1)} … ${signed(d.q3)})`;
      });
      return `| ${fmt(r.vhosts)} | ${cells.join(" | ")} |`;
    }),
  ];
  const ratioSides = present.filter((s) => s !== "native");
  const ratioTable = [
    `| vhosts | ${ratioSides.map((s) => `native ÷ ${LABEL[s]}`).join(" | ")} |`,
    `|---:|${ratioSides.map(() => "---:").join("|")}|`,
    ...rows.map((r) => `| ${fmt(r.vhosts)} | ${ratioSides.map((s) => (pooled(r, "native") / pooled(r, s)).toFixed(3)).join(" | ")} |`),
  ];
  const last = rows[rows.length - 1];
  const aboveSdk = layerDifference(last, LAYERS.find((l) => l.name.startsWith("Canal above")) as Layer) as ReturnType<typeof roundDifferences>;
  const ratio = pooled(last, "native") / pooled(last, "canal");
  const ceiling = pooled(last, "native") / pooled(last, "sdk");
  const verdict = (ok: boolean): string => (ok ? "MET" : "NOT MET");
  const targets = [
    `Targets at ${fmt(last.vhosts)} virtual hosts: Canal ≤ 4 µs per request above the SDK floor: ${signed(aboveSdk.median)} µs (${verdict(aboveSdk.median <= 4)}); ` +
      `Canal ≥ 0.85× native by proxy CPU: ${ratio.toFixed(3)} (${verdict(ratio >= 0.85)}); the SDK floor alone allows ${ceiling.toFixed(3)}×.`,
  ];
  const summary = rows.map(
    (r) =>
      `floors ${fmt(r.vhosts)} vhosts, proxy CPU µs/req (median of ${args.rounds} rounds): ` +
      present.map((s) => `${s} ${us(median((r.sides.get(s) as Measured).cpuUsPerRound))}`).join(", ") +
      "; " +
      layers.map((l) => `${l.name} ${signed((layerDifference(r, l) as ReturnType<typeof roundDifferences>).median)}`).join(", "),
  );
  const section = [
    "## Cost floors",
    "",
    ...args.header,
    "",
    "What each side is (bench/floors/): **native routes** = the table as Envoy route config (section (a)); " +
      "**platform floor** = native routes plus a hand-written Proxy-Wasm module (`platform.wat`, assembled with the npm `wabt` package, no SDK) exporting the SDK's callbacks, each returning at once; " +
      "**SDK floor** = native routes plus an AssemblyScript filter on the project's patched `@solo-io/proxy-runtime` that does nothing (`sdk/index.ts`, the filter's compiler and options); " +
      "**read floor** = native routes plus `hostcalls.wat` without its header write (the header read alone; the write would not route on native routes); " +
      "**host-call floor** = Canal's gateway (one catch-all route, `cluster_header`) running a hand-written module (`hostcalls.wat`) that makes exactly Canal's per-request host calls with no logic; " +
      "**Canal** = Canal's gateway and filter with the table inline (section (a)'s wasm side)" +
      (present.includes("before") ? "; **Canal before** = another build of the filter (`--compare-wasm`)." : "."),
    "",
    "Proxy CPU per request: median over the rounds (lowest–highest round); pooled = all CPU ÷ all requests of the side.",
    "",
    ...costTable,
    "",
    "What each layer adds: the median of the per-round differences (the same round's sides), **bold**, with the middle half of the rounds (25th … 75th percentile) in brackets; " +
      "The host-call floor and Canal run on Canal's gateway (one route), the platform and SDK floors on native routes, so **Canal's logic** (Canal − host-call floor − (SDK − platform)) is exact at every size, " +
      "while \"host calls\" (host-call − platform) is the host calls' own cost (with Canal's route configuration) only at 10 virtual hosts: at 1,000 and 10,000 it also subtracts what native routing's lookup costs more with the table's size, which the one-route gateway does not pay.",
    "",
    ...layerTable,
    "",
    "Capacity relative to native routes if the proxy's CPU is the limit (pooled native µs/req ÷ the side's):",
    "",
    ...ratioTable,
    "",
    ...targets,
    "",
    `\`\`\`\n${summary.join("\n")}\n\`\`\``,
    "",
  ].join("\n");
  return { section, summary: [...summary, ...targets] };
}
