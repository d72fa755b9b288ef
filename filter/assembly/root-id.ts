// The Proxy-Wasm root id this filter registers. Plain TypeScript that is also AssemblyScript: the
// controller and the bootstraps read it through schema/filter-identity.ts, so there is one
// definition, and it lives with the filter so that a copy of filter/assembly/ builds on its own.
export const CANAL_ROOT_ID = "canal";
