import { type Clock, systemClock } from '../model/clock.ts';
import type { OutRecord } from '../model/record.ts';
import type { Batch } from '../sink/producer-port.ts';
import type { BatchConfig } from './batch-config.ts';

/** Bytes a record adds to a Kafka record batch beyond its key and value (length varints, deltas, headers). */
const RECORD_OVERHEAD = 24;

interface OpenBatch {
  topic: string;
  records: OutRecord[];
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

  constructor(config: BatchConfig, emit: (batch: Batch) => void, clock: Clock = systemClock) {
    this.#config = config;
    this.#emit = emit;
    this.#clock = clock;
  }

  add(record: OutRecord): void {
    let open = this.#open.get(record.topic);
    if (open === undefined) {
      open = { topic: record.topic, records: [], bytes: 0, timer: undefined };
      this.#open.set(record.topic, open);
    }
    const size = record.value.length + (record.key?.length ?? 0) + RECORD_OVERHEAD;
    if (open.records.length > 0 && open.bytes + size > this.#config.max_bytes) this.#close(open);
    if (open.records.length === 0) {
      const topic = record.topic;
      open.timer = this.#clock.setTimeout(() => this.#closeTopic(topic), this.#config.linger_ms);
    }
    open.records.push(record);
    open.bytes += size;
    if (open.records.length >= this.#config.max_records || open.bytes >= this.#config.max_bytes)
      this.#close(open);
  }

  /** Closes every open batch now (shutdown, or a file released). */
  flush(): void {
    for (const open of this.#open.values()) if (open.records.length > 0) this.#close(open);
  }

  #closeTopic(topic: string): void {
    const open = this.#open.get(topic);
    if (open !== undefined && open.records.length > 0) this.#close(open);
  }

  #close(open: OpenBatch): void {
    this.#clock.clearTimeout(open.timer);
    const batch: Batch = { topic: open.topic, records: open.records, bytes: open.bytes };
    open.records = [];
    open.bytes = 0;
    open.timer = undefined;
    this.#emit(batch);
  }
}
