import type { LineChunk } from '../model/line-chunk.ts';
import type { LineRoute, OutRecord } from '../model/record.ts';
import { PreparedBatch } from './record-batch.ts';

/** One send: records for one topic, in order. */
export interface Batch {
  readonly topic: string;
  readonly records: readonly OutRecord[];
  /** Sum of the records' value lengths (UTF-16 code units; close to bytes for log text). */
  readonly bytes: number;
  /**
   * Present on a batch whose records are still being compressed: the Batcher hands the batch on
   * once it settles (it never rejects), so a producer or the spool never sees it pending.
   */
  readonly ready?: Promise<void>;
  /** Kafka headers per record (`headers[i]` belongs to `records[i]`); only dead-letter sends have them. */
  readonly headers?: readonly (Readonly<Record<string, string>> | undefined)[];
}

/** Collects the records of one open batch, in order, and makes the batch when it closes. */
export interface BatchBuilder {
  add(record: OutRecord): void;
  /**
   * Optional: adds the record of line `raw[start, end)` of `chunk` through `route` without a
   * string (see LineValueWriter); returns the value's UTF-16 length. Absent: the Batcher makes the
   * record's string and calls `add`.
   */
  addLine?(
    route: LineRoute,
    chunk: LineChunk,
    ts: number,
    raw: Uint8Array,
    start: number,
    end: number,
    offset: number,
  ): number;
  readonly count: number;
  /** The closed batch; `bytes` as the Batcher counted them. The builder is not used again. */
  finish(bytes: number): Batch;
}

/**
 * The pipeline's only view of a message broker. `send` resolves once the batch is durable per the
 * configured acks and rejects with a classified error otherwise; kafkajs stays behind this port so
 * another client can replace it without touching the pipeline.
 */
export interface ProducerPort {
  /**
   * Optional: what collects an open batch's records for `topic`, when this producer has a form of
   * batch that is cheaper to hold and send (see PreparedBatch); undefined: a plain array. `maxBytes`
   * is batch.max_bytes, for sizing.
   */
  batchBuilder?(topic: string, maxBytes: number): BatchBuilder | undefined;
  /** How many `send`s may be in flight at once (each keeps call order on the wire); absent: 1. */
  readonly maxInFlight?: number;
  connect(): Promise<void>;
  send(batch: Batch): Promise<void>;
  disconnect(): Promise<void>;
}

/** The number of records, without decoding a prepared batch. */
export function recordCount(batch: Batch): number {
  return batch instanceof PreparedBatch ? batch.count : batch.records.length;
}
