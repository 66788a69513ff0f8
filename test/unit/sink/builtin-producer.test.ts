import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  AuthenticationError,
  compatibilityPartitioner,
  defaultPartitioner,
  MultipleErrors,
  NetworkError,
  ResponseError,
  TimeoutError,
  UserError,
} from '@platformatic/kafka';
import { Value } from '@sinclair/typebox/value';
import kafkajs from 'kafkajs';
import {
  BrokerAuthError,
  BrokerUnreachableError,
  ConfigError,
  MessageTooLargeError,
  SendError,
  TopicError,
} from '../../../src/model/errors.ts';
import { silentLogger } from '../../../src/observe/logger.ts';
import { classifySendError } from '../../../src/sink/classify.ts';
import {
  javaPartition,
  murmur2,
  PlatformaticProducer,
  platformaticOptions,
  toClassifiable,
} from '../../../src/sink/platformatic-producer.ts';
import { type KafkaSinkConfig, KafkaSinkSchema } from '../../../src/sink/sink-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-plt-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PEM = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function sink(extra: Record<string, unknown>): KafkaSinkConfig {
  const v = Value.Default(KafkaSinkSchema, {
    brokers: ['kafka-1:9093', 'kafka-2:9093'],
    topic: 'logs',
    client: 'platformatic',
    ...extra,
  });
  assert.ok(Value.Check(KafkaSinkSchema, v), JSON.stringify([...Value.Errors(KafkaSinkSchema, v)][0]));
  return v as KafkaSinkConfig;
}

const options = (extra: Record<string, unknown>) => platformaticOptions(sink(extra), silentLogger());

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

test("the library's own default partitioner would differ for negative hashes; ours matches its compatibility one", () => {
  const key = Buffer.from('foobar'); // hash -790332482
  assert.notEqual(defaultPartitioner({ topic: 't', key }, key) % 6, javaPartition(key, 6));
  for (let i = 0; i < 500; i++) {
    const k = Buffer.from(`key-${i}`);
    assert.equal(compatibilityPartitioner({ topic: 't', key: k }, k) % 7, javaPartition(k, 7));
  }
});

// --- settings -----------------------------------------------------------------------------------

test('defaults: brokers, client id, acks all, idempotent, timeouts, zstd, auto-creation, short retries', () => {
  const o = options({});
  assert.deepEqual(o.bootstrapBrokers, ['kafka-1:9093', 'kafka-2:9093']);
  assert.equal(o.clientId, 'logferry');
  assert.equal(o.acks, -1);
  assert.equal(o.idempotent, true);
  assert.equal(o.connectTimeout, 3000);
  assert.equal(o.requestTimeout, 30_000);
  assert.equal(o.timeout, 30_000);
  assert.equal(o.maxInflights, 5);
  assert.equal(o.compression, 'zstd');
  assert.equal(o.autocreateTopics, true);
  assert.equal(o.retries, 3, 'not the idempotent default of retrying forever');
  assert.equal(o.tls, undefined);
  assert.equal(o.sasl, undefined);
});

test('acks 1 and 0 map to the leader and no answer, and turn idempotence off as for kafkajs', () => {
  const one = options({ acks: 1 });
  assert.equal(one.acks, 1);
  assert.equal(one.idempotent, false);
  const zero = options({ acks: 0, idempotent: true });
  assert.equal(zero.acks, 0);
  assert.equal(zero.idempotent, false);
  assert.equal(options({ idempotent: false }).idempotent, false);
});

test('client id, timeouts, in-flight requests and every codec are passed through', () => {
  const o = options({
    client_id: 'edge-7',
    connection_timeout_ms: 1234,
    request_timeout_ms: 5678,
    idempotent: false,
    max_in_flight_requests: 4,
  });
  assert.equal(o.clientId, 'edge-7');
  assert.equal(o.connectTimeout, 1234);
  assert.equal(o.requestTimeout, 5678);
  assert.equal(o.timeout, 5678);
  assert.equal(o.maxInflights, 4);
  for (const c of ['none', 'gzip', 'snappy', 'lz4', 'zstd'])
    assert.equal(options({ compression: c }).compression, c);
});

test('more than five batches in flight with the idempotent producer is a ConfigError naming the key', () => {
  assert.throws(
    () => options({ max_in_flight_requests: 6 }),
    (e: unknown) => e instanceof ConfigError && /sink\.kafka\.max_in_flight_requests is 6/.test(e.message),
  );
  assert.equal(options({ max_in_flight_requests: 5 }).maxInflights, 5);
});

test('TLS: CA, mTLS pair, passphrase, server name and verify as node:tls options', () => {
  const o = options({
    tls: {
      ca_file: file('ca.pem', PEM),
      cert_file: file('c.pem', PEM),
      key_file: file('k.pem', PEM),
      key_password_file: file('kp', 'pass-phrase\n'),
      server_name: 'kafka.internal',
    },
  });
  const t = o.tls as Record<string, unknown>;
  assert.equal(t['ca'], PEM);
  assert.equal(t['cert'], PEM);
  assert.equal(t['key'], PEM);
  assert.equal(t['passphrase'], 'pass-phrase');
  assert.equal(t['servername'], 'kafka.internal');
  assert.equal(t['rejectUnauthorized'], true);
  assert.equal(o.tlsServerName, undefined, 'the configured name, not the host');
  const noVerify = options({ tls: { verify: false } }).tls as Record<string, unknown>;
  assert.equal(noVerify['rejectUnauthorized'], false);
  assert.equal(options({ tls: { enabled: false } }).tls, undefined);
});

test('TLS without server_name: SNI is the host name as kafkajs sends it, none for IP addresses', () => {
  assert.equal(options({ tls: {} }).tlsServerName, true);
  assert.equal(options({ brokers: ['127.0.0.1:9093', '[::1]:9093'], tls: {} }).tlsServerName, false);
});

