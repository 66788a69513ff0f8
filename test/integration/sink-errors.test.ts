/**
 * Issue 5, the errors users hit, each provoked for real against a broker with topic auto-creation
 * off: wrong port, missing topic, a topic whose max.message.bytes was lowered (dead-letter topic or
 * logged and counted), and the size check that needs no broker round trip. Each gives its one-line
 * message, its own reason label and no endless loop; `logferry test-connection` reports each with
 * its exit code.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BrokerUnreachableError } from '../../src/model/errors.ts';
import type { LineChunk } from '../../src/model/line-chunk.ts';
import type { OutRecord } from '../../src/model/record.ts';
import { silentLogger } from '../../src/observe/logger.ts';
import type { ClassifiedError } from '../../src/sink/classify.ts';
import { registerCodecs } from '../../src/sink/codecs/index.ts';
import { KafkaProducer } from '../../src/sink/kafka-producer.ts';
import type { Batch } from '../../src/sink/producer-port.ts';
import { Sender } from '../../src/sink/sender.ts';
import type { KafkaSinkConfig } from '../../src/sink/sink-config.ts';
import {
  consumeAll,
  createTopic,
  freePorts,
  type KafkaBroker,
  startBroker,
  uniqueTopic,
} from '../kafka/index.ts';
import { runCli, startAgent, waitFor } from '../support/agent-process.ts';
import { kafkaSinkConfig } from '../support/sink-config.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
registerCodecs();

const dir = mkdtempSync(join(tmpdir(), 'logferry-errs-'));
let broker: KafkaBroker;
let small: string;
let deadLetter: string;
const SMALL_LIMIT = 2000;

before(async () => {
  broker = await startBroker({ autoCreateTopics: false });
  small = uniqueTopic('small');
  deadLetter = uniqueTopic('dlq');
  await createTopic(broker.bootstrap, small, {
    partitions: 1,
    configs: { 'max.message.bytes': String(SMALL_LIMIT) },
  });
  await createTopic(broker.bootstrap, deadLetter, { partitions: 1 });
});

after(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function sinkConfig(extra: Record<string, unknown>): KafkaSinkConfig {
  return kafkaSinkConfig({
    brokers: [broker.bootstrap],
    topic: small,
    connection_timeout_ms: 2000,
    compression: 'none',
    ...extra,
  });
}

const record = (topic: string, message: string, offset: number): OutRecord => ({
  topic,
  key: 'k',
  value: JSON.stringify({ message, log: { file: { path: '/var/log/app.log' }, offset } }),
  chunk: { path: '/var/log/app.log' } as LineChunk,
});

function batchOf(records: OutRecord[]): Batch {
  return { topic: records[0].topic, records, bytes: records.reduce((n, r) => n + r.value.length, 0) };
}

interface Outcome {
  delivered: string[];
  deadLettered: string[];
  rejected: ClassifiedError[];
  sender: Sender;
}

/** The agent's Sender and KafkaProducer on one batch, until every record is accounted for. */
async function sendThrough(config: KafkaSinkConfig, batch: Batch): Promise<Outcome> {
  const producer = new KafkaProducer(config, silentLogger());
  await producer.connect();
  const out: Outcome = { delivered: [], deadLettered: [], rejected: [], sender: undefined as never };
  out.sender = new Sender({
    port: producer,
    retry: { initial_ms: 50, max_ms: 200, multiplier: 2 },
    brokers: config.brokers,
    log: silentLogger(),
    maxMessageBytes: config.max_message_bytes,
    deadLetterTopic: config.dead_letter?.topic,
    onDelivered: (b) => out.delivered.push(...b.records.map((r) => String(JSON.parse(r.value).log.offset))),
    onRejected: (_b, e) => out.rejected.push(e),
    onDeadLettered: (b) =>
      out.deadLettered.push(...b.records.map((r) => String(JSON.parse(r.value).log.offset))),
  });
  out.sender.enqueue(batch);
  await out.sender.idle();
  await producer.disconnect();
  return out;
}

