/**
 * Issue 5, security: the agent's own producer against a real broker with a SASL_SSL + SCRAM
 * listener and an mTLS listener. The real CLI ships lines over SASL_SSL with the password taken
 * from the environment and never logs it; KafkaProducer delivers over mTLS and checks SNI; a wrong
 * password or a wrong server name fails with the classified one-line error.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BrokerAuthError, BrokerUnreachableError } from '../../src/model/errors.ts';
import { silentLogger } from '../../src/observe/logger.ts';
import { registerCodecs } from '../../src/sink/codecs/index.ts';
import { KafkaProducer } from '../../src/sink/kafka-producer.ts';
import type { KafkaSinkConfig } from '../../src/sink/sink-config.ts';
import { type ClientConfig, consumeAll, createTopic } from '../kafka/consume.ts';
import {
  type KafkaBroker,
  makeTlsMaterial,
  scramListenerProperties,
  startBroker,
  type TlsMaterial,
  tlsListenerProperties,
  uniqueTopic,
} from '../kafka/index.ts';
import { type AgentProcess, runCli, startAgent } from '../support/agent-process.ts';
import { kafkaSinkConfig } from '../support/sink-config.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
// The agent compresses with zstd by default; the test's consumer must read it.
registerCodecs();

const PASSWORD = 'alice-Secret-9f3e';
const dir = mkdtempSync(join(tmpdir(), 'logferry-sec-'));
let tls: TlsMaterial;
let broker: KafkaBroker;
let agent: AgentProcess | undefined;

before(async () => {
  tls = await makeTlsMaterial(dir);
  broker = await startBroker({
    listeners: [
      { name: 'SASL_SSL', securityProtocol: 'SASL_SSL' },
      { name: 'MTLS', securityProtocol: 'SSL' },
    ],
    scramUsers: [
      { mechanism: 'SCRAM-SHA-256', username: 'alice', password: PASSWORD },
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
  await agent?.stop();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function sinkConfig(extra: Record<string, unknown>): KafkaSinkConfig {
  return kafkaSinkConfig({ topic: 'unused', connection_timeout_ms: 3000, ...extra });
}

const record = (topic: string, value: string) => ({
  topic,
  key: 'k',
  value,
  chunk: { path: '/x' } as never,
});

/** Sends through the agent's producer and reads back with an independent consumer. */
async function deliver(config: KafkaSinkConfig, client: ClientConfig): Promise<void> {
  const topic = uniqueTopic('sec');
  const bootstrap = config.brokers[0];
  await createTopic(bootstrap, topic, { partitions: 1, client });
  const producer = new KafkaProducer(config, silentLogger());
  await producer.connect();
  try {
    await producer.send({ topic, records: [record(topic, 'one'), record(topic, 'two')], bytes: 6 });
  } finally {
    await producer.disconnect();
  }
  const got = await consumeAll({ bootstrap, topic, expected: 2, timeoutMs: 30_000, client });
  assert.deepEqual(
    got.map((m) => m.value),
    ['one', 'two'],
  );
}

test('the real CLI ships lines over SASL_SSL + SCRAM-SHA-256 with the password from the environment, never logging it', async () => {
  const bootstrap = broker.bootstrapFor('SASL_SSL');
  const topic = uniqueTopic('sasl-cli');
  const client: ClientConfig = {
    ssl: { ca: [readFileSync(tls.caCert, 'utf8')] },
    sasl: { mechanism: 'scram-sha-256', username: 'alice', password: PASSWORD },
  };
  await createTopic(bootstrap, topic, { partitions: 1, client });
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  writeFileSync(join(logs, 'app.log'), 'first line\nsecond line\nthird line\n');
  const config = join(dir, 'sasl.yaml');
  writeFileSync(
    config,
    [
      `data_dir: ${join(dir, 'data')}`,
      'sources:',
      '  - name: app',
      `    include: ["${logs}/*.log"]`,
      'sink:',
      '  kafka:',
      `    brokers: ["${bootstrap}"]`,
      `    topic: ${topic}`,
      '    tls:',
      `      ca_file: ${tls.caCert}`,
      '      server_name: localhost',
      '    sasl:',
      '      mechanism: scram-sha-256',
      '      username: alice',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${VAR} syntax
      '      password: ${TEST_KAFKA_PASSWORD}',
    ].join('\n'),
  );
  agent = startAgent(['run', '--config', config], {
    TEST_KAFKA_PASSWORD: PASSWORD,
    LOGFERRY_LOG_LEVEL: 'debug',
  });
  const got = await consumeAll({ bootstrap, topic, expected: 3, timeoutMs: 45_000, client });
  assert.deepEqual(
    got.map((m) => (JSON.parse(m.value ?? '{}') as { message: string }).message),
    ['first line', 'second line', 'third line'],
  );
  const code = await agent.stop();
  assert.equal(code, 0, agent.stderr().slice(-2000));
  assert.ok(agent.stderr().length > 0, 'the agent logged (at debug)');
  assert.ok(!agent.stderr().includes(PASSWORD), 'the password never appears in the log');
  agent = undefined;
});

