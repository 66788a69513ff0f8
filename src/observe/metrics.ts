/**
 * The agent's Prometheus metrics.
 *
 *   stages: plain `stats` numbers ──┐ (incremented on the hot path, no calls in here)
 *                                    ▼
 *   scrape ─► Metrics.render() ─► snapshot() ─► counters/gauges set from the totals ─► text format
 *   per batch: observeBatch(), observeSend() ─► histograms
 *
 * Nothing here runs per line: counters and gauges are refreshed from one snapshot function the
 * agent provides, once per scrape (or per /status request); only the batch-size and send-latency
 * histograms are fed per batch, because a distribution cannot be rebuilt from totals.
 *
 * Counters are totals since the agent started, so a snapshot must report totals (never deltas) and
 * must keep reporting a label (source, topic, reason) once it appeared, or its series disappears.
 */
import {
  type CounterConfiguration,
  collectDefaultMetrics,
  Counter as PromCounter,
  Gauge as PromGauge,
  Histogram as PromHistogram,
  Registry,
} from 'prom-client';
import type { Clock } from '../model/clock.ts';

/** A per-label table: a Map or a plain object keyed by the label value. */
export type Keyed<T> = ReadonlyMap<string, T> | Readonly<Record<string, T>>;

export type BrokerState = 'connected' | 'connecting' | 'disconnected';
export const BROKER_STATES: readonly BrokerState[] = ['connected', 'connecting', 'disconnected'];

/** Totals per configured source. */
export interface SourceTotals {
  /** Lines read from the source's files (complete lines handed to the pipeline). */
  lines_read: number;
  /** Bytes read from the source's files. */
  bytes_read: number;
}

/** Totals per Kafka topic. */
export interface TopicTotals {
  /** Records the broker acknowledged. */
  records_sent: number;
  /**
   * Records whose delivery to this topic failed for good: rejected as permanent, or given up and
   * handed to the spool / dropped. A record retried and then delivered counts as sent only.
   */
  records_failed: number;
  /** Encoded record bytes (before compression) the broker acknowledged; optional. */
  bytes_sent?: number;
}

/** One tracked file and how far the checkpoint is behind its end. */
export interface FileLag {
  source: string;
  path: string;
  /** File size minus the acknowledged (checkpointed) offset, in bytes. */
  lag_bytes: number;
}

/**
 * What the agent reports at scrape time: every number is read from counters the stages keep
 * anyway. Every field is optional; a missing section leaves its metrics at 0 (or without series).
 */
export interface MetricsSnapshot {
  sources?: Keyed<SourceTotals>;
  topics?: Keyed<TopicTotals>;
  /** Batch bytes before and after compression, totals; the ratio is derived from them. */
  compression?: { uncompressed_bytes: number; compressed_bytes: number };
  /** Send retries by error class (`reason` from sink/classify.ts: `broker_unreachable`, ...). */
  retries?: Keyed<number>;
  /** Records dropped by reason (`spool_full`, `message_too_large`, ...). */
  dropped?: Keyed<number>;
  /** Total milliseconds tailers were paused by backpressure, including a pause still going on. */
  backpressure_ms?: number;
  /** Files a source matched but could not open (permission denied, ...), total attempts. */
  file_open_errors?: number;
  spool?: {
    bytes: number;
    segments: number;
    /** Epoch ms at which the oldest batch still in the spool was written; undefined when empty. */
    oldest_ms?: number | undefined;
  };
  /** Bytes held in memory between read and acknowledgement, and its bound. */
  buffer?: { bytes: number; max_bytes: number };
  files?: Iterable<FileLag>;
  /** Epoch ms of the last successful checkpoint write; undefined when none yet (age counts from start). */
  checkpoint_saved_ms?: number | undefined;
  broker?: BrokerState;
}

/** The JSON document `/status` serves (by default), read by `logferry top`. */
export interface StatusDocument {
  /** Epoch ms the document was made. */
  time_ms: number;
  uptime_seconds: number;
  version: string | undefined;
  sources: { name: string; lines_read: number; bytes_read: number }[];
  topics: { name: string; records_sent: number; records_failed: number; bytes_sent: number }[];
  files: FileLag[];
  retries: Record<string, number>;
  dropped: Record<string, number>;
  /** Batches sent (acknowledged or failed) and their summed send latency, for averages over an interval. */
  send: { batches: number; failed_batches: number; latency_seconds_sum: number };
  compression_ratio: number;
  backpressure_seconds: number;
  spool: { bytes: number; segments: number; oldest_age_seconds: number };
  buffer: { bytes: number; max_bytes: number } | undefined;
  checkpoint_age_seconds: number;
  broker: BrokerState | undefined;
}

