import { type Clock, systemClock } from '../model/clock.ts';
import type { Logger } from '../observe/logger.ts';
import { type ClassifiedError, classifySendError } from './classify.ts';
import {
  deadLetterBatch,
  oversizedRecords,
  recordOrigin,
  tooLargeAtBroker,
  tooLargeBeforeSend,
} from './dead-letter.ts';
import { type Batch, type ProducerPort, recordCount } from './producer-port.ts';
import { backoffDelay } from './retry.ts';
import type { RetryConfig } from './sink-config.ts';

export interface SenderOptions {
  port: ProducerPort;
  retry: RetryConfig;
  brokers: readonly string[];
  log: Logger;
  clock?: Clock;
  /** Records larger than this (bytes, key + value + framing) are rejected without a broker round trip; 0: no check. */
  maxMessageBytes?: number;
  /** Records rejected for good go here, with headers naming the error and origin; unset: onRejected. */
  deadLetterTopic?: string;
  /**
   * The batch's records were rejected for good but are stored in the dead-letter topic: the caller
   * acknowledges them (their checkpoints move). Without this callback onRejected is called instead.
   */
  onDeadLettered?(batch: Batch, error: ClassifiedError): void;
  /** The broker acknowledged the batch per the acks setting. */
  onDelivered(batch: Batch): void;
  /** The batch can never be delivered (for example too large); the caller accounts for it. */
  onRejected(batch: Batch, error: ClassifiedError): void;
  /** Every send attempt, for latency metrics. */
  onAttempt?(seconds: number, ok: boolean): void;
  /**
   * Sends that may be in flight at once while every send succeeds (default 1). The port must put
   * them on the wire in call order (the idempotent producer's sequence numbers keep each
   * partition's order at the broker). After a failure the sender goes back to one at a time.
   */
  maxInFlight?: number;
  /** Asked before each send while the window is open: false holds it to one send at a time. */
  windowAllowed?: () => boolean;
}

/** What the sender last learnt of the brokers. */
export type BrokerState = 'connecting' | 'connected' | 'disconnected';

/**
 * Sends batches one at a time, in order, and owns retries: a retriable failure is tried again after
 * a jittered exponential backoff for as long as it takes (the memory bound stops the tailers
 * meanwhile); a permanent one goes to the dead-letter topic when one is set (`onDeadLettered`),
 * else to `onRejected`, and the next batch goes. Records larger than `maxMessageBytes` are taken
 * out of their batch at enqueue and rejected the same way, without a broker round trip.
 */
export class Sender {
  readonly #opts: SenderOptions;
  readonly #clock: Clock;
  readonly #queue: Batch[] = [];
  /** Batches rejected before sending (one oversized record each), with their error. */
  readonly #preRejected = new Map<Batch, ClassifiedError>();
  #running = false;
  #stopped = false;
  #idleWaiters: (() => void)[] = [];
  #wake: (() => void) | undefined;
  /** Set while a window of sends waits: starts the batch just enqueued when there is room. */
  #kick: (() => void) | undefined;
  #wakeTimer: unknown;
  readonly stats = {
    batches_split: 0,
    batches_sent: 0,
    records_sent: 0,
    bytes_sent: 0,
    send_failures: 0,
    records_rejected: 0,
    records_dead_lettered: 0,
  };
  brokerState: BrokerState = 'connecting';
  /** Failures by reason label, for metrics. */
  readonly failuresByReason: Record<string, number> = {};

