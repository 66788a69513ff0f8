/**
 * `sink.kafka.client: builtin` (logferry's own producer) against a real broker (one private broker: auto-creation off, a
 * SASL_SSL + SCRAM listener next to PLAINTEXT): 10,000 keyed records through the agent's Sender
 * arrive exactly once and each key lands on the partition kafkajs chooses; a batch of every codec
 * is read intact by Kafka's own Java console consumer; SASL_SSL delivers; and each error class
 * (unreachable, unknown topic, too large, wrong password, TLS name) is classified as for kafkajs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  BrokerAuthError,
  BrokerUnreachableError,
  MessageTooLargeError,
  TopicError,
} from '../../src/model/errors.ts';
import type { LineChunk } from '../../src/model/line-chunk.ts';
import type { OutRecord } from '../../src/model/record.ts';
import { silentLogger } from '../../src/observe/logger.ts';
import { BuiltinProducer, javaPartition } from '../../src/sink/builtin-producer.ts';
import { type ClassifiedError, ProducerFailure } from '../../src/sink/classify.ts';
import { COMPRESSION_NAMES, compressionStats, registerCodecs } from '../../src/sink/codecs/index.ts';
import { KafkaProducer } from '../../src/sink/kafka-producer.ts';
import type { Batch } from '../../src/sink/producer-port.ts';
import { Sender } from '../../src/sink/sender.ts';
import type { KafkaSinkConfig } from '../../src/sink/sink-config.ts';
import { splitAddress } from '../../src/sink/wire/cluster.ts';
import { BrokerConnection } from '../../src/sink/wire/connection.ts';
import type { ClientConfig } from '../kafka/consume.ts';
import {
  consoleConsume,
  consumeAll,
  createTopic,
  freePorts,
  type KafkaBroker,
  makeTlsMaterial,
  scramListenerProperties,
  startBroker,
  type TlsMaterial,
  tlsListenerProperties,
  uniqueTopic,
} from '../kafka/index.ts';
import { kafkaSinkConfig } from '../support/sink-config.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
registerCodecs();

const PASSWORD = 'bob-Secret-51f2';
const dir = mkdtempSync(join(tmpdir(), 'logferry-builtin-'));
let tls: TlsMaterial;
let broker: KafkaBroker;

before(async () => {
  tls = await makeTlsMaterial(dir);
  broker = await startBroker({
    autoCreateTopics: false,
    listeners: [
      { name: 'SASL_SSL', securityProtocol: 'SASL_SSL' },
      // SCRAM sessions that expire after 3 s (KIP-368): see the re-authentication test.
      { name: 'REAUTH', securityProtocol: 'SASL_PLAINTEXT' },
    ],
    scramUsers: [{ mechanism: 'SCRAM-SHA-512', username: 'bob', password: PASSWORD }],
    serverProperties: {
      ...tlsListenerProperties('SASL_SSL', tls),
      ...scramListenerProperties('SASL_SSL'),
      ...scramListenerProperties('REAUTH'),
      'listener.name.reauth.scram-sha-512.connections.max.reauth.ms': '3000',
      // Idle connections are closed after 3 s (Kafka's default is 10 min): see the reconnection test.
      'connections.max.idle.ms': '3000',
    },
  });
});

after(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function sinkConfig(extra: Record<string, unknown>): KafkaSinkConfig {
  return kafkaSinkConfig({
    brokers: [broker.bootstrap],
    topic: 'unused',
    client: 'builtin',
    connection_timeout_ms: 3000,
    ...extra,
  });
}

const chunk = { path: '/var/log/app.log' } as LineChunk;

/** Keys of every length 0-12 mod 4 and many hashes (negative ones included), repeating. */
const keyOf = (i: number): string => `host-${(i * 7919) % 257}${'é'.repeat(i % 3)}`;

function records(topic: string, n: number, from = 0): OutRecord[] {
  const out: OutRecord[] = [];
  for (let i = from; i < from + n; i++) {
    out.push({
      topic,
      key: keyOf(i),
      value: JSON.stringify({ seq: i, message: `line ${i} naïve ✓` }),
      chunk,
    });
  }
  return out;
}

function batchOf(recs: OutRecord[]): Batch {
  return { topic: recs[0].topic, records: recs, bytes: recs.reduce((n, r) => n + r.value.length, 0) };
}

