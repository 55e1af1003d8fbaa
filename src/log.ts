/** Structured logs: one JSON line per event, with ids as fields, never secrets. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Logger = {
  [L in LogLevel]: (message: string, fields?: Record<string, unknown>) => void;
};

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Logger {
  const at = (l: LogLevel) => (message: string, fields: Record<string, unknown> = {}) => {
    if (rank[l] < rank[level]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: l, msg: message, ...fields }));
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
