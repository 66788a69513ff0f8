/**
 * Test-side Kafka helpers that do not go through logferry's own producer: read a topic back with an
 * independent consumer (kafkajs, or Kafka's own console consumer from the jars), create topics.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type IHeaders, Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { registerCodecs } from '../../src/sink/codecs/index.ts';
import { runJava } from './classpath.ts';

export type ClientConfig = Omit<KafkaConfig, 'brokers'>;

function client(bootstrap: string, config: ClientConfig = {}): Kafka {
  // The agent compresses with zstd by default; kafkajs reads it only with our codecs registered.
  registerCodecs();
  return new Kafka({
    clientId: 'logferry-test',
    logLevel: logLevel.NOTHING,
    ...config,
    brokers: bootstrap.split(','),
  });
}

export interface ConsumedMessage {
  key: string | null;
  value: string | null;
  partition: number;
  offset: number;
  /** Milliseconds since the epoch, as a string (as kafkajs gives it). */
  timestamp: string;
  headers: Record<string, string>;
}

export interface ConsumeAllOptions {
  bootstrap: string;
  topic: string;
  /** Wait for at least this many messages; without it, read what the topic holds now. */
  expected?: number;
  /** Default 60 s. */
  timeoutMs?: number;
  /** Extra kafkajs client settings (ssl, sasl, ...). */
  client?: ClientConfig;
}

function headerText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(',') : v.toString();
  }
  return out;
}

/**
 * Every message of `topic` from the earliest offset, ordered by partition then offset. Waits until
 * at least `expected` arrived, then keeps reading up to the partitions' end offsets as they were at
 * that moment, so duplicates written so far are in the result too (assert on its length for
 * exactly-once). Uses a consumer in a fresh group (the test broker has no initial rebalance delay).
 * Rejects after timeoutMs with how many messages it had.
 */
export async function consumeAll(opts: ConsumeAllOptions): Promise<ConsumedMessage[]> {
  const { topic } = opts;
  const expected = opts.expected ?? 0;
  const kafka = client(opts.bootstrap, opts.client);
  const admin = kafka.admin();
  const consumer = kafka.consumer({
    groupId: `logferry-test-${randomUUID()}`,
    maxWaitTimeInMs: 100,
    retry: { retries: 10 },
  });
  const messages: ConsumedMessage[] = [];
  const next = new Map<number, number>(); // partition -> offset after the last one read
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  await admin.connect();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let crashed: unknown;
    consumer.on(consumer.events.CRASH, (e) => {
      // Retriable crashes (a group coordinator still loading, a leader moving) restart by themselves.
      if (!e.payload.restart) crashed = e.payload.error;
    });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const offset = Number(message.offset);
        messages.push({
          key: message.key ? message.key.toString() : null,
          value: message.value ? message.value.toString() : null,
          partition,
          offset,
          timestamp: message.timestamp,
          headers: headerText(message.headers),
        });
        next.set(partition, offset + 1);
      },
    });
    let ends: { partition: number; high: number; low: number }[] | undefined;
    for (;;) {
      if (crashed) throw crashed;
      if (messages.length >= expected) {
        ends ??= (await admin.fetchTopicOffsets(topic)).map((p) => ({
          partition: p.partition,
          high: Number(p.high),
          low: Number(p.low),
        }));
        if (ends.every((p) => p.high <= p.low || (next.get(p.partition) ?? -1) >= p.high)) break;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `consumeAll(${topic}): got ${messages.length} messages, expected ${expected}, within ${opts.timeoutMs ?? 60_000} ms`,
        );
      }
      await sleep(50);
    }
  } finally {
    await consumer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
  return messages.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/**
 * Runs a Java tool from the Kafka jars, e.g. `org.apache.kafka.tools.consumer.ConsoleConsumer`
 * or `org.apache.kafka.tools.ProducerPerformance`, and returns its stdout (its log goes to stderr
 * at WARN). Rejects with the exit code and the end of stderr when it fails.
 */
export async function runKafkaTool(
  mainClass: string,
  args: readonly string[],
  opts: { timeoutMs?: number } = {},
): Promise<string> {
  return (await runJava(mainClass, args, opts)).stdout;
}

export interface ConsoleConsumeOptions {
  bootstrap: string;
  topic: string;
  maxMessages: number;
  /** How long the tool waits for the next message before giving up; default 20 s. */
  timeoutMs?: number;
  /** Prefix each line with the key and a tab. */
  printKey?: boolean;
}

/** Kafka's own console consumer from the earliest offset: one line per message (value, or key TAB value). */
export async function consoleConsume(opts: ConsoleConsumeOptions): Promise<string[]> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const args = [
    '--bootstrap-server',
    opts.bootstrap,
    '--topic',
    opts.topic,
    '--from-beginning',
    '--max-messages',
    String(opts.maxMessages),
    '--timeout-ms',
    String(timeoutMs),
  ];
  if (opts.printKey) args.push('--property', 'print.key=true', '--property', 'key.separator=\t');
  const out = await runKafkaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', args, {
    timeoutMs: timeoutMs + 60_000,
  });
  return out === '' ? [] : out.replace(/\n$/, '').split('\n');
}

export interface CreateTopicOptions {
  partitions?: number;
  /** Default: the broker's default.replication.factor (1 for a single broker, 3 for a cluster). */
  replicationFactor?: number;
  /** Topic configs, e.g. { 'cleanup.policy': 'compact' }. */
  configs?: Readonly<Record<string, string>>;
  client?: ClientConfig;
}

/** Creates a topic and waits for its partition leaders. Rejects if it exists already. */
export async function createTopic(
  bootstrap: string,
  name: string,
  opts: CreateTopicOptions = {},
): Promise<void> {
  const admin = client(bootstrap, opts.client).admin();
  await admin.connect();
  try {
    // kafkajs's own waitForLeaders retries only LEADER_NOT_AVAILABLE; in a KRaft cluster a broker
    // that has not yet applied the new metadata answers UNKNOWN_TOPIC_OR_PARTITION, which made it fail
    // (CI, the 3-node test). waitForTopic below asks every broker and retries both.
    const created = await admin.createTopics({
      waitForLeaders: false,
      topics: [
        {
          topic: name,
          numPartitions: opts.partitions ?? 3,
          replicationFactor: opts.replicationFactor ?? -1,
          configEntries: Object.entries(opts.configs ?? {}).map(([n, value]) => ({ name: n, value })),
        },
      ],
    });
    if (!created) throw new Error(`createTopic: topic ${name} already exists`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  await waitForTopic(bootstrap, name, opts.partitions ?? 3, opts.client);
}

/**
 * Waits until every broker of `bootstrap` reports `partitions` partitions of `topic`, each with a
 * leader. Retries any error for up to 30 s, then rejects with the last one.
 */
async function waitForTopic(
  bootstrap: string,
  topic: string,
  partitions: number,
  config: ClientConfig | undefined,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const address of bootstrap.split(',')) {
    for (;;) {
      const admin = client(address, config).admin();
      let lastError: unknown;
      try {
        await admin.connect();
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        const found = topics.find((t) => t.name === topic)?.partitions ?? [];
        if (found.length === partitions && found.every((p) => p.leader >= 0)) break;
        lastError = new Error(`${address} reports ${found.length} of ${partitions} partitions with leaders`);
      } catch (e) {
        lastError = e;
      } finally {
        await admin.disconnect().catch(() => {});
      }
      if (Date.now() > deadline) {
        throw new Error(`createTopic: ${topic} not ready on ${address} after 30 s: ${String(lastError)}`);
      }
      await sleep(100);
    }
  }
}
