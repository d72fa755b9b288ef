// canal_requests_total per virtual host and outcome. Metric ids are defined on a virtual host's
// first request, once per loaded table (never per request), and cached on the virtual host.
import { defineCounter, incrementCounter } from "./host";
import { VirtualHost } from "./table";

const OUTCOME_NAMES: Array<string> = ["routed", "no_route", "local_reply", "fault"];

export function countOutcome(vh: VirtualHost, outcome: i32): void {
  let id = vh.metricId(outcome);
  if (id == 0) {
    // Stored +1 so that 0 can mean "not defined yet".
    id = defineCounter("canal_requests_total." + vh.name + "." + OUTCOME_NAMES[outcome]) + 1;
    vh.setMetricId(outcome, id);
  }
  incrementCounter(id - 1);
}
