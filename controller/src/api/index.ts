// The controller's input API: types of the objects Canal reads and their strict parser.
export * from "./core.ts";
export * from "./internalgateway.ts";
export * from "./istio.ts";
export * from "./meta.ts";
export * from "./parse.ts";
export * from "./problem.ts";
export * from "./snapshot.ts";
