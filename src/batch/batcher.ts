import { type Clock, systemClock } from '../model/clock.ts';
import type { OutRecord } from '../model/record.ts';
import type { Batch, BatchBuilder } from '../sink/producer-port.ts';
import type { BatchConfig } from './batch-config.ts';

/** Bytes a record adds to a Kafka record batch beyond its key and value (length varints, deltas, headers). */
export const RECORD_OVERHEAD = 24;

/** Makes the builder of a new open batch; undefined: the records are kept in an array. */
export type BatchBuilderFactory = (topic: string, maxBytes: number) => BatchBuilder | undefined;

/** The plain builder: the records, as they came. */
class RecordList implements BatchBuilder {
  readonly #topic: string;
  readonly #records: OutRecord[] = [];
  constructor(topic: string) {
    this.#topic = topic;
  }
  add(record: OutRecord): void {
    this.#records.push(record);
  }
  get count(): number {
    return this.#records.length;
  }
  finish(bytes: number): Batch {
    return { topic: this.#topic, records: this.#records, bytes };
  }
}

interface OpenBatch {
  topic: string;
  builder: BatchBuilder | undefined;
  bytes: number;
  timer: unknown;
}

/**
 * Groups records per topic into batches bounded by records, bytes and linger time, and hands each
 * closed batch to `emit` in the order its records arrived.
 */
export class Batcher {
  readonly #config: BatchConfig;
  readonly #clock: Clock;
  readonly #emit: (batch: Batch) => void;
  readonly #open = new Map<string, OpenBatch>();
  readonly #newBuilder: BatchBuilderFactory | undefined;

  constructor(
    config: BatchConfig,
    emit: (batch: Batch) => void,
    clock: Clock = systemClock,
    newBuilder?: BatchBuilderFactory,
  ) {
    this.#config = config;
    this.#emit = emit;
    this.#clock = clock;
    this.#newBuilder = newBuilder;
  }

  add(record: OutRecord): void {
    let open = this.#open.get(record.topic);
    if (open === undefined) {
      open = { topic: record.topic, builder: undefined, bytes: 0, timer: undefined };
      this.#open.set(record.topic, open);
    }
    const size = record.value.length + (record.key?.length ?? 0) + RECORD_OVERHEAD;
    if (open.builder !== undefined && open.bytes + size > this.#config.max_bytes) this.#close(open);
    let builder = open.builder;
    if (builder === undefined) {
      const topic = record.topic;
      builder = this.#newBuilder?.(topic, this.#config.max_bytes) ?? new RecordList(topic);
      open.builder = builder;
      open.timer = this.#clock.setTimeout(() => this.#closeTopic(topic), this.#config.linger_ms);
    }
    builder.add(record);
    open.bytes += size;
    if (builder.count >= this.#config.max_records || open.bytes >= this.#config.max_bytes) this.#close(open);
  }

  /** Closes every open batch now (shutdown, or a file released). */
  flush(): void {
    for (const open of this.#open.values()) if (open.builder !== undefined) this.#close(open);
  }

  #closeTopic(topic: string): void {
    const open = this.#open.get(topic);
    if (open?.builder !== undefined) this.#close(open);
  }

  #close(open: OpenBatch): void {
    this.#clock.clearTimeout(open.timer);
    const batch = (open.builder as BatchBuilder).finish(open.bytes);
    open.builder = undefined;
    open.bytes = 0;
    open.timer = undefined;
    this.#emit(batch);
  }
}
