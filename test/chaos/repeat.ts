// A background loop for the stand-ins (kubelet, kube-proxy): runs `fn` every `ms` after the
// previous run ended (never two at once), ignores its errors (the next run tries again, as a
// kubelet or kube-proxy does while the API server is away), and stops for good on stop().
export interface Repeater {
  stop(): void;
}

export function repeat(fn: () => Promise<void>, ms: number): Repeater {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    fn().catch(() => undefined).finally(() => {
      if (!stopped) timer = setTimeout(tick, ms);
    });
  };
  tick();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
