// The one place the test network differs from a cluster's: the API server refuses loopback
// addresses in EndpointSlices, so gateway pod N is published as 10.77.0.N and listens on
// <podNet>.N (a loopback address). The controller's prober and the kube-proxy stand-in dial
// endpoints through this map; any other address maps to a closed loopback port, so no test
// traffic ever leaves the machine.
export const POD_IP_PREFIX = "10.77.0.";
export const MAX_PODS = 8;

export type Dial = (address: string, port: number) => { host: string; port: number };

export function podDial(podNet: string): Dial {
  return (address, port) => {
    const n = address.startsWith(POD_IP_PREFIX) ? Number(address.slice(POD_IP_PREFIX.length)) : NaN;
    return Number.isInteger(n) && n >= 1 && n <= MAX_PODS ? { host: `${podNet}.${n}`, port } : { host: "127.0.0.1", port: 9 };
  };
}

/**
 * Where the filter is in a gateway pod, relative to its Envoy's working directory: the ECDS
 * resource names this path (as the chart's ecds.wasmPath) and each pod has its own copy there
 * (the chart's init container copies it from the filter image), so a pod can run another build.
 */
export const POD_WASM_PATH = "canal-filter/canal.wasm";
