/** Normalises a level value to trace | debug | info | warn | error | fatal where it can. */
const LEVELS: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  trace: 'trace',
  trc: 'trace',
  finest: 'trace',
  finer: 'trace',
  verbose: 'trace',
  debug: 'debug',
  dbg: 'debug',
  fine: 'debug',
  d: 'debug',
  info: 'info',
  inf: 'info',
  information: 'info',
  informational: 'info',
  notice: 'info',
  i: 'info',
  warn: 'warn',
  warning: 'warn',
  wrn: 'warn',
  w: 'warn',
  error: 'error',
  err: 'error',
  eror: 'error',
  severe: 'error',
  e: 'error',
  fatal: 'fatal',
  crit: 'fatal',
  critical: 'fatal',
  alert: 'fatal',
  emerg: 'fatal',
  emergency: 'fatal',
  panic: 'fatal',
  f: 'fatal',
});

/** Syslog severities 0..7 (RFC 5424). */
export const SYSLOG_SEVERITY = ['fatal', 'fatal', 'fatal', 'error', 'warn', 'info', 'info', 'debug'] as const;

export function normalizeLevel(v: unknown): string | undefined {
  if (typeof v === 'string') {
    if (v.length === 0) return undefined;
    const known = LEVELS[v];
    if (known !== undefined) return known;
    const lower = v.trim().toLowerCase();
    const k2 = LEVELS[lower];
    if (k2 !== undefined) return k2;
    if (/^\d+$/.test(lower)) return normalizeLevel(Number(lower));
    return lower.length > 32 ? lower.slice(0, 32) : lower;
  }
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (v >= 0 && v <= 7) return SYSLOG_SEVERITY[v];
    // pino / bunyan: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal
    if (v >= 10 && v <= 60 && v % 10 === 0)
      return ['trace', 'debug', 'info', 'warn', 'error', 'fatal'][v / 10 - 1];
    return String(v);
  }
  return undefined;
}
