import { pino } from 'pino';

/** The agent's own structured log: JSON on stderr; constant messages, data in fields. */
export type Logger = pino.Logger;

export function createLogger(level: string = process.env['LOGFERRY_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ level, base: { name: 'logferry' } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that writes nothing, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
