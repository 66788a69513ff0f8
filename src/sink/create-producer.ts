import { createRequire } from 'node:module';
import type { Logger } from '../observe/logger.ts';
import { BuiltinProducer } from './builtin-producer.ts';
import type { KafkaProducer } from './kafka-producer.ts';
import type { ProducerPort } from './producer-port.ts';
import type { KafkaSinkConfig } from './sink-config.ts';

/**
 * The producer `sink.kafka.client` names: the one the agent sends with, and test-connection too.
 * kafkajs is loaded only when chosen (require of an ES module, synchronous since Node 22.12).
 */
export function createProducer(config: KafkaSinkConfig, log: Logger): ProducerPort {
  if (config.client !== 'kafkajs') return new BuiltinProducer(config, log);
  const { KafkaProducer: Kafkajs } = createRequire(import.meta.url)('./kafka-producer.ts') as {
    KafkaProducer: typeof KafkaProducer;
  };
  return new Kafkajs(config, log);
}
