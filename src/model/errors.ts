/**
 * The error catalog: every failure a user can hit is a class with a stable code and a one-line
 * message that names the cause and the fix. `exitCode` is what the CLI exits with when the error
 * ends the process.
 */
export class LogferryError extends Error {
  readonly code: string = 'LOGFERRY_ERR';
  readonly exitCode: number = 1;
}

/** Exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  brokerUnreachable: 4,
  auth: 5,
  topic: 6,
  io: 7,
  spool: 8,
} as const;

export class ConfigError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_CONFIG';
  override readonly exitCode = ExitCode.config;
}

export class ConfigFileError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_CONFIG_FILE';
  override readonly exitCode = ExitCode.config;
}
