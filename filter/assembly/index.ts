export * from "@solo-io/proxy-runtime/proxy";
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues } from "@solo-io/proxy-runtime";

class CanalRoot extends RootContext {
  createContext(context_id: u32): Context { return new CanalHttp(context_id, this); }
}
class CanalHttp extends Context {
  onRequestHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues { return FilterHeadersStatusValues.Continue; }
}
registerRootContext((context_id: u32) => { return new CanalRoot(context_id) as RootContext; }, "canal");
