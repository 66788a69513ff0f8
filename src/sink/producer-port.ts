import type { OutRecord } from '../model/record.ts';

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
  connect(): Promise<void>;
  send(batch: Batch): Promise<void>;
  disconnect(): Promise<void>;
}
