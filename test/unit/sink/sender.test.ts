import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LineChunk } from '../../../src/model/line-chunk.ts';
import { silentLogger } from '../../../src/observe/logger.ts';
import type { Batch, ProducerPort } from '../../../src/sink/producer-port.ts';
import { Sender } from '../../../src/sink/sender.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const batch = (topic: string, n: number): Batch => ({
  topic,
  records: Array.from({ length: n }, (_, i) => ({
    topic,
    key: null,
    value: `v${i}`,
    chunk: {} as LineChunk,
  })),
  bytes: n * 2,
});

class ScriptedPort implements ProducerPort {
  sent: string[] = [];
  failures: unknown[] = [];
  async connect() {}
  async disconnect() {}
  async send(b: Batch) {
    const f = this.failures.shift();
    if (f !== undefined) throw f;
    this.sent.push(b.topic);
  }
}

const retry = { initial_ms: 100, max_ms: 1000, multiplier: 2 };
const tick = () => new Promise((r) => setImmediate(r));

test('retries a retriable failure with backoff and keeps order', async () => {
  const port = new ScriptedPort();
  port.failures.push(
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { name: 'KafkaJSConnectionError' }),
  );
  const clock = new ManualClock();
  const delivered: string[] = [];
  const s = new Sender({
    port,
    retry,
    brokers: ['127.0.0.1:1'],
    log: silentLogger(),
    clock,
    onDelivered: (b) => delivered.push(b.topic),
    onRejected: () => assert.fail('not permanent'),
  });
  s.enqueue(batch('a', 1));
  s.enqueue(batch('b', 1));
  await tick();
  assert.deepEqual(delivered, []);
  assert.equal(s.failuresByReason['broker_unreachable'], 1);
  clock.advance(100);
  await s.idle();
  assert.deepEqual(delivered, ['a', 'b']);
  assert.equal(s.stats.records_sent, 2);
});

test('a permanent failure is handed to onRejected and the next batch goes', async () => {
  const port = new ScriptedPort();
  port.failures.push(
    Object.assign(new Error('too large'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' }),
  );
  const rejected: string[] = [];
  const delivered: string[] = [];
  const s = new Sender({
    port,
    retry,
    brokers: ['x:1'],
    log: silentLogger(),
    clock: new ManualClock(),
    onDelivered: (b) => delivered.push(b.topic),
    onRejected: (b, e) => rejected.push(`${b.topic}:${e.reason}`),
  });
  s.enqueue(batch('big', 3));
  s.enqueue(batch('ok', 1));
  await s.idle();
  assert.deepEqual(rejected, ['big:message_too_large']);
  assert.deepEqual(delivered, ['ok']);
  assert.equal(s.stats.records_rejected, 3);
});

test('stop() during a backoff leaves the batch unacknowledged and settles idle()', async () => {
  const port = new ScriptedPort();
  port.failures.push(new Error('boom'));
  const s = new Sender({
    port,
    retry,
    brokers: ['x:1'],
    log: silentLogger(),
    clock: new ManualClock(),
    onDelivered: () => assert.fail('must not deliver'),
    onRejected: () => assert.fail('must not reject'),
  });
  s.enqueue(batch('a', 1));
  await tick();
  const idle = s.idle();
  s.stop();
  await idle;
  assert.equal(s.stats.batches_sent, 0);
});
