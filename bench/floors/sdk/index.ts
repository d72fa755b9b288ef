// The SDK floor (bench:filter --floors): an AssemblyScript filter on the project's patched
// @solo-io/proxy-runtime that does nothing. Built like the filter (asconfig.json's options), it
// exports the same entry points; each stream gets a context as Canal's does and every callback
// returns at once. The hooks Canal overrides (onDone, onLog, onDelete) are overridden the same way.
// AssemblyScript, not TypeScript: excluded from tsconfig.json, compiled by bench/floors/build.ts.
export * from "@solo-io/proxy-runtime/proxy";
import { RootContext, Context, registerRootContext } from "@solo-io/proxy-runtime";

class FloorRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new FloorStream(context_id, this);
  }
  onConfigure(configuration_size: u32): bool {
    return true;
  }
  onDone(): bool {
    return true;
  }
  onDelete(): void {}
}

class FloorStream extends Context {
  constructor(context_id: u32, root: FloorRoot) {
    super(context_id, root);
  }
  onDone(): bool {
    return true;
  }
  onLog(): void {}
  onDelete(): void {}
}

function createRoot(context_id: u32): RootContext {
  return new FloorRoot(context_id);
}

registerRootContext(createRoot, "canal");
registerRootContext(createRoot, "");
