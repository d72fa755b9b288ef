// What the phases of one size share once the API server, the controller and Envoy run.

import type { EnvoyProcess } from "../../test/support/envoy.ts";
import type { Applier, TimedControllerLog, MetricsSampler } from "../controller-support.ts";
import type { Options } from "./options.ts";

export const VS_TRANSLATED = 'canal_memo_virtualservices{result="translated"}';

export interface Stage {
  n: number;
  /** "1,000 VS": the prefix of this size's progress lines. */
  label: string;
  opts: Options;
  applier: Applier;
  ctl: TimedControllerLog;
  envoy: EnvoyProcess;
  /** Envoy's listener port. */
  gwPort: number;
  sampler: MetricsSampler;
  /** The controller's and Envoy's log tails, for a deadline's error. */
  envoyDetail: () => string;
}