export interface MetricsOptions {
  /** Reads the agent's counters; may also be set later with `setSnapshot`. */
  snapshot?: () => MetricsSnapshot;
  clock?: Pick<Clock, 'now'>;
  /** Also export the standard `process_*` and `nodejs_*` metrics (CPU, memory, event-loop lag, fds). Default true. */
  processMetrics?: boolean;
  /** Reported as `logferry_build_info{version}`. */
  version?: string;
}

export const BATCH_RECORDS_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000];
export const BATCH_BYTES_BUCKETS = [
  1024, 4096, 16_384, 65_536, 262_144, 524_288, 1_048_576, 2_097_152, 4_194_304, 8_388_608,
];
export const SEND_SECONDS_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

const EMPTY: MetricsSnapshot = {};

export class Metrics {
  /** The prom-client registry (own, not the global one), for tests and for adding metrics. */
  readonly registry = new Registry();
  /** Value of the HTTP Content-Type header for `render()`'s output. */
  readonly contentType: string = this.registry.contentType;

  #snapshot: () => MetricsSnapshot;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #startedMs: number;
  readonly #version: string | undefined;
  #sendBatches = 0;
  #sendFailed = 0;
  #sendSecondsSum = 0;

  readonly #linesRead: PromCounter<'source'>;
  readonly #bytesRead: PromCounter<'source'>;
  readonly #recordsSent: PromCounter<'topic'>;
  readonly #recordsFailed: PromCounter<'topic'>;
  readonly #bytesSent: PromCounter<'topic'>;
  readonly #uncompressed: PromCounter;
  readonly #compressed: PromCounter;
  readonly #compressionRatio: PromGauge;
  readonly #retries: PromCounter<'reason'>;
  readonly #dropped: PromCounter<'reason'>;
  readonly #backpressure: PromCounter;
  readonly #fileOpenErrors: PromCounter;
  readonly #spoolBytes: PromGauge;
  readonly #spoolSegments: PromGauge;
  readonly #spoolOldest: PromGauge;
  readonly #bufferBytes: PromGauge;
  readonly #bufferMaxBytes: PromGauge;
  readonly #fileLag: PromGauge<'source' | 'path'>;
  readonly #checkpointAge: PromGauge;
  readonly #brokerState: PromGauge<'state'>;
  readonly #batchRecords: PromHistogram;
  readonly #batchBytes: PromHistogram;
  readonly #sendSeconds: PromHistogram<'outcome'>;

