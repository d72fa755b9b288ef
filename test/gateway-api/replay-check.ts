// The conformance suite's checks of one extracted case against a response from Canal's gateway
// (utils/echo/pod.go and utils/http/http.go of the pinned release): status codes, response
// headers present and absent, redirect location, and for a 200 from an echo upstream the
// backend, its namespace, the path it saw and the request headers it got (joined with "," as the
// suite compares). The path and the redirect's location are compared too, which the mesh suite
// does not do.
import type { HttpResponse } from "../support/http.ts";
import { headerValues } from "../support/http.ts";
import type { Echo } from "../support/upstream.ts";
import type { ConformanceCase } from "./conformance-data.ts";

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The conformance suite's checks of one case, as failure messages (empty: the case passes). */
export function check(c: ConformanceCase, res: HttpResponse, defaultNamespace: string): string[] {
  const e = c.expected;
  const fails: string[] = [];
  const want = e.Response?.StatusCodes ?? [e.Response?.StatusCode || 200];
  if (!want.includes(res.status)) fails.push(`status ${res.status}, want ${want.join(" or ")}: ${res.body.slice(0, 200)}`);
  for (const [name, value] of Object.entries(e.Response?.Headers ?? {})) {
    const got = headerValues(res, name).join(",");
    if (got !== value) fails.push(`response header ${name}: ${JSON.stringify(got)}, want ${JSON.stringify(value)}`);
  }
  for (const name of e.Response?.AbsentHeaders ?? []) if (headerValues(res, name).length > 0) fails.push(`response header ${name} should be absent`);
  if (e.RedirectRequest !== undefined) {
    const loc = firstValue(res.headers["location"]);
    if (loc === undefined) fails.push("no location header");
    else {
      const u = new URL(loc);
      const r = e.RedirectRequest;
      if (r.Scheme !== undefined && r.Scheme !== "" && u.protocol !== `${r.Scheme}:`) fails.push(`redirect scheme ${u.protocol}, want ${r.Scheme}`);
      if (r.Host !== undefined && r.Host !== "" && u.hostname !== r.Host) fails.push(`redirect host ${u.hostname}, want ${r.Host}`);
      if (r.Port !== undefined && r.Port !== "" && u.port !== r.Port) fails.push(`redirect port ${JSON.stringify(u.port)}, want ${r.Port}`);
      if (r.Path !== undefined && r.Path !== "" && u.pathname !== r.Path) fails.push(`redirect path ${u.pathname}, want ${r.Path}`);
    }
    return fails;
  }
  if (res.status !== 200 || e.Backend === undefined || e.Backend === "") return fails;
  let echo: Echo;
  try {
    echo = JSON.parse(res.body) as Echo;
  } catch {
    return [...fails, `not an echo answer: ${res.body.slice(0, 200)}`];
  }
  const ns = e.Namespace || defaultNamespace;
  if (!echo.upstream.startsWith(`${ns}/${e.Backend}`)) fails.push(`backend ${echo.upstream}, want ${ns}/${e.Backend}`);
  const seen = e.ExpectedRequest?.Request;
  const wantPath = seen?.Path || e.Request.Path || "/";
  if (echo.path.split("?")[0] !== wantPath.split("?")[0]) fails.push(`backend saw path ${echo.path}, want ${wantPath}`);
  for (const [name, value] of Object.entries(seen?.Headers ?? {})) {
    // As the mesh suite compares: every value the backend received, joined with ",".
    const values: string[] = [];
    for (let i = 0; i + 1 < echo.rawHeaders.length; i += 2) if (echo.rawHeaders[i]?.toLowerCase() === name.toLowerCase()) values.push(echo.rawHeaders[i + 1] ?? "");
    const got = values.length === 0 ? undefined : values.join(",");
    if (got !== value) fails.push(`backend saw ${name}: ${JSON.stringify(got)}, want ${JSON.stringify(value)}`);
  }
  for (const name of e.ExpectedRequest?.AbsentHeaders ?? []) if (echo.headers[name.toLowerCase()] !== undefined) fails.push(`backend saw ${name}, which should be absent`);
  return fails;
}

