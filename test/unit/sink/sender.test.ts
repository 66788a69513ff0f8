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

test('a batch too large as a whole is split in order; a single record too large is rejected', async () => {
  const port = new ScriptedPort();
  const tooLarge = () =>
    Object.assign(new Error('too large'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' });
  // [r0 r1 r2] fails -> [r0] ok, [r1 r2] fails -> [r1] fails alone (rejected), [r2] ok.
  port.failures.push(tooLarge(), undefined, tooLarge(), tooLarge());
  const rejected: string[] = [];
  const delivered: string[] = [];
  const s = new Sender({
    port,
    retry,
    brokers: ['x:1'],
    log: silentLogger(),
    clock: new ManualClock(),
    onDelivered: (b) => delivered.push(`${b.topic}:${b.records.map((r) => r.value).join(',')}`),
    onRejected: (b, e) => rejected.push(`${b.records.map((r) => r.value).join(',')}:${e.reason}`),
  });
  s.enqueue(batch('big', 3));
  s.enqueue(batch('ok', 1));
  await s.idle();
  assert.deepEqual(rejected, ['v1:message_too_large']);
  assert.deepEqual(delivered, ['big:v0', 'big:v2', 'ok:v0']);
  assert.equal(s.stats.records_rejected, 1);
  assert.equal(s.stats.batches_split, 2);
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
