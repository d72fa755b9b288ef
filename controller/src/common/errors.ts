// Errors every stage may raise or report.

/** Bad flags or arguments: the dispatcher prints the message as one line and exits 2. */
export class UsageError extends Error {}

/** An error as one log or status line: the message with its causes, or a client error's code, message and body. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.cause ? `${err.message} (cause: ${errorText(err.cause)})` : err.message;
  if (typeof err === "object" && err !== null) {
    const e = err as { code?: unknown; body?: unknown; message?: unknown };
    const parts = [e.code, e.message, typeof e.body === "string" ? e.body : JSON.stringify(e.body)].filter((p) => p !== undefined && p !== null);
    return parts.map(String).join(": ");
  }
  return String(err);
}
