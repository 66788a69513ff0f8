// The harness can start brokers with secured listeners: SASL_SSL with SCRAM users, and mTLS.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { type ClientConfig, consumeAll, createTopic } from '../kafka/consume.ts';
import { type KafkaBroker, startBroker, uniqueTopic } from '../kafka/index.ts';
import {
  makeTlsMaterial,
  scramListenerProperties,
  type TlsMaterial,
  tlsListenerProperties,
} from '../kafka/tls.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

let dir: string;
let tls: TlsMaterial;
let broker: KafkaBroker;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'logferry-tls-'));
  tls = await makeTlsMaterial(dir);
  broker = await startBroker({
    listeners: [
      { name: 'SASL_SSL', securityProtocol: 'SASL_SSL' },
      { name: 'MTLS', securityProtocol: 'SSL' },
    ],
    scramUsers: [
      { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret' },
      { mechanism: 'SCRAM-SHA-512', username: 'bob', password: 'bob-secret' },
    ],
    serverProperties: {
      ...tlsListenerProperties('SASL_SSL', tls),
      ...scramListenerProperties('SASL_SSL'),
      ...tlsListenerProperties('MTLS', tls, { clientAuth: 'required' }),
    },
  });
});

after(async () => {
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
});

function ca(): string {
  return readFileSync(tls.caCert, 'utf8');
}

async function roundTrip(bootstrap: string, config: ClientConfig): Promise<void> {
  const topic = uniqueTopic('secure');
  await createTopic(bootstrap, topic, { partitions: 1, client: config });
  const producer = new Kafka({ ...config, brokers: [bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'a', value: 'one' },
        { key: 'b', value: 'two' },
      ],
    });
  } finally {
    await producer.disconnect();
  }
  const got = await consumeAll({ bootstrap, topic, expected: 2, timeoutMs: 30_000, client: config });
  assert.deepEqual(
    got.map((m) => m.value),
    ['one', 'two'],
  );
}

async function connectFails(config: KafkaConfig): Promise<Error> {
  const admin = new Kafka({ ...config, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (err) {
    return err as Error;
  } finally {
    await admin.disconnect().catch(() => {});
  }
  assert.fail('connection should have been refused');
}

test('SASL_SSL listener: SCRAM-SHA-256 and SCRAM-SHA-512 users from format time can produce and consume', async () => {
  const bootstrap = broker.bootstrapFor('SASL_SSL');
  assert.notEqual(bootstrap, broker.bootstrap);
  await roundTrip(bootstrap, {
    ssl: { ca: ca() },
    sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'alice-secret' },
  });
  await roundTrip(bootstrap, {
    ssl: { ca: ca() },
    sasl: { mechanism: 'scram-sha-512', username: 'bob', password: 'bob-secret' },
  });
});

test('SASL_SSL listener: a wrong password is refused', async () => {
  const err = await connectFails({
    brokers: [broker.bootstrapFor('SASL_SSL')],
    ssl: { ca: ca() },
    sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'wrong' },
  });
  assert.match(err.name, /SASLAuthentication/);
});

test('mTLS listener: a client certificate from the CA gets in, a client without one does not', async () => {
  const bootstrap = broker.bootstrapFor('MTLS');
  await roundTrip(bootstrap, {
    ssl: { ca: ca(), cert: readFileSync(tls.clientCert, 'utf8'), key: readFileSync(tls.clientKey, 'utf8') },
  });
  await connectFails({ brokers: [bootstrap], ssl: { ca: ca() }, connectionTimeout: 3000 });
});