test('wrong port: connect fails at once naming the address; run logs it once, keeps retrying with backoff, stops cleanly', async () => {
  const [port] = await freePorts(1);
  const producer = new KafkaProducer(sinkConfig({ brokers: [`127.0.0.1:${port}`] }), silentLogger());
  const started = Date.now();
  const err = await producer.connect().then(
    () => assert.fail('nothing listens there'),
    (e: unknown) => e as Error,
  );
  assert.ok(err instanceof BrokerUnreachableError);
  assert.equal(err.exitCode, 4);
  assert.match(
    err.message,
    new RegExp(`no Kafka broker reachable at 127\\.0\\.0\\.1:${port} .*ECONNREFUSED.*firewall`),
  );
  assert.ok(Date.now() - started < 10_000, 'kafkajs gives up within its own short retries');

  const logs = join(dir, 'wrong-port-logs');
  mkdirSync(logs);
  writeFileSync(join(logs, 'a.log'), 'one\ntwo\n');
  const config = writeConfig('wrong-port', logs, [
    `    brokers: ["127.0.0.1:${port}"]`,
    `    topic: ${small}`,
  ]);
  const agent = startAgent(['run', '--config', config], {
    LOGFERRY_SINK_KAFKA_RETRY_INITIAL_MS: '100',
    LOGFERRY_SINK_KAFKA_RETRY_MAX_MS: '400',
    LOGFERRY_SHUTDOWN_TIMEOUT_MS: '500',
  });
  await waitFor(
    () => /LOGFERRY_ERR_BROKER_UNREACHABLE/.test(agent.stderr()),
    20_000,
    'the unreachable error',
  );
  // ~3 s of failing at most 400 ms apart: many tries, one error line (no log flood, no busy loop).
  await new Promise((r) => setTimeout(r, 3000));
  const code = await agent.stop();
  assert.equal(code, 0, agent.stderr().slice(-1500));
  const errorLines = agent
    .stderr()
    .split('\n')
    .filter((l) => l.includes('"code":"LOGFERRY_ERR_BROKER_UNREACHABLE"'));
  assert.equal(errorLines.length, 1, agent.stderr().slice(-3000));
  assert.match(errorLines[0], /"reason":"broker_unreachable"/);

  const tc = await runCli(['test-connection', '--config', config]);
  assert.equal(tc.code, 4, tc.stdout + tc.stderr);
  assert.match(tc.stdout, /FAIL\s+connect\s+no Kafka broker reachable at 127\.0\.0\.1:\d+/);
});

test('missing topic with auto-creation off: named, auto-creation said to be off, retried (not dropped); test-connection exits 6', async () => {
  const missing = uniqueTopic('missing');
  const producer = new KafkaProducer(sinkConfig({ topic: missing }), silentLogger());
  await producer.connect();
  const rejected: string[] = [];
  const sender = new Sender({
    port: producer,
    retry: { initial_ms: 100, max_ms: 200, multiplier: 2 },
    brokers: [broker.bootstrap],
    log: silentLogger(),
    onDelivered: () => assert.fail('the topic does not exist'),
    onRejected: (_b, e) => rejected.push(e.reason),
  });
  sender.enqueue(batchOf([record(missing, 'a', 0)]));
  await waitFor(
    () => (sender.failuresByReason['unknown_topic'] ?? 0) >= 2,
    20_000,
    'two unknown_topic failures',
  );
  sender.stop();
  await producer.disconnect();
  assert.deepEqual(rejected, [], 'retried, never given up');

  const logs = join(dir, 'missing-logs');
  mkdirSync(logs);
  const config = writeConfig('missing', logs, [
    `    brokers: ["${broker.bootstrap}"]`,
    `    topic: ${missing}`,
  ]);
  const tc = await runCli(['test-connection', '--config', config]);
  assert.equal(tc.code, 6, tc.stdout + tc.stderr);
  assert.match(tc.stdout, new RegExp(`FAIL\\s+topic ${missing}\\s+does not exist and auto-creation is off`));
});

test('lowered max.message.bytes: the one record too large goes to the dead-letter topic with headers, the rest is delivered', async () => {
  const big = 'x'.repeat(5000);
  const out = await sendThrough(
    sinkConfig({ dead_letter: { topic: deadLetter } }),
    batchOf([record(small, 'a', 0), record(small, big, 2), record(small, 'c', 5003)]),
  );
  assert.deepEqual(out.rejected, []);
  assert.deepEqual(out.deadLettered, ['2']);
  assert.deepEqual(out.delivered.sort(), ['0', '5003']);
  assert.ok((out.sender.failuresByReason['message_too_large'] ?? 0) >= 1, 'the broker refused it');
  const dl = await consumeAll({
    bootstrap: broker.bootstrap,
    topic: deadLetter,
    expected: 1,
    timeoutMs: 30_000,
  });
  assert.equal(dl.length, 1);
  const h = dl[0].headers;
  assert.equal(h['logferry.error.reason'], 'message_too_large');
  assert.equal(h['logferry.error.code'], 'LOGFERRY_ERR_MESSAGE_TOO_LARGE');
  assert.equal(h['logferry.origin.path'], '/var/log/app.log');
  assert.equal(h['logferry.origin.offset'], '2');
  assert.equal(h['logferry.origin.topic'], small);
  assert.match(
    h['logferry.error.message'] ?? '',
    new RegExp(`topic ${small} refused a record of \\d+ bytes from /var/log/app\\.log at offset 2`),
  );
  assert.equal(
    JSON.parse(dl[0].value ?? '{}').message,
    big,
    'the whole record, it fits the dead-letter topic',
  );
  const main = await consumeAll({
    bootstrap: broker.bootstrap,
    topic: small,
    expected: 2,
    timeoutMs: 30_000,
  });
  assert.equal(main.length, 2);
});

