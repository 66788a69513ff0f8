import { type CompressionTypes, Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import type { Logger } from '../observe/logger.ts';
import { assertCodecAvailable, registerCodecs, toKafkajsCompression } from './codecs/index.ts';
import type { Batch, ProducerPort } from './producer-port.ts';
import type { KafkaSinkConfig } from './sink-config.ts';

const ACKS = { all: -1, 1: 1, 0: 0 } as const;

/**
 * The kafkajs adapter behind ProducerPort. kafkajs retries a request a few times itself (metadata
 * refreshes, leader moves); the engine's sender owns the longer backoff beyond that.
 */
export class KafkaProducer implements ProducerPort {
  readonly #config: KafkaSinkConfig;
  readonly #producer: Producer;
  readonly #acks: number;
  readonly #compression: CompressionTypes;

  constructor(config: KafkaSinkConfig, log: Logger) {
    this.#config = config;
    this.#acks = ACKS[config.acks];
    registerCodecs();
    this.#compression = toKafkajsCompression(config.compression);
    const kafka = new Kafka({
      clientId: config.client_id,
      brokers: config.brokers,
      connectionTimeout: config.connection_timeout_ms,
      requestTimeout: config.request_timeout_ms,
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => {
        const { message, ...fields } = entry.log;
        // kafkajs logs its own retries as errors; they are ours to report, once, as a classified error.
        log.debug({ kafkajs: fields, namespace: entry.namespace }, message);
      },
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
    const idempotent = config.idempotent && config.acks === 'all';
    this.#producer = kafka.producer({
      idempotent,
      // kafkajs guarantees ordering (and idempotence) only with one request in flight per broker.
      maxInFlightRequests: idempotent ? 1 : 5,
      allowAutoTopicCreation: true,
    });
  }

  async connect(): Promise<void> {
    await assertCodecAvailable(this.#config.compression);
    await this.#producer.connect();
  }

  async send(batch: Batch): Promise<void> {
    const { records } = batch;
    const messages: Message[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      messages[i] = { key: r.key, value: r.value };
    }
    await this.#producer.send({
      topic: batch.topic,
      messages,
      acks: this.#acks,
      compression: this.#compression,
      timeout: this.#config.request_timeout_ms,
    });
  }

  async disconnect(): Promise<void> {
    await this.#producer.disconnect();
  }
}
