import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import kafkajs from 'kafkajs';
import {
  BrokerAuthError,
  BrokerUnreachableError,
  ConfigError,
  MessageTooLargeError,
  SendError,
  TopicError,
} from '../../../src/model/errors.ts';
import type { LineChunk } from '../../../src/model/line-chunk.ts';
import { silentLogger } from '../../../src/observe/logger.ts';
import {
  BuiltinProducer,
  connectionSettings,
  javaPartition,
  murmur2,
} from '../../../src/sink/builtin-producer.ts';
import { type ClassifyContext, classifySendError, ProducerFailure } from '../../../src/sink/classify.ts';
import type { Batch } from '../../../src/sink/producer-port.ts';
import type { KafkaSinkConfig } from '../../../src/sink/sink-config.ts';
import { brokerError, WireError } from '../../../src/sink/wire/protocol.ts';
import { kafkaSinkConfig } from '../../support/sink-config.ts';
import { int32, metadataAnswer, reply, startFakeBroker, str } from './wire/fake-broker.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-builtin-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PEM = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function sink(extra: Record<string, unknown>): KafkaSinkConfig {
  return kafkaSinkConfig({
    brokers: ['kafka-1:9093', 'kafka-2:9093'],
    topic: 'logs',
    client: 'builtin',
    ...extra,
  });
}

const settings = (extra: Record<string, unknown>) => connectionSettings(sink(extra));

// --- partitioning -------------------------------------------------------------------------------

test('murmur2 gives the values of Java Utils.murmur2 (Kafka UtilsTest vectors)', () => {
  const cases: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, hash] of cases) assert.equal(murmur2(Buffer.from(key)), hash, key);
});

test("same key, same partition as kafkajs's default partitioner, for 5,000 keys and 1-64 partitions", () => {
  const kafkajsPartitioner = kafkajs.Partitioners.DefaultPartitioner();
  let negative = 0;
  for (let i = 0; i < 5000; i++) {
    // Lengths 0-40 (every remainder mod 4), ASCII and multi-byte UTF-8.
    const key = `${i % 3 === 0 ? 'hôst-' : 'h'}${i.toString(36)}${'x'.repeat(i % 29)}`.slice(0, i % 41);
    const bytes = Buffer.from(key);
    if (murmur2(bytes) < 0) negative++;
    for (const partitions of [1, 3, 6, 7, 12, 64]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, p) => ({
        partitionId: p,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [0],
        isr: [0],
      }));
      const expected = kafkajsPartitioner({ topic: 't', partitionMetadata, message: { key, value: '' } });
      assert.equal(javaPartition(bytes, partitions), expected, `key "${key}", ${partitions} partitions`);
    }
  }
  assert.ok(negative > 1000, 'keys with a negative hash are covered');
});

test('javaPartition masks the sign bit, so a negative hash still gives a partition in range', () => {
  const key = Buffer.from('foobar'); // hash -790332482
  assert.ok(murmur2(key) < 0);
  assert.equal(javaPartition(key, 6), (-790332482 & 0x7fffffff) % 6);
  for (let i = 0; i < 500; i++) {
    const p = javaPartition(Buffer.from(`key-${i}`), 7);
    assert.ok(Number.isInteger(p) && p >= 0 && p < 7, `key-${i}: ${p}`);
  }
});

// --- connection settings ------------------------------------------------------------------------

test('defaults: client id, timeouts, plaintext, no SASL, no SNI', () => {
  const s = settings({});
  assert.equal(s.clientId, 'logferry');
  assert.equal(s.connectTimeoutMs, 3000);
  assert.equal(s.requestTimeoutMs, 30_000);
  assert.equal(s.tls, undefined);
  assert.equal(s.sasl, undefined);
  assert.equal(s.sni, false);
});

test('client id and timeouts are passed through', () => {
  const s = settings({ client_id: 'edge-7', connection_timeout_ms: 1234, request_timeout_ms: 5678 });
  assert.equal(s.clientId, 'edge-7');
  assert.equal(s.connectTimeoutMs, 1234);
  assert.equal(s.requestTimeoutMs, 5678);
});