  constructor(opts: SenderOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  get queued(): number {
    return this.#queue.length;
  }

  enqueue(batch: Batch): void {
    if (this.#stopped) return;
    const max = this.#opts.maxMessageBytes ?? 0;
    const oversized = max > 0 ? oversizedRecords(batch, max) : undefined;
    if (oversized === undefined) this.#queue.push(batch);
    else this.#splitOversized(batch, oversized, max);
    if (!this.#running) void this.#run();
    else this.#kick?.();
  }

  #splitOversized(batch: Batch, oversized: readonly number[], max: number): void {
    const keep = [];
    let next = 0;
    let keptBytes = 0;
    for (let i = 0; i < batch.records.length; i++) {
      const r = batch.records[i];
      if (oversized[next] === i) {
        next++;
        const alone: Batch = { topic: batch.topic, records: [r], bytes: r.value.length };
        this.#preRejected.set(alone, tooLargeBeforeSend(r, max));
        this.#queue.push(alone);
      } else {
        keep.push(r);
        keptBytes += r.value.length;
      }
    }
    if (keep.length > 0) this.#queue.push({ topic: batch.topic, records: keep, bytes: keptBytes });
  }

  /** Resolves when every enqueued batch was delivered or rejected, or the sender was stopped. */
  idle(): Promise<void> {
    if ((!this.#running && this.#queue.length === 0) || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops after the send in flight; queued batches stay unacknowledged and are re-read after a restart. */
  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#wakeTimer);
    this.#wake?.();
    this.#settleIdle();
  }

  async #run(): Promise<void> {
    this.#running = true;
    let attempt = 0;
    let failing: string | undefined;
    const window = this.#opts.maxInFlight ?? 1;
    while (this.#queue.length > 0 && !this.#stopped) {
      const batch = this.#queue[0];
      const pre = this.#preRejected.get(batch);
      if (pre !== undefined) {
        this.#preRejected.delete(batch);
        this.failuresByReason[pre.reason] = (this.failuresByReason[pre.reason] ?? 0) + 1;
        await this.#reject(batch, pre);
        this.#queue.shift();
        continue;
      }
      let failure: { err: unknown } | undefined;
      if (window > 1 && attempt === 0 && this.#opts.windowAllowed?.() !== false) {
        failure = await this.#sendWindow(window);
        if (failure === undefined) continue;
      } else {
        const started = performance.now();
        try {
          await this.#opts.port.send(batch);
          this.#opts.onAttempt?.((performance.now() - started) / 1000, true);
        } catch (err) {
          this.#opts.onAttempt?.((performance.now() - started) / 1000, false);
          failure = { err };
        }
      }
      if (failure !== undefined) {
        if (this.#stopped) break;
        // After a window, the first batch that failed is at the head.
        const head = this.#queue[0] as Batch;
        let classified = classifySendError(failure.err, this.#opts.brokers, head.topic);
        if (classified.reason === 'broker_unreachable') this.brokerState = 'disconnected';
        this.stats.send_failures++;
        this.failuresByReason[classified.reason] = (this.failuresByReason[classified.reason] ?? 0) + 1;
        if (classified.reason === 'message_too_large' && recordCount(head) > 1) {
          // The batch as a whole passed the broker's limit (record overhead, multi-byte text):
          // halve it and go on in order; only a single record that is too large is given up.
          this.#queue.splice(0, 1, ...splitBatch(head));
          this.stats.batches_split++;
          continue;
        }
        if (classified.disposition === 'permanent') {
          if (classified.reason === 'message_too_large')
            classified = tooLargeAtBroker(head.records[0], head.topic);
          await this.#reject(head, classified);
          this.#queue.shift();
          attempt = 0;
          continue;
        }
        attempt++;
        if (failing !== classified.reason) {
          failing = classified.reason;
          this.#opts.log.error(
            { code: classified.error.code, reason: classified.reason, topic: head.topic },
            classified.error.message,
          );
        }
        await this.#sleep(backoffDelay(this.#opts.retry, attempt));
        continue;
      }
      this.#queue.shift();
      if (failing !== undefined) {
        this.#opts.log.info({ topic: batch.topic, attempts: attempt + 1 }, 'delivery recovered');
        failing = undefined;
      }
      attempt = 0;
      this.#delivered(batch);
    }
    this.#running = false;
    this.#settleIdle();
  }

  /**
   * Up to `window` sends in flight from the head of the queue, completed in order, while they
   * succeed. Returns undefined when the queue ran dry or reached a batch rejected before sending;
   * otherwise the first failure, with its batch at the head of the queue. Sends still in flight
   * after a failure are waited for: the ones that succeeded are delivered (out of order, which
   * the checkpoints' watermark allows), the ones that failed stay queued to be sent again.
   */
  async #sendWindow(window: number): Promise<{ err: unknown } | undefined> {
    const inflight: { batch: Batch; result: Promise<unknown>; started: number }[] = [];
    const ok = Symbol('ok');
    const kicked = Symbol('kicked');
    let failure: { err: unknown } | undefined;
    let next = 0;
    for (;;) {
      const room = this.#opts.windowAllowed?.() === false ? 1 : window;
      while (failure === undefined && !this.#stopped && inflight.length < room) {
        const batch = this.#queue[next];
        if (batch === undefined || this.#preRejected.has(batch)) break;
        next++;
        const result = this.#opts.port.send(batch).then(
          () => ok,
          (err: unknown) => err,
        );
        inflight.push({ batch, result, started: performance.now() });
      }
      const first = inflight[0];
      if (first === undefined) return failure;
      // A batch enqueued meanwhile starts at once when the window has room.
      const woken = new Promise<symbol>((resolve) => {
        this.#kick = () => resolve(kicked);
      });
      const outcome = await Promise.race([first.result, woken]);
      this.#kick = undefined;
      if (outcome === kicked) continue;
      inflight.shift();
      this.#opts.onAttempt?.((performance.now() - first.started) / 1000, outcome === ok);
      if (outcome !== ok) {
        failure ??= { err: outcome };
        continue;
      }
      const at = this.#queue.indexOf(first.batch);
      if (at >= 0) this.#queue.splice(at, 1);
      next--;
      this.#delivered(first.batch);
    }
  }

  #delivered(batch: Batch): void {
    this.brokerState = 'connected';
    this.stats.batches_sent++;
    this.stats.records_sent += recordCount(batch);
    this.stats.bytes_sent += batch.bytes;
    this.#opts.onDelivered(batch);
  }

  /**
   * A batch rejected for good: into the dead-letter topic when one is set (retried with backoff
   * while that fails retriably, so such records are not lost to a broker hiccup), else, or when the
   * dead-letter topic refuses them for good too, to onRejected (logged with origin and counted).
   */
  async #reject(batch: Batch, classified: ClassifiedError): Promise<void> {
    const topic = this.#opts.deadLetterTopic;
    const onDeadLettered = this.#opts.onDeadLettered;
    if (topic !== undefined && onDeadLettered !== undefined && topic !== batch.topic) {
      const dead = deadLetterBatch(batch, classified, topic, this.#opts.maxMessageBytes || 1_048_576);
      for (let attempt = 1; !this.#stopped; attempt++) {
        try {
          await this.#opts.port.send(dead);
          this.stats.records_dead_lettered += batch.records.length;
          const origin = recordOrigin(batch.records[0]);
          this.#opts.log.warn(
            {
              code: classified.error.code,
              reason: classified.reason,
              topic: batch.topic,
              dead_letter_topic: topic,
              records: batch.records.length,
              path: origin.path,
              offset: origin.offset,
            },
            `records dead-lettered: ${classified.error.message}`,
          );
          onDeadLettered(batch, classified);
          return;
        } catch (err) {
          const failed = classifySendError(err, this.#opts.brokers, topic);
          this.failuresByReason[failed.reason] = (this.failuresByReason[failed.reason] ?? 0) + 1;
          if (failed.disposition === 'permanent') {
            this.#opts.log.error(
              { code: failed.error.code, reason: failed.reason, dead_letter_topic: topic },
              `dead-letter topic refused records: ${failed.error.message}`,
            );
            break;
          }
          if (attempt === 1) {
            this.#opts.log.error(
              { code: failed.error.code, reason: failed.reason, dead_letter_topic: topic },
              failed.error.message,
            );
          }
          await this.#sleep(backoffDelay(this.#opts.retry, attempt));
        }
      }
      if (this.#stopped) return;
    }
    this.stats.records_rejected += batch.records.length;
    this.#opts.onRejected(batch, classified);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#wakeTimer = this.#clock.setTimeout(resolve, ms);
    });
  }

  #settleIdle(): void {
    if (this.#running && !this.#stopped) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}

function splitBatch(batch: Batch): [Batch, Batch] {
  const mid = batch.records.length >>> 1;
  const a = batch.records.slice(0, mid);
  const b = batch.records.slice(mid);
  const aBytes = Math.round((batch.bytes * a.length) / batch.records.length);
  return [
    { topic: batch.topic, records: a, bytes: aBytes },
    { topic: batch.topic, records: b, bytes: batch.bytes - aBytes },
  ];
}
