import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { ConfigError } from '../../../src/model/errors.ts';
import { silentLogger } from '../../../src/observe/logger.ts';
import { kafkaClientConfig, securityProtocol } from '../../../src/sink/kafka-client.ts';
import { KafkaProducer } from '../../../src/sink/kafka-producer.ts';
import type { ProducerPort } from '../../../src/sink/producer-port.ts';
import type { KafkaSinkConfig } from '../../../src/sink/sink-config.ts';
import { kafkaSinkConfig } from '../../support/sink-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-kc-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PEM = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function sink(extra: Record<string, unknown>): KafkaSinkConfig {
  return kafkaSinkConfig({ brokers: ['a:9093', 'b:9093'], topic: 'logs', ...extra });
}

test('defaults: plaintext, every bootstrap broker, client id, timeouts, five batches in flight', () => {
  const c = sink({});
  assert.equal(c.max_in_flight_requests, 5);
  assert.equal(c.max_message_bytes, 1_048_576);
  const k = kafkaClientConfig(c, silentLogger());
  assert.deepEqual(k.brokers, ['a:9093', 'b:9093']);
  assert.equal(k.clientId, 'logferry');
  assert.equal(k.requestTimeout, 30_000);
  assert.equal(k.ssl, undefined);
  assert.equal(k.sasl, undefined);
  assert.equal(securityProtocol(c), 'PLAINTEXT');
});

test('tls with CA, mTLS pair, SNI and an encrypted-key passphrase from a file', () => {
  const c = sink({
    tls: {
      ca_file: file('ca.pem', PEM),
      cert_file: file('c.pem', PEM),
      key_file: file('k.pem', PEM),
      key_password_file: file('kp', 'pass-phrase\n'),
      server_name: 'kafka.internal',
    },
  });
  const ssl = kafkaClientConfig(c, silentLogger()).ssl as Record<string, unknown>;
  assert.equal(ssl['ca'], PEM);
  assert.equal(ssl['cert'], PEM);
  assert.equal(ssl['passphrase'], 'pass-phrase', 'trailing newline dropped');
  assert.equal(ssl['servername'], 'kafka.internal');
  assert.equal(ssl['rejectUnauthorized'], true, 'verification on by default');
  assert.equal(securityProtocol(c), 'SSL');
  assert.equal(kafkaClientConfig(sink({ tls: { enabled: false } }), silentLogger()).ssl, undefined);
  const noVerify = kafkaClientConfig(sink({ tls: { verify: false } }), silentLogger()).ssl;
  assert.equal((noVerify as Record<string, unknown>)['rejectUnauthorized'], false);
});

test('sasl: password inline or from a file; errors name the key, never the secret', () => {
  const inline = sink({ sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 's3cret-inline' } });
  assert.deepEqual(kafkaClientConfig(inline, silentLogger()).sasl, {
    mechanism: 'scram-sha-256',
    username: 'alice',
    password: 's3cret-inline',
  });
  assert.equal(securityProtocol(inline), 'SASL_PLAINTEXT');
  const fromFile = sink({
    tls: {},
    sasl: { mechanism: 'plain', username: 'bob', password_file: file('pw', 'from-file\n') },
  });
  assert.equal(
    (kafkaClientConfig(fromFile, silentLogger()).sasl as { password: string }).password,
    'from-file',
  );
  assert.equal(securityProtocol(fromFile), 'SASL_SSL');

  const cases: [Record<string, unknown>, RegExp][] = [
    [{ sasl: { username: 'u' } }, /no password for user u/],
    [{ sasl: { username: 'u', password: 'hunter2', password_file: '/x' } }, /both set/],
    [{ sasl: { username: 'u', password_file: join(dir, 'missing') } }, /password_file .*ENOENT/],
    [{ tls: { ca_file: file('notpem', 'hello') } }, /not a PEM file/],
    [{ tls: { cert_file: file('c2.pem', PEM) } }, /cert_file and key_file go together/],
  ];
  for (const [extra, message] of cases) {
    assert.throws(
      () => kafkaClientConfig(sink(extra), silentLogger()),
      (err: Error) => err instanceof ConfigError && message.test(err.message) && !/hunter2/.test(err.message),
    );
  }
});

test('kafkajs with idempotence is given one request in flight, with a warning naming the key', () => {
  const logged: { msg: string; max_in_flight_requests?: number }[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => logged.push(JSON.parse(s)) });
  const producer = new KafkaProducer(sink({ max_in_flight_requests: 5 }), log);
  assert.equal(
    (producer as ProducerPort).maxInFlight,
    undefined,
    'the Sender sends kafkajs one batch at a time',
  );
  assert.equal(logged.length, 1);
  assert.equal(logged[0]?.max_in_flight_requests, 5);
  assert.match(logged[0]?.msg ?? '', /using 1/);
  logged.length = 0;
  new KafkaProducer(sink({ max_in_flight_requests: 5, idempotent: false }), log);
  assert.equal(logged.length, 0, 'without idempotence the value is used as it is');
});