test('max_message_bytes: a larger record is dead-lettered without a broker round trip; without a dead-letter topic it is rejected, not retried', async () => {
  const topic = uniqueTopic('presize');
  const dlq = uniqueTopic('presize-dlq');
  await createTopic(broker.bootstrap, topic, { partitions: 1 });
  await createTopic(broker.bootstrap, dlq, { partitions: 1 });
  const out = await sendThrough(
    sinkConfig({ topic, max_message_bytes: 2048, dead_letter: { topic: dlq } }),
    batchOf([record(topic, 'y'.repeat(3000), 7), record(topic, 'ok', 3008)]),
  );
  assert.deepEqual(out.deadLettered, ['7']);
  assert.deepEqual(out.delivered, ['3008']);
  assert.equal(out.sender.stats.batches_split, 0, 'the broker never saw the big record');
  assert.equal(out.sender.stats.send_failures, 0);
  const dl = await consumeAll({ bootstrap: broker.bootstrap, topic: dlq, expected: 1, timeoutMs: 30_000 });
  assert.equal(dl[0].headers['logferry.truncated'], 'true', 'cut to fit max_message_bytes');
  assert.ok(Number(dl[0].headers['logferry.original.bytes']) > 3000);
  assert.match(
    dl[0].headers['logferry.error.message'] ?? '',
    /exceeds sink\.kafka\.max_message_bytes \(2048\)/,
  );

  const plain = await sendThrough(
    sinkConfig({ topic, max_message_bytes: 2048 }),
    batchOf([record(topic, 'z'.repeat(3000), 9)]),
  );
  assert.equal(plain.rejected.length, 1);
  assert.equal(plain.rejected[0].reason, 'message_too_large');
  assert.match(
    plain.rejected[0].error.message,
    /record of \d+ bytes from \/var\/log\/app\.log at offset 9 exceeds/,
  );
  assert.equal(plain.sender.stats.records_rejected, 1);
});

test('the real CLI with a lowered topic limit logs the refused line with its file and offset, counts it, and goes on', async () => {
  const topic = uniqueTopic('cli-small');
  await createTopic(broker.bootstrap, topic, {
    partitions: 1,
    configs: { 'max.message.bytes': String(SMALL_LIMIT) },
  });
  const logs = join(dir, 'cli-small-logs');
  mkdirSync(logs);
  const file = join(logs, 'app.log');
  const bigLine = 'B'.repeat(4000);
  writeFileSync(file, `before\n${bigLine}\n`);
  const config = writeConfig('cli-small', logs, [
    `    brokers: ["${broker.bootstrap}"]`,
    `    topic: ${topic}`,
    '    compression: none',
  ]);
  const agent = startAgent(['run', '--config', config], { LOGFERRY_BATCH_LINGER_MS: '0' });
  try {
    await waitFor(() => /LOGFERRY_ERR_MESSAGE_TOO_LARGE/.test(agent.stderr()), 30_000, 'the too-large error');
    appendFileSync(file, 'after\n');
    const got = await consumeAll({ bootstrap: broker.bootstrap, topic, expected: 2, timeoutMs: 30_000 });
    assert.deepEqual(
      got.map((m) => JSON.parse(m.value ?? '{}').message),
      ['before', 'after'],
    );
    const line =
      agent
        .stderr()
        .split('\n')
        .find((l) => l.includes('LOGFERRY_ERR_MESSAGE_TOO_LARGE')) ?? '';
    assert.match(
      line,
      new RegExp(`refused a record of \\d+ bytes from ${file.replaceAll('.', '\\.')} at offset 7 `),
    );
    assert.equal(
      agent
        .stderr()
        .split('\n')
        .filter((l) => l.includes('LOGFERRY_ERR_MESSAGE_TOO_LARGE')).length,
      1,
      'given up once, not retried',
    );
  } finally {
    assert.equal(await agent.stop(), 0);
  }

  const tc = await runCli(['test-connection', '--config', config, '--produce']);
  assert.equal(tc.code, 0, tc.stdout + tc.stderr);
  assert.match(
    tc.stdout,
    new RegExp(`ok\\s+topic ${topic}\\s+exists, 1 partition\\(s\\), max\\.message\\.bytes ${SMALL_LIMIT}`),
  );
  assert.match(
    tc.stdout,
    /WARN\s+limit .*max_message_bytes 1048576 is above the topic's max\.message\.bytes 2000/,
  );
  assert.match(tc.stdout, /ok\s+produce\s+one test record acknowledged/);
  assert.match(tc.stdout, /result: ok \(with warnings\)/);
});

function writeConfig(name: string, logs: string, kafka: string[]): string {
  const p = join(dir, `${name}.yaml`);
  writeFileSync(
    p,
    [
      `data_dir: ${join(dir, `${name}-data`)}`,
      'sources:',
      '  - name: app',
      `    include: ["${logs}/*.log"]`,
      'sink:',
      '  kafka:',
      ...kafka,
      '    connection_timeout_ms: 2000',
    ].join('\n'),
  );
  return p;
}
