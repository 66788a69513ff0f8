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
  dataDirLocked: 9,
} as const;

export class ConfigError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_CONFIG';
  override readonly exitCode = ExitCode.config;
}

export class ConfigFileError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_CONFIG_FILE';
  override readonly exitCode = ExitCode.config;
}

export class BrokerUnreachableError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_BROKER_UNREACHABLE';
  override readonly exitCode = ExitCode.brokerUnreachable;
  constructor(brokers: readonly string[], cause?: string) {
    super(
      `no Kafka broker reachable at ${brokers.join(', ')}${cause ? ` (${cause})` : ''}: check the addresses in sink.kafka.brokers, the network and firewall, and that the broker's advertised listener is reachable from here`,
    );
  }
}

export class BrokerAuthError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_BROKER_AUTH';
  override readonly exitCode = ExitCode.auth;
}

export class TopicError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_TOPIC';
  override readonly exitCode = ExitCode.topic;
}

export class MessageTooLargeError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_MESSAGE_TOO_LARGE';
}

/** A send failure the sink could not classify; retried with backoff. */
export class SendError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_SEND';
}

/** A source's parse settings cannot be used (unknown parser, bad chain, invalid regex); raised at startup. */
export class ParseConfigError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_PARSE_CONFIG';
  override readonly exitCode = ExitCode.config;
}

/** A source's enrichment settings cannot be used (invalid path pattern or key/topic template); raised at startup. */
export class EnrichConfigError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_ENRICH_CONFIG';
  override readonly exitCode = ExitCode.config;
}

/** The checkpoint file is truncated or not ours; reported, set aside, and files are re-read from their start (duplicates, no loss). */
export class CheckpointCorruptError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_CHECKPOINT_CORRUPT';
}

/** Writing the checkpoint file failed (disk full, permissions on data_dir); positions stay in memory and the write is retried. */
export class CheckpointWriteError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_CHECKPOINT_WRITE';
  override readonly exitCode = ExitCode.io;
}

/** Another agent holds the data_dir lock (checkpoint/data-dir-lock.ts) and did not let go in time. */
export class DataDirLockedError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_DATA_DIR_LOCKED';
  override readonly exitCode = ExitCode.dataDirLocked;
  constructor(dataDir: string, holder: string) {
    super(
      `data_dir ${dataDir} is in use by another logferry agent (${holder}): stop that agent, or give each agent its own data_dir`,
    );
  }
}

/** The data_dir lock's socket cannot be made (permissions, a read-only or network filesystem). */
export class DataDirLockIoError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_DATA_DIR_LOCK_IO';
  override readonly exitCode = ExitCode.io;
}

/** A tail source's include/exclude settings cannot be used (relative or empty glob); raised at startup. */
export class TailConfigError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_TAIL_CONFIG';
  override readonly exitCode = ExitCode.config;
}

/** The native library behind a compression codec (lz4-napi, snappy) has no prebuilt binary for this platform or failed to load. */
export class CodecUnavailableError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_CODEC_UNAVAILABLE';
  override readonly exitCode = ExitCode.config;
}

/** A compressed record batch is not a valid frame of its codec (truncated, corrupt, or another format). */
export class CompressedDataError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_COMPRESSED_DATA';
}

/** The spool reached `spool.max_bytes` (or a batch is larger than the bound); raise `spool.max_bytes`, free the brokers, or choose `when_full: drop_oldest`. */
export class SpoolFullError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_SPOOL_FULL';
  override readonly exitCode = ExitCode.spool;
}

/** The spool's volume is out of space (ENOSPC/EDQUOT); appends wait and retry like `when_full: block` until space frees. */
export class SpoolDiskFullError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_SPOOL_DISK_FULL';
  override readonly exitCode = ExitCode.spool;
}

/** Damaged bytes in the spool (torn frame, bad checksum, unreadable state file); the damage is moved to spool/quarantine/ and the intact frames are kept. */
export class SpoolCorruptError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_SPOOL_CORRUPT';
  override readonly exitCode = ExitCode.spool;
}

/** The metrics/health endpoint cannot listen on `metrics.listen` (address in use, not permitted, malformed); pick another address or set metrics.enabled: false. */
export class MetricsListenError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_METRICS_LISTEN';
  override readonly exitCode = ExitCode.config;
}

/** `logferry top` cannot read the agent's /status (not running, another address, not a logferry endpoint); pass the agent's metrics.listen with --url. */
export class StatusUnreachableError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_STATUS_UNREACHABLE';
}
