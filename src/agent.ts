/**
 * The one module that knows every stage and wires them. Records flow right, acknowledgements left:
 *
 *   files ─► Tailer ─LineChunk─► Agent.write ─► Decoder (per file: parser chain, multiline)
 *              ▲                                   │ ParsedEvent (owns a ref on its first chunk)
 *              │ ack(chunk): checkpoint moves       ▼
 *              │                                Enricher (per file) ─► OutRecord ─► Batcher
 *              │                                                                     │ Batch
 *           Agent.ack ◄── releaseChunk(record.chunk) ◄── delivered | spooled ◄── SpoolingSender ◄──┘
 *              │                                                        │
 *              └─► MemoryBound.release (backpressure)          ProducerPort: Kafka | stdout (--dry-run)
 *                                                              Spool (data_dir/spool) while Kafka is away
 *
 * A chunk is acknowledged when its last reference goes: the processing hold (released after
 * decode) and one per event that started in it (released when its record was delivered). The
 * tailer turns acknowledgements into an ordered, contiguous per-file checkpoint, so a checkpoint
 * never passes a line that Kafka has not acknowledged.
 */
import { hostname } from 'node:os';
import { Batcher, RECORD_OVERHEAD } from './batch/batcher.ts';
import { batchCost, MemoryBound, RECORD_OVERHEAD_BYTES, recordCost } from './batch/memory-bound.ts';
import { type ConfigChanges, diffConfig } from './config/diff.ts';
import type { Config, SourceConfig } from './config/schema.ts';
import { createEnricher, type Enricher, type FileEnricher } from './enrich/enricher.ts';
import { type Clock, systemClock } from './model/clock.ts';
import { ExitCode, LogferryError } from './model/errors.ts';
import {
  type ChunkAcknowledger,
  type ChunkSink,
  chunkLines,
  type LineChunk,
  releaseChunk,
} from './model/line-chunk.ts';
import type { LineRoute, OutRecord, ParsedEvent } from './model/record.ts';
import { ObserveServer } from './observe/http-server.ts';
import type { Logger } from './observe/logger.ts';
import { type FileLag, Metrics, type MetricsSnapshot } from './observe/metrics.ts';
import { evaluateReadiness } from './observe/readiness.ts';
import { criLine, readCriLine } from './parse/cri-bytes.ts';
import { createDecoder, type Decoder } from './parse/decoder.ts';
import type { ClassifiedError } from './sink/classify.ts';
import { compressionStats } from './sink/codecs/index.ts';
import { createProducer } from './sink/create-producer.ts';
import { recordOrigin } from './sink/dead-letter.ts';
import { type Batch, type ProducerPort, recordCount } from './sink/producer-port.ts';
import { PreparedBatch } from './sink/record-batch.ts';
import { StdoutProducer } from './sink/stdout-producer.ts';
import { spoolOptionsFromConfig } from './spool/spool-config.ts';
import { SpoolingSender } from './spool/spooling-sender.ts';
import { Tailer } from './tail/tailer.ts';

export interface AgentOptions {
  log: Logger;
  /** Write NDJSON to stdout instead of Kafka. */
  dryRun?: boolean;
  /** Replaces the producer (tests); by default Kafka, or stdout with dryRun. */
  producer?: ProducerPort;
  /** Reported in metrics and /status. */
  version?: string;
  clock?: Clock;
}

interface FileState {
  decoder: Decoder;
  enricher: FileEnricher;
  /** Set when this file's lines may take the one-line-per-record fast path (see #emitLines). */
  route: LineRoute | undefined;
  /** Set when this file's CRI lines may take it (see #emitCriLines): a route per stream. */
  cri: { out: LineRoute; err: LineRoute } | undefined;
}

const EXPIRY_SCAN_MS = 200;

