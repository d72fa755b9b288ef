// The controller process's environment as Canal deploys it (Dockerfile ENV, the canal-control
// chart's Deployment; bench:controller spawns the controller with it too, so it measures what runs).
//
// glibc's malloc serves a large block with mmap and returns it to the system on free, but after
// the first such free it raises its mmap threshold to that block's size (up to 32 MiB), so later
// blocks of that size come from the heap arena instead, where freed ones stay resident. Each
// change at 10,000 VirtualServices allocates three ~4.8 MB buffers (the ECDS resource, the
// DiscoveryResponse, grpc-js's framed copy), so the controller's RSS crept up change after change:
// in bench:controller the peak was 278-288 MiB without the variable and 264 MiB with a fixed 1 MiB
// threshold (end of run: 264-280 against 236 MiB). A fixed threshold keeps such blocks on mmap.
// glibc reads the variable at process start, so it cannot be set from inside Node.

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