test('more than five in flight with the idempotent producer is a ConfigError naming the key', () => {
  assert.throws(
    () => settings({ max_in_flight_requests: 6 }),
    (e: unknown) => e instanceof ConfigError && /sink\.kafka\.max_in_flight_requests is 6/.test(e.message),
  );
  assert.doesNotThrow(() => settings({ max_in_flight_requests: 5 }));
  // Not idempotent (switched off, or acks below all): any number is allowed.
  assert.doesNotThrow(() => settings({ max_in_flight_requests: 6, idempotent: false }));
  assert.doesNotThrow(() => settings({ max_in_flight_requests: 6, acks: 1 }));
});

test('TLS: CA, mTLS pair, passphrase, server name and verify as node:tls options; no SNI from the host then', () => {
  const s = settings({
    tls: {
      ca_file: file('ca.pem', PEM),
      cert_file: file('c.pem', PEM),
      key_file: file('k.pem', PEM),
      key_password_file: file('kp', 'pass-phrase\n'),
      server_name: 'kafka.internal',
    },
  });
  const t = s.tls as Record<string, unknown>;
  assert.equal(t['ca'], PEM);
  assert.equal(t['cert'], PEM);
  assert.equal(t['key'], PEM);
  assert.equal(t['passphrase'], 'pass-phrase');
  assert.equal(t['servername'], 'kafka.internal');
  assert.equal(t['rejectUnauthorized'], true);
  assert.equal(s.sni, false, 'the configured name is the SNI, not the host');
  const noVerify = settings({ tls: { verify: false } }).tls as Record<string, unknown>;
  assert.equal(noVerify['rejectUnauthorized'], false);
  assert.equal(settings({ tls: { enabled: false } }).tls, undefined);
  assert.equal(settings({ tls: { enabled: false } }).sni, false);
});

test('TLS without server_name: SNI on (the host name), with no servername option of its own', () => {
  const s = settings({ tls: {} });
  assert.equal(s.sni, true);
  assert.equal((s.tls as Record<string, unknown>)['servername'], undefined);
  assert.equal((s.tls as Record<string, unknown>)['ca'], undefined, 'no CA file: the system store');
});

test('an unreadable CA file is a ConfigError naming the key and the errno', () => {
  assert.throws(
    () => settings({ tls: { ca_file: join(dir, 'missing.pem') } }),
    (e: unknown) => e instanceof ConfigError && /sink\.kafka\.tls\.ca_file .*ENOENT/.test(e.message),
  );
  assert.throws(
    () => settings({ tls: { ca_file: file('not-pem.txt', 'hello') } }),
    (e: unknown) => e instanceof ConfigError && /not a PEM file/.test(e.message),
  );
});

test('SASL: plain, scram-sha-256 and scram-sha-512 with the password from a file', () => {
  const passwordFile = file('pw', 's3cret\n');
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
    const s = settings({ sasl: { mechanism, username: 'alice', password_file: passwordFile } });
    assert.deepEqual(s.sasl, { mechanism, username: 'alice', password: 's3cret' });
  }
  assert.throws(
    () => settings({ sasl: { username: 'alice' } }),
    (e: unknown) => e instanceof ConfigError && /no password for user alice/.test(e.message),
  );
  assert.throws(
    () => settings({ sasl: { username: 'alice', password_file: join(dir, 'no-such-pw') } }),
    (e: unknown) => e instanceof ConfigError && /password_file .*ENOENT/.test(e.message),
  );
});

