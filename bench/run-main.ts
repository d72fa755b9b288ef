// The entry point of a benchmark that starts processes: Ctrl-C / SIGTERM exit through
// process.exit, so test/support's exit hooks kill every child process group it started (API
// server, etcd, istiod, controller, Envoys, CoreDNS) and remove their work dirs; the exit code is
// what `main` returns (0 when it returns nothing), 1 when it throws.
export function runBench(main: () => Promise<number | void>): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping every process this bench started\n`);
      process.exit(130);
    });
  }
  main().then(
    (code) => process.exit(code ?? 0),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