  constructor(options: MetricsOptions = {}) {
    this.#snapshot = options.snapshot ?? (() => EMPTY);
    this.#clock = options.clock ?? Date;
    this.#startedMs = this.#clock.now();
    this.#version = options.version;
    const registers = [this.registry];
    const counter = <L extends string>(cfg: Omit<CounterConfiguration<L>, 'registers'>) =>
      new PromCounter<L>({ ...cfg, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new PromGauge<L>({ name, help, labelNames, registers });

    this.#linesRead = counter({
      name: 'logferry_source_lines_read_total',
      help: 'Lines read from the files of a source.',
      labelNames: ['source'],
    });
    this.#bytesRead = counter({
      name: 'logferry_source_bytes_read_total',
      help: 'Bytes read from the files of a source.',
      labelNames: ['source'],
    });
    this.#recordsSent = counter({
      name: 'logferry_sink_records_sent_total',
      help: 'Records the broker acknowledged, per topic.',
      labelNames: ['topic'],
    });
    this.#recordsFailed = counter({
      name: 'logferry_sink_records_failed_total',
      help: 'Records whose delivery failed for good (rejected, or spooled or dropped after retries), per topic.',
      labelNames: ['topic'],
    });
    this.#bytesSent = counter({
      name: 'logferry_sink_sent_bytes_total',
      help: 'Encoded record bytes (before compression) the broker acknowledged, per topic.',
      labelNames: ['topic'],
    });
    this.#uncompressed = counter({
      name: 'logferry_sink_uncompressed_bytes_total',
      help: 'Record batch bytes before compression.',
    });
    this.#compressed = counter({
      name: 'logferry_sink_compressed_bytes_total',
      help: 'Record batch bytes after compression.',
    });
    this.#compressionRatio = gauge(
      'logferry_sink_compression_ratio',
      'Bytes before compression divided by bytes after, since start (1 with compression none, 0 before the first batch).',
    );
    this.#retries = counter({
      name: 'logferry_sink_retries_total',
      help: 'Failed sends, by error class: each was retried, split in two (message_too_large), or given up (its records then in logferry_sink_records_failed_total).',
      labelNames: ['reason'],
    });
    this.#dropped = counter({
      name: 'logferry_records_dropped_total',
      help: 'Records given up without delivery, by reason.',
      labelNames: ['reason'],
    });
    this.#fileOpenErrors = counter({
      name: 'logferry_tail_file_open_errors_total',
      help: 'Attempts to open a matched log file that failed (permission denied, ...); see the log for the path.',
    });
    this.#backpressure = counter({
      name: 'logferry_backpressure_seconds_total',
      help: 'Time reading was paused because the memory bound was full.',
    });
    this.#spoolBytes = gauge('logferry_spool_bytes', 'Bytes held in the on-disk spool.');
    this.#spoolSegments = gauge('logferry_spool_segments', 'Segment files in the on-disk spool.');
    this.#spoolOldest = gauge(
      'logferry_spool_oldest_age_seconds',
      'Age of the oldest batch in the spool (0 when empty).',
    );
    this.#bufferBytes = gauge(
      'logferry_buffer_bytes',
      'Bytes read but not yet acknowledged, held in memory.',
    );
    this.#bufferMaxBytes = gauge('logferry_buffer_max_bytes', 'The memory bound (buffer.max_bytes).');
    this.#fileLag = gauge(
      'logferry_file_lag_bytes',
      'File size minus its acknowledged offset: bytes not yet delivered.',
      ['source', 'path'],
    );
    this.#checkpointAge = gauge(
      'logferry_checkpoint_age_seconds',
      'Time since the checkpoint file was last written (since start before the first write).',
    );
    this.#brokerState = gauge(
      'logferry_broker_state',
      'Connection to the Kafka cluster: 1 for the current state, 0 for the others.',
      ['state'],
    );
    this.#batchRecords = new PromHistogram({
      name: 'logferry_sink_batch_records',
      help: 'Records per batch sent.',
      buckets: BATCH_RECORDS_BUCKETS,
      registers,
    });
    this.#batchBytes = new PromHistogram({
      name: 'logferry_sink_batch_bytes',
      help: 'Encoded bytes (before compression) per batch sent.',
      buckets: BATCH_BYTES_BUCKETS,
      registers,
    });
    this.#sendSeconds = new PromHistogram<'outcome'>({
      name: 'logferry_sink_send_duration_seconds',
      help: 'Time from handing a batch to the producer until the broker answered.',
      labelNames: ['outcome'],
      buckets: SEND_SECONDS_BUCKETS,
      registers,
    });
    // Both outcomes exist from the start, so rate() over them works before the first failure.
    this.#sendSeconds.zero({ outcome: 'ok' });
    this.#sendSeconds.zero({ outcome: 'error' });
    if (options.version !== undefined) {
      gauge('logferry_build_info', 'Always 1; the labels name the running build.', ['version']).set(
        { version: options.version },
        1,
      );
    }
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Sets (or replaces) the function that reads the agent's counters. */
  setSnapshot(snapshot: () => MetricsSnapshot): void {
    this.#snapshot = snapshot;
  }

  /** Once per batch handed to the producer: its size. */
  observeBatch(records: number, bytes: number): void {
    this.#batchRecords.observe(records);
    this.#batchBytes.observe(bytes);
  }

  /** Once per send attempt when the broker answered (or the attempt failed): its latency. */
  observeSend(seconds: number, ok: boolean): void {
    this.#sendSeconds.observe({ outcome: ok ? 'ok' : 'error' }, seconds);
    this.#sendBatches++;
    if (!ok) this.#sendFailed++;
    this.#sendSecondsSum += seconds;
  }

  /** The Prometheus text exposition of every metric, refreshed from one snapshot. */
  async render(): Promise<string> {
    this.#refresh(this.#snapshot());
    return this.registry.metrics();
  }

  /** The `/status` document, from one snapshot. */
  status(): StatusDocument {
    const s = this.#snapshot();
    const now = this.#clock.now();
    const sources: StatusDocument['sources'] = [];
    forEach(s.sources, (name, t) =>
      sources.push({ name, lines_read: num(t.lines_read), bytes_read: num(t.bytes_read) }),
    );
    const topics: StatusDocument['topics'] = [];
    forEach(s.topics, (name, t) =>
      topics.push({
        name,
        records_sent: num(t.records_sent),
        records_failed: num(t.records_failed),
        bytes_sent: num(t.bytes_sent),
      }),
    );
    const files: FileLag[] = [];
    if (s.files) {
      for (const f of s.files) files.push({ source: f.source, path: f.path, lag_bytes: num(f.lag_bytes) });
    }
    return {
      time_ms: now,
      uptime_seconds: seconds(now - this.#startedMs),
      version: this.#version,
      sources,
      topics,
      files,
      retries: toRecord(s.retries),
      dropped: toRecord(s.dropped),
      send: {
        batches: this.#sendBatches,
        failed_batches: this.#sendFailed,
        latency_seconds_sum: this.#sendSecondsSum,
      },
      compression_ratio: ratio(s),
      backpressure_seconds: seconds(num(s.backpressure_ms)),
      spool: {
        bytes: num(s.spool?.bytes),
        segments: num(s.spool?.segments),
        oldest_age_seconds: ageSeconds(now, s.spool?.oldest_ms, now),
      },
      buffer: s.buffer ? { bytes: num(s.buffer.bytes), max_bytes: num(s.buffer.max_bytes) } : undefined,
      checkpoint_age_seconds: ageSeconds(now, s.checkpoint_saved_ms, this.#startedMs),
      broker: s.broker,
    };
  }

  #refresh(s: MetricsSnapshot): void {
    const now = this.#clock.now();
    setCounters(this.#linesRead, 'source', s.sources, (t) => t.lines_read);
    setCounters(this.#bytesRead, 'source', s.sources, (t) => t.bytes_read);
    setCounters(this.#recordsSent, 'topic', s.topics, (t) => t.records_sent);
    setCounters(this.#recordsFailed, 'topic', s.topics, (t) => t.records_failed);
    setCounters(this.#bytesSent, 'topic', s.topics, (t) => t.bytes_sent);
    setCounters(this.#retries, 'reason', s.retries, (n) => n);
    setCounters(this.#dropped, 'reason', s.dropped, (n) => n);
    setCounter(this.#uncompressed, s.compression?.uncompressed_bytes);
    setCounter(this.#compressed, s.compression?.compressed_bytes);
    this.#compressionRatio.set(ratio(s));
    setCounter(this.#backpressure, seconds(num(s.backpressure_ms)));
    setCounter(this.#fileOpenErrors, num(s.file_open_errors));
    this.#spoolBytes.set(num(s.spool?.bytes));
    this.#spoolSegments.set(num(s.spool?.segments));
    this.#spoolOldest.set(ageSeconds(now, s.spool?.oldest_ms, now));
    this.#bufferBytes.set(num(s.buffer?.bytes));
    this.#bufferMaxBytes.set(num(s.buffer?.max_bytes));
    this.#fileLag.reset();
    if (s.files) {
      for (const f of s.files) this.#fileLag.set({ source: f.source, path: f.path }, num(f.lag_bytes));
    }
    this.#checkpointAge.set(ageSeconds(now, s.checkpoint_saved_ms, this.#startedMs));
    this.#brokerState.reset();
    if (s.broker !== undefined) {
      for (const state of BROKER_STATES) this.#brokerState.set({ state }, state === s.broker ? 1 : 0);
    }
  }
}

/** A counter cannot be set in prom-client: reset it and add the total, so a scrape shows the snapshot. */
function setCounter(counter: PromCounter, total: number | undefined): void {
  counter.reset();
  counter.inc(num(total));
}

function setCounters<L extends string, T>(
  counter: PromCounter<L>,
  label: L,
  table: Keyed<T> | undefined,
  pick: (t: T) => number | undefined,
): void {
  counter.reset();
  forEach(table, (key, t) => {
    counter.inc({ [label]: key } as Partial<Record<L, string>>, num(pick(t)));
  });
}

function forEach<T>(table: Keyed<T> | undefined, fn: (key: string, value: T) => void): void {
  if (table === undefined) return;
  if (table instanceof Map) {
    for (const [k, v] of table) fn(k, v);
  } else {
    const record = table as Readonly<Record<string, T>>;
    for (const k of Object.keys(record)) fn(k, record[k] as T);
  }
}

function toRecord(table: Keyed<number> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  forEach(table, (k, v) => {
    out[k] = num(v);
  });
  return out;
}

/** A finite non-negative number; anything else (undefined, NaN, a counter gone negative) reads as 0. */
function num(v: number | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

function seconds(ms: number): number {
  return ms / 1000;
}

function ageSeconds(now: number, sinceMs: number | undefined, fallbackMs: number): number {
  const since = typeof sinceMs === 'number' && Number.isFinite(sinceMs) ? sinceMs : fallbackMs;
  return Math.max(0, now - since) / 1000;
}

function ratio(s: MetricsSnapshot): number {
  const out = num(s.compression?.compressed_bytes);
  return out > 0 ? num(s.compression?.uncompressed_bytes) / out : 0;
}
