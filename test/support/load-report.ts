// The outcome of one filter load as the filter logs it (filter/assembly/load/loader.ts
// LoadReport.summary(), logged by contexts.ts at debug level): how the table was built and how
// many virtual hosts were reused, compiled and found by a colliding hash. The one parser of that
// line for every test (emulator and real Envoy).

export type LoadHow = "whole document" | "incremental" | "shared";

export interface LoadReport {
  how: LoadHow;
  reused: number;
  compiled: number;
  collisions: number;
}

const LINE = /canal: configure (incremental|whole document|shared): (\d+) virtual hosts reused, (\d+) compiled, (\d+) hash collisions/g;

function toReport(m: RegExpMatchArray): LoadReport {
  return { how: m[1] as LoadHow, reused: Number(m[2]), compiled: Number(m[3]), collisions: Number(m[4]) };
}

/** Every load report in `text` (a log, or log lines joined), in order. */
export function loadReports(text: string): LoadReport[] {
  return [...text.matchAll(LINE)].map(toReport);
}

/** The last load report among `lines`; throws when there is none. */
export function lastLoadReport(lines: readonly string[]): LoadReport {
  const all = loadReports(lines.join("\n"));
  const last = all.at(-1);
  if (last === undefined) throw new Error(`no configure line in the log (${lines.length} lines)`);
  return last;
}