/** The failure a send or connect gave, as classified. */
async function failureOf(p: Promise<unknown>): Promise<ClassifiedError> {
  const err = await p.then(
    () => assert.fail('must fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ProducerFailure, String(err));
  return err.classified;
}

test('10,000 keyed records through the Sender arrive exactly once, every key on the partition kafkajs chooses', async () => {
  const topic = uniqueTopic('plt-10k');
  await createTopic(broker.bootstrap, topic, { partitions: 6 });

  const producer = new BuiltinProducer(sinkConfig({}), silentLogger());
  await producer.connect();
  let delivered = 0;
  const sender = new Sender({
    port: producer,
    retry: { initial_ms: 50, max_ms: 500, multiplier: 2 },
    brokers: [broker.bootstrap],
    log: silentLogger(),
    onDelivered: (b) => {
      delivered += b.records.length;
    },
    onRejected: (_b, e) => assert.fail(e.error.message),
  });
  for (let i = 0; i < 10_000; i += 1000) sender.enqueue(batchOf(records(topic, 1000, i)));
  await sender.idle();
  await producer.disconnect();
  assert.equal(delivered, 10_000);

  // The same keys from kafkajs into the same topic (seq from 1,000,000): one topic, one consumer.
  const kafkajs = new KafkaProducer(sinkConfig({ client: 'kafkajs' }), silentLogger());
  await kafkajs.connect();
  await kafkajs.send(batchOf(records(topic, 1000, 1_000_000)));
  await kafkajs.disconnect();

  const got = await consumeAll({ bootstrap: broker.bootstrap, topic, expected: 11_000, timeoutMs: 45_000 });
  assert.equal(got.length, 11_000, 'no duplicates');
  const seqOf = (m: { value: string | null }) => JSON.parse(m.value as string).seq as number;
  const ours = got.filter((m) => seqOf(m) < 1_000_000);
  assert.equal(new Set(ours.map(seqOf)).size, 10_000, 'every record once');
  const kafkajsPartition = new Map<string | null, number>();
  for (const m of got) if (seqOf(m) >= 1_000_000) kafkajsPartition.set(m.key, m.partition);
  assert.equal(new Set(kafkajsPartition.values()).size, 6, 'the keys spread over every partition');
  for (const m of ours) {
    assert.equal(m.partition, kafkajsPartition.get(m.key), `key ${m.key}`);
    assert.equal(m.partition, javaPartition(Buffer.from(m.key as string), 6));
  }
});

test('connections the broker closed while idle (connections.max.idle.ms) are opened again for the next batch', async () => {
  const topic = uniqueTopic('plt-idle');
  await createTopic(broker.bootstrap, topic, { partitions: 1 });
  const producer = new BuiltinProducer(sinkConfig({}), silentLogger());
  await producer.connect();
  await producer.send(batchOf(records(topic, 10, 0)));
  // A connection of our own to the same listener shows that the broker does close idle ones here.
  const { host, port } = splitAddress(broker.bootstrap);
  const probe = await BrokerConnection.open(host, port, {
    clientId: 'probe',
    connectTimeoutMs: 3000,
    requestTimeoutMs: 3000,
    tls: undefined,
    sni: false,
    sasl: undefined,
  });
  const deadline = Date.now() + 20_000;
  while (!probe.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
  assert.ok(probe.closed, 'the broker closed an idle connection');
  await producer.send(batchOf(records(topic, 10, 10)));
  await producer.disconnect();
  const got = await consumeAll({ bootstrap: broker.bootstrap, topic, expected: 20, timeoutMs: 30_000 });
  assert.deepEqual(
    got.map((m) => JSON.parse(m.value as string).seq),
    Array.from({ length: 20 }, (_, i) => i),
    'both batches, once each, in order',
  );
});

test('a batch of every codec is read intact by the Java console consumer', async () => {
  const topic = uniqueTopic('plt-codecs');
  await createTopic(broker.bootstrap, topic, { partitions: 1 });
  const sent: OutRecord[] = [];
  for (const [n, compression] of COMPRESSION_NAMES.entries()) {
    const before = compressionStats.batches_compressed;
    const producer = new BuiltinProducer(sinkConfig({ compression }), silentLogger());
    const batch = records(topic, 200, n * 200);
    await producer.send(batchOf(batch));
    await producer.disconnect();
    sent.push(...batch);
    const compressed = compressionStats.batches_compressed - before;
    assert.equal(compressed, compression === 'none' ? 0 : 1, `${compression}: one batch compressed`);
  }
  const java = await consoleConsume({
    bootstrap: broker.bootstrap,
    topic,
    maxMessages: sent.length,
    printKey: true,
    timeoutMs: 20_000,
  });
  assert.deepEqual(
    java,
    sent.map((r) => `${r.key}\t${r.value}`),
  );
});

test('SASL_SSL + SCRAM-SHA-512 with the CA delivers; a wrong password is auth_failed naming the user', async () => {
  const bootstrap = broker.bootstrapFor('SASL_SSL');
  const client: ClientConfig = {
    ssl: { ca: [readFileSync(tls.caCert, 'utf8')] },
    sasl: { mechanism: 'scram-sha-512', username: 'bob', password: PASSWORD },
  };
  const topic = uniqueTopic('plt-sasl');
  await createTopic(bootstrap, topic, { partitions: 1, client });
  const secure = { brokers: [bootstrap], tls: { ca_file: tls.caCert } };
  const producer = new BuiltinProducer(
    sinkConfig({ ...secure, sasl: { mechanism: 'scram-sha-512', username: 'bob', password: PASSWORD } }),
    silentLogger(),
  );
  await producer.connect();
  await producer.send(batchOf(records(topic, 3)));
  await producer.disconnect();
  const got = await consumeAll({ bootstrap, topic, expected: 3, timeoutMs: 30_000, client });
  assert.deepEqual(
    got.map((m) => JSON.parse(m.value as string).seq),
    [0, 1, 2],
  );

  const wrong = new BuiltinProducer(
    sinkConfig({ ...secure, sasl: { mechanism: 'scram-sha-512', username: 'bob', password: 'nope' } }),
    silentLogger(),
  );
  const err = await wrong.connect().then(
    () => assert.fail('must not authenticate'),
    (e: unknown) => e as Error,
  );
  assert.ok(err instanceof BrokerAuthError, String(err));
  assert.match(err.message, /SASL scram-sha-512 authentication of user bob failed/);
  assert.doesNotMatch(err.message, /nope/);
  const classified = await failureOf(wrong.send(batchOf(records(topic, 1))));
  assert.equal(classified.reason, 'auth_failed');
  assert.equal(classified.disposition, 'retry');
  await wrong.disconnect();
});

test('SASL sessions the broker limits (connections.max.reauth.ms) are renewed before they lapse: a batch every 20 ms across two expiries, none fails', async () => {
  const topic = uniqueTopic('plt-reauth');
  await createTopic(broker.bootstrap, topic, { partitions: 1 });
  const producer = new BuiltinProducer(
    sinkConfig({
      brokers: [broker.bootstrapFor('REAUTH')],
      sasl: { mechanism: 'scram-sha-512', username: 'bob', password: PASSWORD },
    }),
    silentLogger(),
  );
  await producer.connect();
  // Batches every 20 ms for 7.5 s, across two expiries. No Sender here: a send that fails fails
  // the test, so a session that lapsed under a request, or a connection the broker killed with
  // requests in flight, would show.
  let n = 0;
  const until = Date.now() + 7_500;
  while (Date.now() < until) {
    await producer.send(batchOf(records(topic, 5, n)));
    n += 5;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await producer.disconnect();
  const got = await consumeAll({ bootstrap: broker.bootstrap, topic, expected: n, timeoutMs: 30_000 });
  assert.deepEqual(
    got.map((m) => JSON.parse(m.value as string).seq),
    Array.from({ length: n }, (_, i) => i),
  );
});

test('TLS: a server name the certificate does not carry is tls_failed', async () => {
  const producer = new BuiltinProducer(
    sinkConfig({
      brokers: [broker.bootstrapFor('SASL_SSL')],
      tls: { ca_file: tls.caCert, server_name: 'not-the-broker.example' },
      sasl: { mechanism: 'scram-sha-512', username: 'bob', password: PASSWORD },
    }),
    silentLogger(),
  );
  const classified = await failureOf(producer.send(batchOf(records('unused', 1))));
  assert.equal(classified.reason, 'tls_failed');
  assert.ok(classified.error instanceof BrokerUnreachableError);
  assert.match(classified.error.message, /TLS: .*check sink\.kafka\.tls\.ca_file and server_name/);
  await producer.disconnect();
});

test('nothing listening: broker_unreachable naming the address, within the short retries', async () => {
  const [port] = await freePorts(1);
  const producer = new BuiltinProducer(sinkConfig({ brokers: [`127.0.0.1:${port}`] }), silentLogger());
  const started = Date.now();
  const err = await producer.connect().then(
    () => assert.fail('nothing listens there'),
    (e: unknown) => e as Error,
  );
  assert.ok(err instanceof BrokerUnreachableError, String(err));
  assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port} .*ECONNREFUSED`));
  assert.ok(Date.now() - started < 10_000, `gave up after ${Date.now() - started} ms`);
  const classified = await failureOf(producer.send(batchOf(records('unused', 1))));
  assert.equal(classified.reason, 'broker_unreachable');
  await producer.disconnect();
});

test('missing topic with auto-creation off: unknown_topic, retried', async () => {
  const missing = uniqueTopic('plt-missing');
  const producer = new BuiltinProducer(sinkConfig({ topic: missing }), silentLogger());
  await producer.connect();
  const classified = await failureOf(producer.send(batchOf(records(missing, 1))));
  assert.equal(classified.reason, 'unknown_topic');
  assert.equal(classified.disposition, 'retry');
  assert.ok(classified.error instanceof TopicError);
  await producer.disconnect();
});

test("a record over the topic's max.message.bytes: message_too_large, permanent", async () => {
  const small = uniqueTopic('plt-small');
  await createTopic(broker.bootstrap, small, { partitions: 1, configs: { 'max.message.bytes': '2000' } });
  const producer = new BuiltinProducer(sinkConfig({ compression: 'none' }), silentLogger());
  await producer.connect();
  const big: OutRecord = { topic: small, key: 'k', value: 'x'.repeat(5000), chunk };
  const classified = await failureOf(producer.send(batchOf([big])));
  assert.equal(classified.reason, 'message_too_large');
  assert.equal(classified.disposition, 'permanent');
  assert.ok(classified.error instanceof MessageTooLargeError);
  // The producer is still usable afterwards.
  await producer.send(batchOf(records(small, 2)));
  await producer.disconnect();
  const got = await consumeAll({ bootstrap: broker.bootstrap, topic: small, expected: 2 });
  assert.equal(got.length, 2);
});
