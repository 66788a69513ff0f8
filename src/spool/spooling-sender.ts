/**
 * The delivery stage with the on-disk spool in front of Kafka. The agent uses it where it would
 * use the plain Sender; it has the same surface (enqueue, idle, stop, stats, brokerState,
 * failuresByReason) plus start() and the spool's figures.
 *
 *   enqueue ─► Sender (order, backoff, split, reject) ─► gate ─┬─► ProducerPort (Kafka)    'delivered'
 *                                                              └─► Spool.append + fsync     'spooled'
 *                                  Replayer: Spool.peek ─► ProducerPort ─► Spool.ack (FIFO)
 *
 * Invariants
 * - Normal case: the gate passes every batch straight to the port; the spool is not touched.
 * - The gate switches to spooling when a retriable failure of the head batch has lasted
 *   `afterMs` (the retry budget). A batch's chunks are released ('spooled') only after its frame
 *   is durable, so checkpoints never pass a line that is neither in Kafka nor in the spool.
 * - While the spool is not empty (or an append is in flight) every batch is appended behind it,
 *   so batches reach Kafka in the order they were enqueued, across the outage and restarts.
 * - The replayer sends the spool's oldest batch and acknowledges it only after Kafka did; it
 *   retries retriable failures with the same backoff policy. When it finds the spool empty with
 *   no append in flight, the gate goes back to sending directly.
 * - Backpressure: an append that waits (`when_full: block`, ENOSPC) holds the Sender, so batches
 *   queue in memory with their chunks unreleased and the memory bound pauses the tailers.
 * - Without a spool (dry run, `spool.enabled: false`) this is the plain Sender.
 */
import { type Clock, systemClock } from '../model/clock.ts';
import type { Logger } from '../observe/logger.ts';
import { type ClassifiedError, classifySendError } from '../sink/classify.ts';
import type { CompressionName } from '../sink/codecs/index.ts';
import { type Batch, type ProducerPort, recordCount } from '../sink/producer-port.ts';
import { backoffDelay } from '../sink/retry.ts';
import { type BrokerState, Sender, type SenderOptions } from '../sink/sender.ts';
import type { RetryConfig } from '../sink/sink-config.ts';
import { Spool, type SpoolOptions } from './spool.ts';
import type { SpoolBatch } from './spool-batch.ts';
import { fromSpoolBatch, toSpoolBatch } from './spool-payload.ts';

export interface SpoolSettings {
  readonly options: SpoolOptions;
  /** How long a retriable failure may last before batches go to the spool. */
  readonly afterMs: number;
  /** Codec of the spooled payloads (the sink's compression). */
  readonly codec: CompressionName;
}

export interface SpoolingSenderOptions {
  port: ProducerPort;
  retry: RetryConfig;
  brokers: readonly string[];
  log: Logger;
  clock?: Clock;
  /** Undefined: no spool; batches wait in memory while the brokers are away. */
  spool?: SpoolSettings | undefined;
  /** Kafka acknowledged the batch (sent directly). */
  onDelivered(batch: Batch): void;
  /** The batch is durable in the spool: its records' chunks may be released. */
  onSpooled?(batch: Batch): void;
  /** Kafka acknowledged a batch replayed from the spool (its records point at no chunk). */
  onReplayed?(batch: Batch): void;
  /** The batch can never be delivered; the caller accounts for it. */
  onRejected(batch: Batch, error: ClassifiedError): void;
  /** A replayed batch can never be delivered (its chunks were released when it was spooled). */
  onReplayRejected?(batch: Batch, error: ClassifiedError): void;
  /** Every send attempt to the broker, for latency metrics. */
  onAttempt?(seconds: number, ok: boolean): void;
  /** More options for the inner Sender (dead-letter settings and callbacks, ...), passed as they are. */
  sender?: Partial<SenderOptions>;
}

export class SpoolingSender {
  readonly #opts: SpoolingSenderOptions;
  readonly #clock: Clock;
  readonly #inner: Sender;
  readonly #settings: SpoolSettings | undefined;
  #spool: Spool | undefined;
  /** Batches the gate put in the spool, so the Sender's "delivered" is told apart. */
  readonly #spooled = new WeakSet<Batch>();
  #spooling = false;
  #preferSpool = false;
  #failingSince: number | undefined;
  #appending: Promise<unknown> | undefined;
  /** Settles when the last append so far has; the next one waits for it. */
  #appendTurn: Promise<void> = Promise.resolve();
  #replaying: Promise<void> | undefined;
  #stopped = false;
  #sentWhole = false;
  #wake: (() => void) | undefined;
  #wakeTimer: unknown;
  brokerState: BrokerState = 'connecting';
  /** Failed broker sends by reason label (direct and replayed), for metrics. */
  readonly failuresByReason: Record<string, number> = {};
  readonly stats = {
    batches_sent: 0,
    records_sent: 0,
    bytes_sent: 0,
    send_failures: 0,
    records_rejected: 0,
    batches_spooled: 0,
    records_spooled: 0,
    batches_replayed: 0,
    records_replayed: 0,
    /** Spooled batches that could not be decoded at replay (counted, logged, acknowledged). */
    batches_undecodable: 0,
  };