test('constructing the producer opens no connection', { timeout: 5000 }, async () => {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    const p = new BuiltinProducer(
      sink({ brokers: [`127.0.0.1:${port}`], max_in_flight_requests: 3 }),
      silentLogger(),
    );
    assert.equal(p.maxInFlight, 3);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(connections, 0);
    await p.disconnect();
    assert.equal(connections, 0, 'disconnect before connect opens nothing either');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('constructing the producer checks the settings (ConfigError before any connection)', () => {
  assert.throws(
    () => new BuiltinProducer(sink({ max_in_flight_requests: 6 }), silentLogger()),
    (e: unknown) => e instanceof ConfigError,
  );
});

// --- errors, each in the shape the wire code builds it -----------------------------------------

const BROKERS = ['kafka-1:9093'];

function classify(err: unknown, context: ClassifyContext = {}) {
  return classifySendError(err, BROKERS, 'logs', context);
}

/** As connection.ts builds a socket failure: the address and the cause's message, the cause kept. */
function connectionError(detail: string, cause?: Error): WireError {
  return new WireError('KafkaJSConnectionError', `kafka-1:9093: ${detail}`, undefined, { cause });
}

test('connection refused: broker_unreachable with the cause', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
  const c = classify(connectionError(refused.message, refused));
  assert.equal(c.reason, 'broker_unreachable');
  assert.equal(c.disposition, 'retry');
  assert.ok(c.error instanceof BrokerUnreachableError);
  assert.match(c.error.message, /ECONNREFUSED 127\.0\.0\.1:9/);
});

test('connection timeout and a connection closed by the broker: broker_unreachable', () => {
  const timeout = classify(connectionError('Connection timeout'));
  assert.equal(timeout.reason, 'broker_unreachable');
  assert.ok(timeout.error instanceof BrokerUnreachableError);
  assert.equal(classify(connectionError('Connection closed by the broker')).reason, 'broker_unreachable');
  assert.equal(
    classify(new WireError('KafkaJSBrokerNotFound', "broker 7 is not in the cluster's metadata")).reason,
    'broker_unreachable',
  );
});

test('request timed out: request_timeout, retried', () => {
  const c = classify(new WireError('KafkaJSRequestTimeoutError', 'Request timed out'));
  assert.equal(c.reason, 'request_timeout');
  assert.equal(c.disposition, 'retry');
  assert.ok(c.error instanceof SendError);
});

test('MESSAGE_TOO_LARGE and RECORD_LIST_TOO_LARGE: message_too_large, permanent', () => {
  for (const code of [10, 18]) {
    const c = classify(brokerError(code, 'produce to logs-0', 'the batch is too large'));
    assert.equal(c.reason, 'message_too_large', String(code));
    assert.equal(c.disposition, 'permanent');
    assert.ok(c.error instanceof MessageTooLargeError);
  }
});

test('UNKNOWN_TOPIC_OR_PARTITION (produce answer or metadata): unknown_topic, retried', () => {
  for (const err of [brokerError(3, 'produce to logs-0'), brokerError(3, 'metadata of topic logs')]) {
    const c = classify(err);
    assert.equal(c.reason, 'unknown_topic');
    assert.equal(c.disposition, 'retry');
    assert.ok(c.error instanceof TopicError);
  }
});

test('a wrong SASL password: auth_failed naming mechanism and user', () => {
  const context = { sasl: { mechanism: 'scram-sha-512', username: 'bob' } };
  const err = brokerError(
    58,
    'SASL authentication',
    'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
  );
  const c = classify(err, context);
  assert.equal(c.reason, 'auth_failed');
  assert.equal(c.disposition, 'retry');
  assert.ok(c.error instanceof BrokerAuthError);
  assert.match(c.error.message, /SASL scram-sha-512 authentication of user bob failed at kafka-1:9093/);
  // A server signature that does not match (sasl.ts's ScramClient), and an unsupported mechanism.
  const scram = new WireError(
    'KafkaJSSASLAuthenticationError',
    "SCRAM: the server's signature does not match",
    'SASL_AUTHENTICATION_FAILED',
  );
  assert.equal(classify(scram, context).reason, 'auth_failed');
  assert.equal(classify(brokerError(33, 'SASL handshake for SCRAM-SHA-512'), context).reason, 'auth_failed');
});

test('TOPIC_AUTHORIZATION_FAILED: not_authorized naming the user', () => {
  const c = classify(brokerError(29, 'produce to logs-0'), {
    sasl: { mechanism: 'plain', username: 'carol' },
  });
  assert.equal(c.reason, 'not_authorized');
  assert.equal(c.disposition, 'retry');
  assert.ok(c.error instanceof BrokerAuthError);
  assert.match(c.error.message, /user carol is not authorised to write to topic logs/);
});

test('a certificate the CA did not sign, with TLS on: tls_failed', () => {
  const cause = Object.assign(new Error('unable to verify the first certificate'), {
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });
  const c = classify(connectionError(cause.message, cause), { tls: true });
  assert.equal(c.reason, 'tls_failed');
  assert.ok(c.error instanceof BrokerUnreachableError);
  assert.match(c.error.message, /TLS: .*unable to verify the first certificate/);
  const selfSigned = new Error('self-signed certificate in certificate chain');
  assert.equal(classify(connectionError(selfSigned.message, selfSigned), { tls: true }).reason, 'tls_failed');
});

test('a broker too old for the built-in client (UNSUPPORTED_VERSION): unsupported_broker, retried, naming Kafka 2.4 and kafkajs', () => {
  const policy = classify(
    new WireError(
      'KafkaJSProtocolError',
      'the broker at kafka-1:9093 speaks Produce v0-v7, logferry sends v8',
      'UNSUPPORTED_VERSION',
    ),
  );
  assert.equal(policy.reason, 'unsupported_broker');
  assert.equal(policy.disposition, 'retry');
  assert.ok(policy.error instanceof SendError);
  assert.match(policy.error.message, /^the broker at kafka-1:9093 speaks Produce v0-v7, logferry sends v8: /);
  assert.match(policy.error.message, /Kafka 2\.4 or later.*sink\.kafka\.client: kafkajs/);
});

test('anything else: send_failed, retried', () => {
  const policy = classify(brokerError(44, 'produce to logs-0'));
  assert.equal(policy.reason, 'send_failed');
  assert.equal(policy.disposition, 'retry');
  assert.ok(policy.error instanceof SendError);
  assert.match(policy.error.message, /POLICY_VIOLATION/);
  assert.equal(classify(new Error('something new')).reason, 'send_failed');
  assert.equal(classify(undefined).reason, 'send_failed');
});

// --- the idempotent producer's state, against a fake broker ------------------------------------

test('OUT_OF_ORDER_SEQUENCE_NUMBER: a new producer id is asked for, and the batch sent again carries it, from sequence 0', {
  timeout: 10_000,
}, async () => {
  const produced: { producerId: bigint; epoch: number; baseSequence: number; count: number }[] = [];
  let ids = 0;
  const broker = await startFakeBroker({
    onRequest: (req) => {
      if (req.apiKey === 3) reply(req, metadataAnswer(1, broker.port, ['logs']));
      else if (req.apiKey === 22) {
        ids++;
        const answer = Buffer.alloc(16);
        answer.writeInt32BE(0, 0); // throttle
        answer.writeInt16BE(0, 4);
        answer.writeBigInt64BE(BigInt(1000 * ids), 6);
        answer.writeInt16BE(0, 14);
        reply(req, answer);
      } else if (req.apiKey === 0) {
        // transactional id (-1), acks, timeout, 1 topic, its name, 1 partition, index, then the batch.
        const nameLength = req.body.readInt16BE(12);
        const batch = req.body.subarray(14 + nameLength + 12);
        const sent = {
          producerId: batch.readBigInt64BE(43),
          epoch: batch.readInt16BE(51),
          baseSequence: batch.readInt32BE(53),
          count: batch.readInt32BE(57),
        };
        produced.push(sent);
        // The second batch of the first producer id is refused once, as a broker that lost our state.
        const code = produced.length === 2 ? 45 : 0;
        const name = str('logs');
        const partition = Buffer.alloc(4 + 2 + 8 + 8 + 8 + 4);
        partition.writeInt16BE(code, 4);
        partition.writeInt32BE(0, 30); // no record errors
        reply(req, Buffer.concat([int32(1), name, int32(1), partition, str(null), int32(0)]));
      }
    },
  });
  const producer = new BuiltinProducer(
    sink({ brokers: [`127.0.0.1:${broker.port}`], compression: 'none' }),
    silentLogger(),
  );
  try {
    await producer.connect();
    const chunk = {} as LineChunk;
    const batch = (n: number, from: number): Batch => {
      const records = Array.from({ length: n }, (_, i) => ({
        topic: 'logs',
        key: 'k',
        value: `v${from + i}`,
        chunk,
      }));
      return { topic: 'logs', records, bytes: n * 3 };
    };
    await producer.send(batch(3, 0));
    const second = batch(2, 3);
    const failure = await producer.send(second).then(
      () => assert.fail('the refused batch must fail'),
      (e: unknown) => e as ProducerFailure,
    );
    assert.ok(failure instanceof ProducerFailure);
    assert.equal(failure.classified.disposition, 'retry');
    assert.match(failure.classified.error.message, /OUT_OF_ORDER_SEQUENCE_NUMBER/);
    assert.equal(ids, 2, 'a new producer id was asked for');
    // The Sender sends the same batch object again.
    await producer.send(second);
    await producer.send(batch(1, 5));
    assert.deepEqual(produced, [
      { producerId: 1000n, epoch: 0, baseSequence: 0, count: 3 },
      { producerId: 1000n, epoch: 0, baseSequence: 3, count: 2 },
      { producerId: 2000n, epoch: 0, baseSequence: 0, count: 2 },
      { producerId: 2000n, epoch: 0, baseSequence: 2, count: 1 },
    ]);
  } finally {
    await producer.disconnect();
    await broker.close();
  }
});
