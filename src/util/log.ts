// JSON-lines logger with levels. One line per record on stderr, so stdout stays free for the
// machine-readable output of commands such as `mcgw bfd`.
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Every level, least severe first (the charts' values schema lists them for logLevel). */
export const LEVELS = Object.keys(ORDER) as Level[];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function isLevel(s: string): s is Level {
  // Own keys only: `in` would also accept what every object inherits, such as "toString".
  return Object.hasOwn(ORDER, s);
}

export function createLogger(
  level: Level = 'info',
  base: Record<string, unknown> = {},
  write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Logger {
  const emit = (lv: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lv] < ORDER[level]) return;
    write(JSON.stringify({ ts: new Date().toISOString(), level: lv, msg, ...base, ...fields }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => createLogger(level, { ...base, ...f }, write),
  };
}

/** A logger that drops everything, for tests that do not read logs. */
export const silentLogger: Logger = createLogger('error', {}, () => {});