  constructor(opts: SpoolingSenderOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#settings = opts.spool;
    const gate: ProducerPort = {
      connect: () => opts.port.connect(),
      disconnect: () => opts.port.disconnect(),
      send: (batch) => this.#gateSend(batch),
    };
    this.#inner = new Sender({
      ...opts.sender,
      // While batches go to the spool they are appended one at a time, as the replay expects.
      windowAllowed: () => !this.#spooling && this.#failingSince === undefined,
      port: gate,
      retry: opts.retry,
      brokers: opts.brokers,
      log: opts.log,
      clock: this.#clock,
      onDelivered: (batch) => {
        if (this.#spooled.has(batch)) {
          this.#spooled.delete(batch);
          this.#opts.onSpooled?.(batch);
        } else {
          this.stats.batches_sent++;
          this.stats.records_sent += recordCount(batch);
          this.stats.bytes_sent += batch.bytes;
          this.#opts.onDelivered(batch);
        }
      },
      onRejected: (batch, error) => {
        this.stats.records_rejected += batch.records.length;
        this.#opts.onRejected(batch, error);
      },
    });
  }

  /** Opens the spool (recovering it) and resumes draining what an earlier run left in it. */
  async start(): Promise<void> {
    if (this.#settings === undefined || this.#spool !== undefined) return;
    this.#spool = await Spool.open(this.#settings.options);
    if (!this.#spool.isEmpty) {
      this.#opts.log.info(
        { frames: this.#spool.stats.frames, records: this.#spool.stats.records },
        'spool not empty: new batches go behind it while it drains',
      );
      this.#spooling = true;
      this.#startReplay();
    }
  }

  get queued(): number {
    return this.#inner.queued;
  }

  /** True while batches go to the spool rather than straight to Kafka. */
  get spooling(): boolean {
    return this.#spooling;
  }

  /** The spool's counters and gauges, or undefined without a spool. */
  get spoolStats(): Spool['stats'] | undefined {
    return this.#spool?.stats;
  }

  get spoolMaxBytes(): number {
    return this.#settings?.options.maxBytes ?? 0;
  }

  enqueue(batch: Batch): void {
    this.#inner.enqueue(batch);
  }

  /** Resolves when every enqueued batch was delivered, spooled or rejected (replay may go on). */
  idle(): Promise<void> {
    return this.#inner.idle();
  }

  /**
   * Shutting down: from now on a batch whose send fails goes to the spool at once, without
   * waiting out the retry budget, so what was read is kept on disk rather than re-read.
   */
  preferSpool(): void {
    this.#preferSpool = true;
  }

  /** Stops sending and replaying; closes the spool (its read position persisted). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#inner.stop();
    this.#clock.clearTimeout(this.#wakeTimer);
    this.#wake?.();
    await this.#replaying;
    await this.#spool?.close();
  }

  async #gateSend(batch: Batch): Promise<void> {
    if (this.#spool !== undefined && (this.#spooling || this.#budgetSpent())) return this.#toSpool(batch);
    const started = performance.now();
    try {
      await this.#opts.port.send(batch);
    } catch (err) {
      this.#opts.onAttempt?.((performance.now() - started) / 1000, false);
      const classified = this.#countFailure(err, batch.topic);
      if (this.#spool === undefined || classified.disposition === 'permanent' || this.#stopped) throw err;
      this.#failingSince ??= this.#clock.now();
      if (this.#budgetSpent()) return this.#toSpool(batch);
      throw err;
    }
    this.#opts.onAttempt?.((performance.now() - started) / 1000, true);
    this.brokerState = 'connected';
    this.#failingSince = undefined;
  }

  #budgetSpent(): boolean {
    if (this.#failingSince === undefined || this.#settings === undefined) return false;
    return this.#preferSpool || this.#clock.now() - this.#failingSince >= this.#settings.afterMs;
  }

  #countFailure(err: unknown, topic: string): ClassifiedError {
    const classified = classifySendError(err, this.#opts.brokers, topic);
    if (classified.reason === 'broker_unreachable') this.brokerState = 'disconnected';
    this.stats.send_failures++;
    this.failuresByReason[classified.reason] = (this.failuresByReason[classified.reason] ?? 0) + 1;
    return classified;
  }

  async #toSpool(batch: Batch): Promise<void> {
    const spool = this.#spool as Spool;
    const settings = this.#settings as SpoolSettings;
    if (!this.#spooling) {
      this.#spooling = true;
      this.#opts.log.warn(
        { failingMs: this.#clock.now() - (this.#failingSince ?? this.#clock.now()), dir: spool.spoolDir },
        'brokers unavailable: batches go to the spool',
      );
    }
    const first = batch.records[0];
    const createdAt = first !== undefined && first.chunk.readAt > 0 ? first.chunk.readAt : this.#clock.now();
    // Encoded (compressed) at once, appended in call order: with several sends in flight a later
    // batch's encoding can finish first.
    const encoded = toSpoolBatch(batch, settings.codec, createdAt);
    const append = Promise.all([encoded, this.#appendTurn]).then(([sb]) => spool.append(sb));
    this.#appendTurn = append.then(
      () => undefined,
      () => undefined,
    );
    this.#appending = append;
    this.#startReplay();
    try {
      await append;
    } finally {
      if (this.#appending === append) this.#appending = undefined;
    }
    this.#spooled.add(batch);
    this.stats.batches_spooled++;
    this.stats.records_spooled += batch.records.length;
  }

  #startReplay(): void {
    if (this.#replaying !== undefined || this.#stopped) return;
    this.#replaying = this.#replay()
      .catch((err: unknown) => {
        if (!this.#stopped) this.#opts.log.error({ err }, 'spool replay failed; retrying');
      })
      .finally(() => {
        this.#replaying = undefined;
        if (this.#spooling && !this.#stopped) this.#startReplay();
      });
  }

  async #replay(): Promise<void> {
    const spool = this.#spool as Spool;
    while (!this.#stopped) {
      const sb = await spool.peek();
      if (sb === undefined) {
        const appending = this.#appending;
        if (appending !== undefined) {
          await appending.catch(() => undefined);
          continue;
        }
        if (spool.isEmpty) {
          this.#spooling = false;
          this.#failingSince = undefined;
          this.#opts.log.info(
            { replayed: this.stats.batches_replayed },
            'spool drained: sending directly again',
          );
          return;
        }
        await this.#sleep(10);
        continue;
      }
      const batch = await this.#decode(sb);
      if (batch !== undefined && !(await this.#sendReplayed(batch, spool))) return;
      if (batch !== undefined && spool.handedOutDropped) {
        if (this.#sentWhole) spool.reclaimDropped(batch.records.length);
        else {
          // drop_oldest took it while the brokers were away: counted as dropped, not sent.
          await spool.ack();
          continue;
        }
      }
      await spool.ack();
      if (batch === undefined) continue;
      this.stats.batches_replayed++;
      this.stats.records_replayed += batch.records.length;
      this.#opts.onReplayed?.(batch);
    }
  }

  async #decode(sb: SpoolBatch): Promise<Batch | undefined> {
    try {
      return await fromSpoolBatch(sb);
    } catch (err) {
      this.stats.batches_undecodable++;
      this.#opts.log.error(
        { err, topic: sb.topic, records: sb.records, positions: sb.positions.slice(0, 10) },
        'spooled batch could not be decoded: records dropped',
      );
      return undefined;
    }
  }

  /**
   * Sends one replayed batch until Kafka takes it (true) or the sender stops (false). Gives up
   * early (true, `#sentWhole` false) when drop_oldest dropped the batch before a part of it was sent.
   */
  async #sendReplayed(batch: Batch, spool: Spool): Promise<boolean> {
    const queue = [batch];
    let attempt = 0;
    let failing: string | undefined;
    this.#sentWhole = false;
    while (queue.length > 0) {
      if (this.#stopped) return false;
      if (queue.length === 1 && queue[0] === batch && spool.handedOutDropped) return true;
      const b = queue[0];
      const started = performance.now();
      try {
        await this.#opts.port.send(b);
      } catch (err) {
        this.#opts.onAttempt?.((performance.now() - started) / 1000, false);
        if (this.#stopped) return false;
        const classified = this.#countFailure(err, b.topic);
        if (classified.reason === 'message_too_large' && b.records.length > 1) {
          queue.splice(0, 1, ...halves(b));
          continue;
        }
        if (classified.disposition === 'permanent') {
          queue.shift();
          this.stats.records_rejected += b.records.length;
          this.#opts.onReplayRejected?.(b, classified);
          continue;
        }
        attempt++;
        if (failing !== classified.reason) {
          failing = classified.reason;
          this.#opts.log.error(
            { code: classified.error.code, reason: classified.reason, topic: b.topic, spooled: true },
            classified.error.message,
          );
        }
        await this.#sleep(backoffDelay(this.#opts.retry, attempt));
        continue;
      }
      this.#opts.onAttempt?.((performance.now() - started) / 1000, true);
      this.brokerState = 'connected';
      queue.shift();
    }
    this.#sentWhole = true;
    return true;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#wakeTimer = this.#clock.setTimeout(resolve, ms);
    });
  }
}

function halves(batch: Batch): [Batch, Batch] {
  const mid = batch.records.length >>> 1;
  const a = batch.records.slice(0, mid);
  const b = batch.records.slice(mid);
  const aBytes = Math.round((batch.bytes * a.length) / batch.records.length);
  return [
    { topic: batch.topic, records: a, bytes: aBytes },
    { topic: batch.topic, records: b, bytes: batch.bytes - aBytes },
  ];
}