test('an unreadable CA file is the same ConfigError as for kafkajs', () => {
  assert.throws(
    () => options({ tls: { ca_file: join(dir, 'missing.pem') } }),
    (e: unknown) => e instanceof ConfigError && /sink\.kafka\.tls\.ca_file .*ENOENT/.test(e.message),
  );
});

test('SASL: plain, scram-sha-256 and scram-sha-512 with the password from a file', () => {
  const passwordFile = file('pw', 's3cret\n');
  for (const [mechanism, expected] of [
    ['plain', 'PLAIN'],
    ['scram-sha-256', 'SCRAM-SHA-256'],
    ['scram-sha-512', 'SCRAM-SHA-512'],
  ]) {
    const o = options({ sasl: { mechanism, username: 'alice', password_file: passwordFile } });
    assert.deepEqual(o.sasl, { mechanism: expected, username: 'alice', password: 's3cret' });
  }
  assert.throws(
    () => options({ sasl: { username: 'alice' } }),
    (e: unknown) => e instanceof ConfigError && /no password for user alice/.test(e.message),
  );
});

test('constructing the producer loads no library and opens no connection', () => {
  const p = new PlatformaticProducer(sink({}), silentLogger());
  assert.ok(p);
});

// --- errors, each in the shape the library builds it -----------------------------------------

const BROKERS = ['kafka-1:9093'];
const PRODUCE = 0;

function classify(err: unknown, context = {}) {
  return classifySendError(toClassifiable(err), BROKERS, 'logs', context);
}

/** A produce answer with `code` for one partition, as the library's ResponseError holds it. */
function produceError(code: number): ResponseError {
  return new ResponseError(PRODUCE, 11, { '/responses/0/partitionResponses/0': [code, null] }, {});
}

test('connection refused (retried, then MultipleErrors of NetworkErrors): broker_unreachable with the cause', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
  const once = new NetworkError('Connection to 127.0.0.1:9 failed.', { cause: refused });
  const err = new MultipleErrors('metadata failed 4 times.', [once, once, once, once]);
  const c = classify(err);
  assert.equal(c.reason, 'broker_unreachable');
  assert.equal(c.disposition, 'retry');
  assert.ok(c.error instanceof BrokerUnreachableError);
  assert.match(c.error.message, /Connection to 127\.0\.0\.1:9 failed\. connect ECONNREFUSED/);
});

test('connection timed out: broker_unreachable', () => {
  const c = classify(new TimeoutError('Connection to 10.0.0.1:9092 timed out.', { canRetry: true }));
  assert.equal(c.reason, 'broker_unreachable');
});

test('request timed out: request_timeout', () => {
  const timedOut = new TimeoutError('Request timed out', { canRetry: true });
  const c = classify(new MultipleErrors('produce failed 4 times.', [timedOut, timedOut]));
  assert.equal(c.reason, 'request_timeout');
  assert.ok(c.error instanceof SendError);
});

test('MESSAGE_TOO_LARGE and RECORD_LIST_TOO_LARGE: message_too_large, permanent', () => {
  for (const code of [10, 18]) {
    const c = classify(produceError(code));
    assert.equal(c.reason, 'message_too_large');
    assert.equal(c.disposition, 'permanent');
    assert.ok(c.error instanceof MessageTooLargeError);
  }
});

test('UNKNOWN_TOPIC_OR_PARTITION in a produce answer, and the library\'s "Unknown topic" from metadata: unknown_topic', () => {
  const fromProduce = classify(new MultipleErrors('produce failed 4 times.', [produceError(3)]));
  assert.equal(fromProduce.reason, 'unknown_topic');
  const fromMetadata = classify(new UserError('Unknown topic logs.'));
  assert.equal(fromMetadata.reason, 'unknown_topic');
  assert.equal(fromMetadata.disposition, 'retry');
  assert.ok(fromMetadata.error instanceof TopicError);
});

test('a wrong SASL password: auth_failed naming mechanism and user', () => {
  const answer = new ResponseError(36, 2, { '': [58, 'Authentication failed during authentication'] }, {});
  const auth = new AuthenticationError('SASL authentication failed.', { cause: answer });
  const err = new NetworkError('Connection to kafka-1:9093 failed.', { cause: auth });
  const c = classify(new MultipleErrors('metadata failed 1 times.', [err]), {
    sasl: { mechanism: 'scram-sha-512', username: 'bob' },
  });
  assert.equal(c.reason, 'auth_failed');
  assert.ok(c.error instanceof BrokerAuthError);
  assert.match(c.error.message, /SASL scram-sha-512 authentication of user bob failed at kafka-1:9093/);
  assert.equal(
    classify(new AuthenticationError('Cannot find a suitable SASL mechanism.')).reason,
    'auth_failed',
  );
});

test('TOPIC_AUTHORIZATION_FAILED: not_authorized', () => {
  assert.equal(classify(produceError(29)).reason, 'not_authorized');
});

test('a certificate the CA did not sign, with TLS on: tls_failed', () => {
  const cause = Object.assign(new Error('unable to verify the first certificate'), {
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });
  const c = classify(new NetworkError('Connection to kafka-1:9093 failed.', { cause }), { tls: true });
  assert.equal(c.reason, 'tls_failed');
  assert.match(c.error.message, /TLS: .*unable to verify the first certificate/);
});

test('anything else: send_failed, retried', () => {
  const c = classify(new Error('something new'));
  assert.equal(c.reason, 'send_failed');
  assert.equal(c.disposition, 'retry');
  assert.equal(classify(undefined).reason, 'send_failed');
});
