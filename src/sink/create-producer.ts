import type { Logger } from '../observe/logger.ts';
import { KafkaProducer } from './kafka-producer.ts';
import { PlatformaticProducer } from './platformatic-producer.ts';
import type { ProducerPort } from './producer-port.ts';
import type { KafkaSinkConfig } from './sink-config.ts';

/** The producer `sink.kafka.client` names: the one the agent sends with, and test-connection too. */
export function createProducer(config: KafkaSinkConfig, log: Logger): ProducerPort {
  return config.client === 'kafkajs' ? new KafkaProducer(config, log) : new PlatformaticProducer(config, log);
}
