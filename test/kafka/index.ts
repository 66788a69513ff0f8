/**
 * The one door integration tests use to reach a real Kafka broker.
 *
 *   const bootstrap = await testBroker();   // '127.0.0.1:PORT'
 *
 * Under `npm test`, test/global-setup.ts starts one broker for the whole run and passes its address
 * in LOGFERRY_TEST_BOOTSTRAP (set it yourself to use an existing broker). A test file run on its own
 * (`node --test test/integration/x.test.ts`) starts a private broker on first call instead, which
 * dies with the file's process. The shared broker outlives each file: use uniqueTopic() names.
 */
import { randomUUID } from 'node:crypto';
import { type KafkaBroker, startBroker } from './broker.ts';

export type {
  BrokerOptions,
  ClusterOptions,
  KafkaBroker,
  KafkaCluster,
  KafkaNode,
  ListenerSpec,
  ScramUser,
  SecurityProtocol,
  ServerProperties,
} from './broker.ts';
export { freePorts, startBroker, startCluster } from './broker.ts';
export { checkJava, kafkaClasspath, repoRoot, runJava } from './classpath.ts';
export type {
  ConsoleConsumeOptions,
  ConsumeAllOptions,
  ConsumedMessage,
  CreateTopicOptions,
} from './consume.ts';
export { consoleConsume, consumeAll, createTopic, runKafkaTool } from './consume.ts';
export { KafkaHarnessError } from './errors.ts';
export type { TlsMaterial } from './tls.ts';
export { makeTlsMaterial, scramListenerProperties, tlsListenerProperties } from './tls.ts';

export const BOOTSTRAP_ENV = 'LOGFERRY_TEST_BOOTSTRAP';

let privateBroker: Promise<KafkaBroker> | undefined;

/** The shared test broker's bootstrap address, or a private broker's when there is none. */
export async function testBroker(): Promise<string> {
  const shared = process.env[BOOTSTRAP_ENV];
  if (shared) return shared;
  privateBroker ??= startBroker();
  privateBroker.catch(() => {
    privateBroker = undefined;
  });
  return (await privateBroker).bootstrap;
}

/** A topic name no other test (or earlier run against the same broker) has used. */
export function uniqueTopic(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