export class Agent implements ChunkSink, ChunkAcknowledger {
  #config: Config;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #producer: ProducerPort;
  readonly #memory: MemoryBound;
  readonly #batcher: Batcher;
  readonly #sender: SpoolingSender;
  readonly #tailer: Tailer;
  readonly #sources = new Map<string, { config: SourceConfig; enricher: Enricher }>();
  readonly #files = new Map<string, FileState>();
  readonly #events: ParsedEvent[] = [];
  #expiryTimer: NodeJS.Timeout | undefined;
  readonly #dryRun: boolean;
  readonly metrics: Metrics;
  #server: ObserveServer | undefined;
  #started = false;
  #stopping = false;
  /** Running totals for metrics, updated per chunk or per batch, never per line. */
  readonly #perSource = new Map<string, { lines_read: number; bytes_read: number }>();
  readonly #perTopic = new Map<
    string,
    { records_sent: number; records_failed: number; bytes_sent: number }
  >();
  readonly #dropped: Record<string, number> = {};
  readonly stats = {
    chunks: 0,
    lines: 0,
    events: 0,
    records_delivered: 0,
    records_rejected: 0,
    records_dead_lettered: 0,
    records_spooled: 0,
  };

  constructor(config: Config, opts: AgentOptions) {
    this.#config = config;
    this.#log = opts.log;
    this.#clock = opts.clock ?? systemClock;
    this.#dryRun = opts.dryRun ?? false;
    for (const source of config.sources) this.#perSource.set(source.name, { lines_read: 0, bytes_read: 0 });
    this.metrics = new Metrics({
      snapshot: () => this.#snapshot(),
      clock: this.#clock,
      version: opts.version,
    });
    this.#producer =
      opts.producer ?? (opts.dryRun ? new StdoutProducer() : createProducer(config.sink.kafka, opts.log));
    this.#memory = new MemoryBound(config.buffer.max_bytes, this.#clock);
    // No spool for a dry run: nothing is ever undeliverable on stdout.
    const spool =
      config.spool.enabled && !this.#dryRun
        ? {
            options: spoolOptionsFromConfig(config.spool, config.data_dir, opts.log, this.#clock),
            afterMs: config.spool.after_ms,
            codec: config.sink.kafka.compression,
          }
        : undefined;
    this.#sender = new SpoolingSender({
      port: this.#producer,
      spool,
      onSpooled: (batch) => this.#onSpooled(batch),
      onReplayed: (batch) => this.#onReplayed(batch),
      onReplayRejected: (batch, error) => this.#onReplayRejected(batch, error),
      retry: config.sink.kafka.retry,
      brokers: config.sink.kafka.brokers,
      log: opts.log,
      clock: this.#clock,
      onDelivered: (batch) => this.#onDelivered(batch),
      onRejected: (batch, error) => this.#onRejected(batch, error),
      onAttempt: (seconds, ok) => this.metrics.observeSend(seconds, ok),
      sender: {
        maxInFlight: this.#producer.maxInFlight,
        maxMessageBytes: config.sink.kafka.max_message_bytes,
        deadLetterTopic: config.sink.kafka.dead_letter?.topic,
        onDeadLettered: (batch, error) => this.#onDeadLettered(batch, error),
      },
    });
    this.#batcher = new Batcher(
      config.batch,
      (batch) => {
        this.metrics.observeBatch(recordCount(batch), batch.bytes);
        this.#sender.enqueue(batch);
      },
      this.#clock,
      // Where the producer can, records are encoded as they are added (PreparedBatch).
      this.#producer.batchBuilder?.bind(this.#producer),
    );
    const enrichSettings = {
      ...config.enrich,
      default_topic: config.sink.kafka.topic,
    };
    for (const source of config.sources) {
      this.#sources.set(source.name, { config: source, enricher: createEnricher(source, enrichSettings) });
    }
    this.#tailer = new Tailer({
      sources: config.sources,
      settings: config.tail,
      dataDir: config.data_dir,
      sink: this,
      log: opts.log,
      clock: this.#clock,
      onFileClosed: (fileId: string) => this.#onFileClosed(fileId),
    });
  }

  async start(): Promise<void> {
    this.#log.info(
      { sources: this.#config.sources.length, host: hostname(), data_dir: this.#config.data_dir },
      'agent starting',
    );
    await this.#producer.connect().catch((err: unknown) => {
      // A setting that can never work (a codec that cannot load) ends the start; an unreachable
      // broker does not: the sender retries with backoff and the memory bound pauses the tailers.
      if (err instanceof LogferryError && err.exitCode === ExitCode.config) throw err;
      this.#log.warn({ err: (err as Error).message }, 'initial broker connection failed; will keep trying');
    });
    if (this.#config.metrics.enabled) {
      this.#server = new ObserveServer({
        listen: this.#config.metrics.listen,
        metrics: this.metrics,
        log: this.#log,
        ready: () =>
          evaluateReadiness({
            started: this.#started,
            stopping: this.#stopping,
            broker: this.#brokerState(),
            spool: this.#sender.spoolStats && {
              bytes: this.#sender.spoolStats.bytes,
              max_bytes: this.#sender.spoolMaxBytes,
            },
          }),
      });
      const address = await this.#server.start();
      this.#log.info({ host: address.host, port: address.port }, 'metrics and health endpoint listening');
    }
    // Before the tailers: a spool left by an earlier run drains ahead of the new lines.
    await this.#sender.start();
    await this.#tailer.start();
    this.#expiryTimer = setInterval(() => this.#flushExpired(), EXPIRY_SCAN_MS);
    this.#expiryTimer.unref();
    this.#started = true;
  }

  /** ChunkSink: called by the tailer for every chunk, in file order. */
  write(chunk: LineChunk): undefined | Promise<void> {
    this.#memory.charge(chunk.bytes);
    this.stats.chunks++;
    const n = chunk.offsets.length;
    this.stats.lines += n;
    const perSource = this.#perSource.get(chunk.source);
    if (perSource !== undefined) {
      perSource.lines_read += n;
      perSource.bytes_read += chunk.bytes;
    }
    const file = this.#fileState(chunk);
    const { raw, ends } = chunk;
    const asBytes = raw !== undefined && ends !== undefined && chunk.flags === undefined;
    if (asBytes && file.route !== undefined) this.#emitLines(file, file.route, chunk, raw, ends);
    else if (asBytes && file.cri !== undefined) {
      // CRI: the byte path while the lines are final pieces and nothing is held; the decoder takes
      // each other line (and the lines after a piece, until the piece's line is complete).
      let i = 0;
      while (i < n) {
        if (!file.decoder.holding) i = this.#emitCriLines(file, file.cri, chunk, raw, ends, i);
        if (i < n) this.#decodeLines(file, chunk, i, ++i);
      }
    } else this.#decodeLines(file, chunk, 0, n);
    // Every line is in an event or a record now. The chunk stays referenced until those records
    // are delivered; its lines need not, so they die young instead of being promoted with it, and
    // its bytes are the tailer's again.
    chunk.lines.length = 0;
    chunk.raw = undefined;
    if (asBytes && file.route !== undefined && n > 1) {
      // The byte path made every record and no event refers to the chunk: of its per-line arrays
      // (16 bytes a line, ~80 KB per 1 MiB read, promoted with the chunk while its records are in
      // flight and then left for a full collection) only the first line's offset is read later.
      (ends as number[]).length = 0;
      chunk.offsets.length = 1;
    }
    releaseChunk(chunk, this);
    // After the records are charged, so that what this chunk turned into counts before reading on.
    return this.#memory.wait();
  }

  /**
   * ChunkSink: a source whose lines pass the decoder as they are, into a producer that takes
   * encoded batches, is read as bytes (the fast path of #emitLines); its chunks come without strings.
   */
  readsBytes(source: string): boolean {
    const config = this.#sources.get(source)?.config;
    if (config === undefined || this.#producer.batchBuilder === undefined) return false;
    const decoder = createDecoder(config);
    return decoder.passesLines || decoder.criLines;
  }

  /** ChunkAcknowledger: every record made from the chunk is delivered. */
  ack(chunk: LineChunk): void {
    this.#memory.release(chunk.bytes);
    this.#tailer.ack(chunk);
  }

  /**
   * Graceful stop: no more reading, held events and open batches flushed, up to `timeoutMs` for the
   * broker to acknowledge them, then checkpoints persisted. What is not acknowledged by then is
   * read again after a restart (at-least-once).
   */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#expiryTimer);
    await this.#tailer.stop();
    this.#memory.releaseWaiters();
    for (const file of this.#files.values()) this.#flushFile(file);
    this.#batcher.flush();
    await this.#batcher.settled();
    this.#sender.preferSpool();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.#sender.idle().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut)
      this.#log.warn(
        { queued_batches: this.#sender.queued },
        'shutdown timeout: unsent batches will be re-read after restart',
      );
    await this.#sender.stop();
    await this.#tailer.flushCheckpoints();
    await this.#producer.disconnect().catch(() => {});
    await this.#server?.close();
    this.#log.info({ ...this.stats, ...this.#sender.stats }, 'agent stopped');
  }

  /**
   * Applies a new config while running (SIGHUP, --watch-config). Sources take effect now: a removed
   * source's files stop being read, their held events are flushed and (within shutdown.timeout_ms)
   * acknowledged, their checkpoints kept; an added source's files are found by a scan; a changed
   * source is removed and added again, resuming from its checkpoints. Other sections are not
   * applied: their changed keys are returned for the caller to report. A source that cannot be used
   * (bad template) throws before anything changes.
   */
  async reload(next: Readonly<Config>): Promise<ConfigChanges> {
    const changes = diffConfig(this.#config, next);
    const { added, removed, changed } = changes.sources;
    const enrichSettings = { ...this.#config.enrich, default_topic: this.#config.sink.kafka.topic };
    const prepared = new Map<string, { config: SourceConfig; enricher: Enricher }>();
    for (const source of next.sources) {
      if (added.includes(source.name) || changed.includes(source.name))
        prepared.set(source.name, { config: source, enricher: createEnricher(source, enrichSettings) });
    }
    const gone = [...removed, ...changed];
    if (gone.length > 0) {
      const fileIds = await this.#tailer.releaseSources(gone);
      this.#batcher.flush();
      const acked = await this.#tailer.waitAcknowledged(fileIds, this.#config.shutdown.timeout_ms);
      if (!acked)
        this.#log.warn(
          { sources: gone },
          'reload: lines of removed sources not acknowledged yet; they are read again if the source returns',
        );
      await this.#tailer.flushCheckpoints();
      for (const name of removed) this.#sources.delete(name);
    }
    for (const [name, entry] of prepared) {
      this.#sources.set(name, entry);
      if (!this.#perSource.has(name)) this.#perSource.set(name, { lines_read: 0, bytes_read: 0 });
    }
    this.#config = { ...this.#config, sources: next.sources };
    if (added.length > 0 || changed.length > 0) await this.#tailer.setSources(next.sources);
    return changes;
  }

  get senderStats(): SpoolingSender['stats'] {
    return this.#sender.stats;
  }

  #fileState(chunk: LineChunk): FileState {
    let file = this.#files.get(chunk.fileId);
    if (file === undefined) {
      const source = this.#sources.get(chunk.source);
      if (source === undefined) throw new Error(`chunk from unknown source ${chunk.source}`);
      const decoder = createDecoder(source.config);
      const enricher = source.enricher.forFile(chunk.path, chunk.fileId);
      // The fast path writes records as bytes: only worth it when the producer takes them so.
      const bytes = this.#producer.batchBuilder !== undefined;
      const route = bytes && decoder.passesLines ? enricher.lineRoute() : undefined;
      let cri: FileState['cri'];
      if (bytes && decoder.criLines) {
        const out = enricher.lineRoute('stdout');
        const err = enricher.lineRoute('stderr');
        if (out !== undefined && err !== undefined) cri = { out, err };
      }
      file = { decoder, enricher, route, cri };
      this.#files.set(chunk.fileId, file);
    }
    return file;
  }

  #emit(enricher: FileEnricher, events: ParsedEvent[]): void {
    this.stats.events += events.length;
    let cost = 0;
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      const record = enricher.toRecord(event, event.chunk.readAt);
      cost += recordCost(record);
      this.#batcher.add(record);
    }
    this.#memory.charge(cost);
  }

  /**
   * The one-line-per-record fast path: every line of the chunk is a record with only its message,
   * offset and read time (the decoder passes lines as they are; the chunk has no flags), written
   * from the chunk's bytes into the batch by the route's writer. The records, their references on
   * the chunk and their charge are those `decode` + `#emit` would have made.
   */
  #emitLines(
    file: FileState,
    route: LineRoute,
    chunk: LineChunk,
    raw: Buffer,
    ends: readonly number[],
  ): void {
    const offsets = chunk.offsets;
    const n = offsets.length;
    const base = chunk.rawBase ?? 0;
    const ts = chunk.readAt;
    chunk.refs += n;
    const batcher = this.#batcher;
    let cost = 0;
    for (let i = 0; i < n; i++) {
      const offset = offsets[i] as number;
      cost += batcher.addLine(route, chunk, ts, raw, offset - base, (ends[i] as number) - base, offset);
    }
    this.#countLineRecords(file, n, cost);
  }

  /** What `decode` + `#emit` count for `n` records the byte path added, `cost` as the Batcher counted. */
  #countLineRecords(file: FileState, n: number, cost: number): void {
    file.decoder.countPassed(n);
    file.enricher.countLineRecords(n);
    this.stats.events += n;
    this.#memory.charge(cost + n * (RECORD_OVERHEAD_BYTES - RECORD_OVERHEAD));
  }

  /**
   * The byte path for CRI lines (wrapper cri, nothing else parsed): each final (`F`) line is a
   * record with the line's time, its message and its stream as the one field, as `decode` makes it.
   * Starts at line `from`, stops at the first line that is a piece (`P`) or not read as CRI, and
   * returns its index: the decoder takes that line (it joins pieces and flags what it cannot read).
   */
  #emitCriLines(
    file: FileState,
    routes: { out: LineRoute; err: LineRoute },
    chunk: LineChunk,
    raw: Buffer,
    ends: readonly number[],
    from: number,
  ): number {
    const offsets = chunk.offsets;
    const n = offsets.length;
    const base = chunk.rawBase ?? 0;
    const batcher = this.#batcher;
    let cost = 0;
    let i = from;
    for (; i < n; i++) {
      const offset = offsets[i] as number;
      const end = (ends[i] as number) - base;
      if (!readCriLine(raw, offset - base, end) || criLine.partial) break;
      chunk.refs++;
      const route = criLine.stderr ? routes.err : routes.out;
      cost += batcher.addLine(route, chunk, criLine.ts, raw, criLine.content, end, offset);
    }
    if (i > from) this.#countLineRecords(file, i - from, cost);
    return i;
  }

  /** Lines `from` to `to` (excluded) through the decoder, the enricher and the batcher. */
  #decodeLines(file: FileState, chunk: LineChunk, from: number, to: number): void {
    const events = this.#events;
    events.length = 0;
    chunkLines(chunk);
    file.decoder.decode(chunk, events, from, to);
    this.#emit(file.enricher, events);
  }

  /** Drops a batch's references on its chunks and its charge on the memory bound. */
  #releaseBatch(batch: Batch): void {
    if (!(batch instanceof PreparedBatch)) {
      this.#releaseRecords(batch.records);
      return;
    }
    const { chunks, lengths } = batch.runs;
    for (let r = 0; r < chunks.length; r++) releaseChunk(chunks[r] as LineChunk, this, lengths[r] as number);
    this.#memory.release(batchCost(batch.bytes, batch.count));
  }

  /** Drops the records' references on their chunks and their charge on the memory bound. */
  #releaseRecords(records: readonly OutRecord[]): void {
    let cost = 0;
    for (let i = 0; i < records.length; i++) {
      cost += recordCost(records[i]);
      releaseChunk(records[i].chunk, this);
    }
    this.#memory.release(cost);
  }

  #flushExpired(): void {
    const now = this.#clock.now();
    const events = this.#events;
    for (const file of this.#files.values()) {
      events.length = 0;
      file.decoder.flushExpired(now, events);
      if (events.length > 0) this.#emit(file.enricher, events);
    }
  }

  #flushFile(file: FileState): void {
    const events = this.#events;
    events.length = 0;
    file.decoder.flushAll(events);
    if (events.length > 0) this.#emit(file.enricher, events);
  }

  #onFileClosed(fileId: string): void {
    const file = this.#files.get(fileId);
    if (file === undefined) return;
    this.#flushFile(file);
    this.#files.delete(fileId);
  }

  #topicTotals(topic: string): { records_sent: number; records_failed: number; bytes_sent: number } {
    let t = this.#perTopic.get(topic);
    if (t === undefined) {
      t = { records_sent: 0, records_failed: 0, bytes_sent: 0 };
      this.#perTopic.set(topic, t);
    }
    return t;
  }

  #brokerState(): 'connecting' | 'connected' | 'disconnected' {
    return this.#dryRun ? 'connected' : this.#sender.brokerState;
  }

  #snapshot(): MetricsSnapshot {
    const files: FileLag[] = [];
    for (const f of this.#tailer.files()) {
      const committed = this.#tailer.committedOffset(f.fileId) ?? 0;
      files.push({ source: f.source, path: f.path, lag_bytes: Math.max(0, f.size - committed) });
    }
    return {
      sources: this.#perSource,
      topics: this.#perTopic,
      compression: compressionStats,
      retries: this.#sender.failuresByReason,
      dropped: this.#droppedNow(),
      spool: this.#spoolGauges(),
      backpressure_ms: this.#memory.pausedMsNow(),
      file_open_errors: this.#tailer.stats.openErrors,
      buffer: { bytes: this.#memory.used, max_bytes: this.#memory.max },
      files,
      checkpoint_saved_ms: this.#tailer.lastCheckpointWriteMs,
      broker: this.#brokerState(),
    };
  }

  /** Records dropped by reason, the spool's own drops (full, damaged) included. */
  #droppedNow(): Record<string, number> {
    const spool = this.#sender.spoolStats;
    if (spool === undefined) return this.#dropped;
    const out = { ...this.#dropped };
    if (spool.droppedRecordsFull > 0) out['spool_full'] = (out['spool_full'] ?? 0) + spool.droppedRecordsFull;
    if (spool.droppedRecordsCorrupt > 0)
      out['spool_corrupt'] = (out['spool_corrupt'] ?? 0) + spool.droppedRecordsCorrupt;
    return out;
  }

  #spoolGauges(): MetricsSnapshot['spool'] {
    const spool = this.#sender.spoolStats;
    if (spool === undefined) return undefined;
    return {
      bytes: spool.bytes,
      segments: spool.segments,
      oldest_ms: spool.oldestCreatedAt > 0 ? spool.oldestCreatedAt : undefined,
    };
  }

  /** Durable in the spool: the records' chunks are released as if delivered ('spooled'). */
  #onSpooled(batch: Batch): void {
    this.stats.records_spooled += recordCount(batch);
    this.#releaseBatch(batch);
  }

  /** A batch replayed from the spool reached Kafka; its chunks were released when it was spooled. */
  #onReplayed(batch: Batch): void {
    this.stats.records_delivered += batch.records.length;
    const t = this.#topicTotals(batch.topic);
    t.records_sent += batch.records.length;
    t.bytes_sent += batch.bytes;
  }

  #onReplayRejected(batch: Batch, error: ClassifiedError): void {
    const n = batch.records.length;
    this.stats.records_rejected += n;
    this.#topicTotals(batch.topic).records_failed += n;
    this.#dropped[error.reason] = (this.#dropped[error.reason] ?? 0) + n;
    this.#log.error(
      { code: error.error.code, reason: error.reason, topic: batch.topic, records: n, spooled: true },
      `spooled records dropped: ${error.error.message}`,
    );
  }

  #onDelivered(batch: Batch): void {
    const n = recordCount(batch);
    this.stats.records_delivered += n;
    const t = this.#topicTotals(batch.topic);
    t.records_sent += n;
    t.bytes_sent += batch.bytes;
    this.#releaseBatch(batch);
    if (batch instanceof PreparedBatch) batch.dispose();
  }

  /** Records the broker refused for good, now safe in the dead-letter topic: their lines are done. */
  #onDeadLettered(batch: Batch, error: ClassifiedError): void {
    const { records } = batch;
    this.stats.records_dead_lettered += records.length;
    this.#topicTotals(batch.topic).records_failed += records.length;
    this.#log.warn(
      { code: error.error.code, reason: error.reason, topic: batch.topic, records: records.length },
      'records sent to the dead-letter topic',
    );
    this.#releaseBatch(batch);
  }

  #onRejected(batch: Batch, error: ClassifiedError): void {
    const { records } = batch;
    const first = records[0];
    const last = records[records.length - 1];
    this.stats.records_rejected += records.length;
    this.#topicTotals(batch.topic).records_failed += records.length;
    this.#dropped[error.reason] = (this.#dropped[error.reason] ?? 0) + records.length;
    const firstOrigin = recordOrigin(first);
    this.#log.error(
      {
        code: error.error.code,
        reason: error.reason,
        topic: batch.topic,
        records: records.length,
        // Each record's own file and offset (read back from its value: this runs for rejected
        // records only), so that the line can be found; a chunk's first offset is another line's.
        first: firstOrigin,
        last: records.length === 1 ? firstOrigin : recordOrigin(last),
      },
      `records dropped: ${error.error.message}`,
    );
    this.#releaseBatch(batch);
  }
}
