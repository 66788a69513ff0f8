import { type CompressionTypes, Kafka, type Message, type Producer } from 'kafkajs';
import type { Logger } from '../observe/logger.ts';
import { type ClassifyContext, classifySendError, ProducerFailure } from './classify.ts';
import { assertCodecAvailable, registerCodecs, toKafkajsCompression } from './codecs/index.ts';
import { kafkaClientConfig } from './kafka-client.ts';
import type { Batch, ProducerPort } from './producer-port.ts';
import type { KafkaSinkConfig } from './sink-config.ts';

const ACKS = { all: -1, 1: 1, 0: 0 } as const;

/**
 * The kafkajs adapter behind ProducerPort. kafkajs retries a request a few times itself (metadata
 * refreshes, leader moves); the engine's sender owns the longer backoff beyond that.
 *
 * In-flight requests: kafkajs keeps ordering and the idempotent producer's sequence numbers right
 * only with one request in flight per connection, so with `idempotent: true` (and acks all) it is
 * given 1 whatever `max_in_flight_requests` says (with a warning). This adapter has no
 * `maxInFlight`, so the Sender sends it one batch at a time; more in flight only matters for a batch
 * spread over partitions led by one broker.
 */
export class KafkaProducer implements ProducerPort {
  readonly #config: KafkaSinkConfig;
  readonly #producer: Producer;
  readonly #acks: number;
  readonly #compression: CompressionTypes;
  readonly #context: ClassifyContext;
  #connected = false;

  constructor(config: KafkaSinkConfig, log: Logger) {
    this.#config = config;
    this.#acks = ACKS[config.acks];
    this.#context = {
      tls: config.tls?.enabled === true,
      sasl: config.sasl && { mechanism: config.sasl.mechanism, username: config.sasl.username },
    };
    registerCodecs();
    this.#compression = toKafkajsCompression(config.compression);
    const idempotent = config.idempotent && config.acks === 'all';
    let inFlight = config.max_in_flight_requests;
    if (idempotent && inFlight > 1) {
      log.warn(
        { max_in_flight_requests: inFlight },
        'the kafkajs client keeps order with an idempotent producer only with 1 request in flight: using 1',
      );
      inFlight = 1;
    }
    const kafka = new Kafka(kafkaClientConfig(config, log));
    this.#producer = kafka.producer({
      idempotent,
      maxInFlightRequests: inFlight,
      allowAutoTopicCreation: true,
    });
  }

  /** Rejects with the classified LogferryError (one line, with the fix), never kafkajs's own. */
  async connect(): Promise<void> {
    await assertCodecAvailable(this.#config.compression);
    try {
      await this.#connect();
    } catch (err) {
      throw (err as ProducerFailure).classified.error;
    }
  }

  async #connect(): Promise<void> {
    try {
      await this.#producer.connect();
      this.#connected = true;
    } catch (err) {
      throw new ProducerFailure(
        classifySendError(err, this.#config.brokers, this.#config.topic, this.#context),
      );
    }
  }

  /** Rejects with a ProducerFailure, which the Sender's classifySendError passes through. */
  async send(batch: Batch): Promise<void> {
    // kafkajs answers every send with "The producer is disconnected" once a connect failed, and
    // never reconnects by itself: connect again first.
    if (!this.#connected) await this.#connect();
    try {
      await this.#send(batch);
    } catch (err) {
      throw new ProducerFailure(classifySendError(err, this.#config.brokers, batch.topic, this.#context));
    }
  }

  async #send(batch: Batch): Promise<void> {
    const { records, headers } = batch;
    const messages: Message[] = new Array(records.length);
    if (headers === undefined) {
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        messages[i] = { key: r.key, value: r.value };
      }
    } else {
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        messages[i] = { key: r.key, value: r.value, headers: headers[i] };
      }
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
    this.#connected = false;
    await this.#producer.disconnect();
  }
}
