/** Structured logs as JSON lines on stderr; the decision id rides on every line about a request. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(options: { level?: 'info' | 'warn' | 'error' | 'silent'; base?: Record<string, unknown>; write?: (line: string) => void } = {}): Logger {
  const order = { info: 0, warn: 1, error: 2, silent: 3 };
  const min = order[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const base = options.base ?? {};
  const emit = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }));
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
}
