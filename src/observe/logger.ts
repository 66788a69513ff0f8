import { pino } from 'pino';

/** The agent's own structured log: JSON on stderr; constant messages, data in fields. */
export type Logger = pino.Logger;

/**
 * Fields that may hold secrets, censored wherever they are logged (a config object logged whole,
 * a SASL block, an HTTP header). Logging a secret on purpose is never right; this is the net.
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  '*.password',
  '*.*.password',
  'config.sink.kafka.sasl.password',
  'sink.kafka.sasl.password',
  'token',
  '*.token',
  '*.*.token',
  'secret',
  '*.secret',
  '*.*.secret',
  'authorization',
  '*.authorization',
  '*.*.authorization',
];

export function createLogger(
  level: string = process.env['LOGFERRY_LOG_LEVEL'] ?? 'info',
  destination: pino.DestinationStream = pino.destination({ fd: 2, sync: false }),
): Logger {
  return pino(
    { level, base: { name: 'logferry' }, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } },
    destination,
  );
}

/** A logger that writes nothing, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
