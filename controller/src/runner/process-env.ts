// The controller process's environment as Canal deploys it (Dockerfile ENV, the canal-control
// chart's Deployment; bench:controller spawns the controller with it too, so it measures what runs).
//
// A fixed malloc mmap threshold keeps the large per-change buffers on mmap, so freeing them gives
// the memory back; glibc's sliding threshold moves them to the heap arena, where RSS creeps up
// change after change. glibc reads the variable at process start, so it cannot be set from inside
// Node. Measurements: docs/controller.md, "Memory" (malloc).

/** Environment variables the controller is deployed with. */
export const CONTROLLER_PROCESS_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: "1048576",
};

/** What the `starting` log line reports: each variable's value in this process, or "unset". */
export function processEnvReport(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(CONTROLLER_PROCESS_ENV)) out[k] = env[k] ?? "unset";
  return out;
}
