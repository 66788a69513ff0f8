import type { LineChunk } from '../model/line-chunk.ts';
import type { OutRecord } from '../model/record.ts';
import { PreparedBatch } from './record-batch.ts';

/** One send: records for one topic, in order. */
export interface Batch {
  readonly topic: string;
  readonly records: readonly OutRecord[];
  /** Sum of the records' value lengths (UTF-16 code units; close to bytes for log text). */
  readonly bytes: number;
  /** Kafka headers per record (`headers[i]` belongs to `records[i]`); only dead-letter sends have them. */
  readonly headers?: readonly (Readonly<Record<string, string>> | undefined)[];
}

/**
 * The pipeline's only view of a message broker. `send` resolves once the batch is durable per the
 * configured acks and rejects with a classified error otherwise; kafkajs stays behind this port so
 * another client can replace it without touching the pipeline.
 */
export interface ProducerPort {
  /**
   * Optional: called once when a batch closes, before it is queued; may return a form of the batch
   * that is cheaper to hold and to send (see PreparedBatch). The returned batch is what `send` and
   * every later stage get.
   */
  prepare?(batch: Batch): Batch;
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

/** Calls `fn` with each record's chunk, without decoding a prepared batch. */
export function forEachChunk(batch: Batch, fn: (chunk: LineChunk) => void): void {
  if (batch instanceof PreparedBatch) for (const chunk of batch.chunks) fn(chunk);
  else for (const record of batch.records) fn(record.chunk);
}