test('KafkaProducer delivers over SCRAM-SHA-512 from a password file, and over mTLS with SNI checked', async () => {
  const pwFile = join(dir, 'bob.pw');
  writeFileSync(pwFile, 'bob-secret\n');
  const ca = readFileSync(tls.caCert, 'utf8');
  await deliver(
    sinkConfig({
      brokers: [broker.bootstrapFor('SASL_SSL')],
      tls: { ca_file: tls.caCert },
      sasl: { mechanism: 'scram-sha-512', username: 'bob', password_file: pwFile },
    }),
    { ssl: { ca }, sasl: { mechanism: 'scram-sha-512', username: 'bob', password: 'bob-secret' } },
  );
  const mtlsClient: ClientConfig = {
    ssl: {
      ca,
      cert: readFileSync(tls.clientCert, 'utf8'),
      key: readFileSync(tls.clientKey, 'utf8'),
    },
  };
  await deliver(
    sinkConfig({
      brokers: [broker.bootstrapFor('MTLS')],
      tls: {
        ca_file: tls.caCert,
        cert_file: tls.clientCert,
        key_file: tls.clientKey,
        server_name: 'localhost',
      },
    }),
    mtlsClient,
  );
});

test('a wrong password fails with the auth error naming mechanism and user, never the password', async () => {
  const producer = new KafkaProducer(
    sinkConfig({
      brokers: [broker.bootstrapFor('SASL_SSL')],
      tls: { ca_file: tls.caCert },
      sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'not-the-password' },
    }),
    silentLogger(),
  );
  const err = await producer.connect().then(
    () => assert.fail('must not authenticate'),
    (e: unknown) => e as Error,
  );
  assert.ok(err instanceof BrokerAuthError, String(err));
  assert.equal(err.exitCode, 5);
  assert.match(err.message, /SASL scram-sha-256 authentication of user alice failed/);
  assert.doesNotMatch(err.message, /not-the-password/);
  assert.doesNotMatch(err.message, /\n/);
  await producer.disconnect().catch(() => {});
});

test('TLS: a server name the certificate does not carry fails with the TLS hint (tls_failed), not a hang', async () => {
  const producer = new KafkaProducer(
    sinkConfig({
      brokers: [broker.bootstrapFor('MTLS')],
      tls: {
        ca_file: tls.caCert,
        cert_file: tls.clientCert,
        key_file: tls.clientKey,
        server_name: 'not-the-broker.example',
      },
    }),
    silentLogger(),
  );
  const err = await producer.connect().then(
    () => assert.fail('must not connect'),
    (e: unknown) => e as Error,
  );
  assert.ok(err instanceof BrokerUnreachableError, String(err));
  assert.match(err.message, /TLS: .*check sink\.kafka\.tls\.ca_file and server_name/);
  await producer.disconnect().catch(() => {});
});

test('test-connection over SASL_SSL: ok with the right password (and --produce), exit 5 naming the user with a wrong one', async () => {
  const bootstrap = broker.bootstrapFor('SASL_SSL');
  const topic = uniqueTopic('tc-sasl');
  const ca = readFileSync(tls.caCert, 'utf8');
  await createTopic(bootstrap, topic, {
    partitions: 1,
    client: { ssl: { ca }, sasl: { mechanism: 'scram-sha-256', username: 'alice', password: PASSWORD } },
  });
  const write = (name: string, password: string) => {
    const p = join(dir, name);
    writeFileSync(
      p,
      [
        `data_dir: ${join(dir, 'tc-data')}`,
        'sources:',
        '  - name: app',
        `    include: ["${dir}/none/*.log"]`,
        'sink:',
        '  kafka:',
        `    brokers: ["${bootstrap}"]`,
        `    topic: ${topic}`,
        `    tls: { ca_file: ${tls.caCert} }`,
        `    sasl: { mechanism: scram-sha-256, username: alice, password: "${password}" }`,
      ].join('\n'),
    );
    return p;
  };
  const ok = await runCli(['test-connection', '--config', write('tc-ok.yaml', PASSWORD), '--produce']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /ok\s+connect\s+SASL_SSL, SASL scram-sha-256 as alice/);
  assert.match(ok.stdout, /ok\s+produce/);
  assert.ok(!ok.stdout.includes(PASSWORD) && !ok.stderr.includes(PASSWORD));
  const bad = await runCli(['test-connection', '--config', write('tc-bad.yaml', 'Wrong-Pass-123')]);
  assert.equal(bad.code, 5, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /FAIL\s+connect\s+SASL scram-sha-256 authentication of user alice failed/);
  assert.ok(!bad.stdout.includes('Wrong-Pass-123') && !bad.stderr.includes('Wrong-Pass-123'));
});
