import { type Clock, systemClock } from '../model/clock.ts';
import type { LineChunk } from '../model/line-chunk.ts';
import type { LineRoute, OutRecord } from '../model/record.ts';
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
  /** Closed batches not handed on yet (compressing, or behind one that is). */
  #waiting = 0;
  #handedOn: Promise<void> = Promise.resolve();

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
    const size = record.value.length + (record.key?.length ?? 0) + RECORD_OVERHEAD;
    const open = this.#openFor(record.topic, size);
    (open.builder as BatchBuilder).add(record);
    this.#added(open, size);
  }

  /**
   * Adds the record of line `raw[start, end)` of `chunk` through `route` (the one-line-per-record
   * fast path; see LineValueWriter), as bytes when the open batch's builder takes them. Returns
   * what it counted for the record, as `add` counts it: the value's UTF-16 length, the key's and
   * RECORD_OVERHEAD.
   */
  addLine(
    route: LineRoute,
    chunk: LineChunk,
    ts: number,
    raw: Uint8Array,
    start: number,
    end: number,
    offset: number,
  ): number {
    const keyLength = route.key === null ? 0 : route.key.length;
    // Before writing, the value's size is known only roughly: the line's bytes plus the rest.
    const open = this.#openFor(
      route.topic,
      end - start + route.writer.fixedBytes + keyLength + RECORD_OVERHEAD,
    );
    const builder = open.builder as BatchBuilder;
    let units: number;
    if (builder.addLine !== undefined) units = builder.addLine(route, chunk, ts, raw, start, end, offset);
    else {
      const value = route.writer.toString(ts, raw, start, end, offset);
      builder.add({ topic: route.topic, key: route.key, value, chunk });
      units = value.length;
    }
    const size = units + keyLength + RECORD_OVERHEAD;
    this.#added(open, size);
    return size;
  }

  /** The open batch of `topic` with room for `size` more (a full one is closed first). */
  #openFor(topic: string, size: number): OpenBatch {
    let open = this.#open.get(topic);
    if (open === undefined) {
      open = { topic, builder: undefined, bytes: 0, timer: undefined };
      this.#open.set(topic, open);
    }
    if (open.builder !== undefined && open.bytes + size > this.#config.max_bytes) this.#close(open);
    if (open.builder === undefined) {
      open.builder = this.#newBuilder?.(topic, this.#config.max_bytes) ?? new RecordList(topic);
      open.timer = this.#clock.setTimeout(() => this.#closeTopic(topic), this.#config.linger_ms);
    }
    return open;
  }

  #added(open: OpenBatch, size: number): void {
    open.bytes += size;
    const builder = open.builder as BatchBuilder;
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
    const ready = batch.ready;
    if (ready === undefined && this.#waiting === 0) {
      this.#emit(batch);
      return;
    }
    // A batch still being compressed, or one closed behind it: handed on in closing order once ready.
    this.#waiting++;
    this.#handedOn = this.#handedOn
      .then(() => ready)
      .then(() => {
        this.#waiting--;
        this.#emit(batch);
      });
  }

  /** Settles once every batch closed so far has been handed to `emit`. */
  settled(): Promise<void> {
    return this.#handedOn;
  }
}
