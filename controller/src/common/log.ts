// Structured logs: one JSON object per line on stderr (level, time, msg, fields).
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  with(fields: Fields): Logger;
}

export function jsonLogger(min: Level = "info", base: Fields = {}, write: (line: string) => void = (l) => process.stderr.write(l + "\n")): Logger {
  const emit = (level: Level, msg: string, fields?: Fields): void => {
    if (ORDER[level] < ORDER[min]) return;
    write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...base, ...fields }));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (f) => jsonLogger(min, { ...base, ...f }, write),
  };
}
