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

class RecordingPort implements ProducerPort {
  sent: Batch[] = [];
  fail: (b: Batch) => unknown = () => undefined;
  async connect() {}
  async disconnect() {}
  async send(b: Batch) {
    const f = this.fail(b);
    if (f !== undefined) throw f;
    this.sent.push(b);
  }
}

const originRecord = (topic: string, value: string, offset: number) => ({
  topic,
  key: 'k',
  value: JSON.stringify({ message: value, log: { file: { path: '/var/log/a.log' }, offset } }),
  chunk: { path: '/var/log/a.log' } as LineChunk,
});

test('a record over maxMessageBytes goes to the dead-letter topic without a broker round trip, with headers', async () => {
  const port = new RecordingPort();
  const deadLettered: string[] = [];
  const delivered: number[] = [];
  const s = new Sender({
    port,
    retry,
    brokers: ['x:1'],
    log: silentLogger(),
    clock: new ManualClock(),
    maxMessageBytes: 2048,
    deadLetterTopic: 'dlq',
    onDelivered: (b) => delivered.push(b.records.length),
    onRejected: () => assert.fail('dead-lettered, not rejected'),
    onDeadLettered: (b, e) => deadLettered.push(`${b.topic}:${b.records.length}:${e.reason}`),
  });
  const records = [
    originRecord('logs', 'small', 0),
    originRecord('logs', 'y'.repeat(5000), 10),
    originRecord('logs', 'ok', 5020),
  ];
  s.enqueue({ topic: 'logs', records, bytes: records.reduce((n, r) => n + r.value.length, 0) });
  await s.idle();
  assert.deepEqual(deadLettered, ['logs:1:message_too_large']);
  assert.deepEqual(delivered, [2]);
  assert.deepEqual(
    port.sent.map((b) => b.topic),
    ['dlq', 'logs'],
    'only the dead-letter copy and the good records were sent; the big record never went to logs',
  );
  const dl = port.sent[0];
  const h = dl.headers?.[0] ?? {};
  assert.equal(h['logferry.error.reason'], 'message_too_large');
  assert.equal(h['logferry.error.code'], 'LOGFERRY_ERR_MESSAGE_TOO_LARGE');
  assert.equal(h['logferry.origin.path'], '/var/log/a.log');
  assert.equal(h['logferry.origin.offset'], '10');
  assert.equal(h['logferry.origin.topic'], 'logs');
  assert.equal(h['logferry.truncated'], 'true');
  assert.ok(Buffer.byteLength(dl.records[0].value) <= 2048);
  assert.match(
    h['logferry.error.message'] ?? '',
    /record of \d+ bytes from \/var\/log\/a\.log at offset 10 exceeds sink\.kafka\.max_message_bytes \(2048\)/,
  );
  assert.equal(s.stats.records_dead_lettered, 1);
});

test('without a dead-letter topic an oversized record is rejected (counted, logged by the caller), never sent', async () => {
  const port = new RecordingPort();
  const rejected: string[] = [];
  const s = new Sender({
    port,
    retry,
    brokers: ['x:1'],
    log: silentLogger(),
    clock: new ManualClock(),
    maxMessageBytes: 2048,
    onDelivered: () => {},
    onRejected: (b, e) =>
      rejected.push(`${b.records.length}:${e.reason}:${e.error.message.includes('offset 3')}`),
  });
  const big = originRecord('logs', 'z'.repeat(3000), 3);
  s.enqueue({ topic: 'logs', records: [big], bytes: big.value.length });
  await s.idle();
  assert.deepEqual(rejected, ['1:message_too_large:true']);
  assert.equal(port.sent.length, 0);
  assert.equal(s.stats.records_rejected, 1);
});

test('a dead-letter send that fails retriably is retried with backoff; a permanent failure there falls back to onRejected', async () => {
  const port = new RecordingPort();
  const clock = new ManualClock();
  let dlqFailures = 1;
  port.fail = (b) => {
    if (b.topic === 'logs') return Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' });
    if (dlqFailures-- > 0)
      return Object.assign(new Error('connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' });
    return undefined;
  };
  const deadLettered: number[] = [];
  const s = new Sender({
    port,
    retry,
    brokers: ['x:1'],
    log: silentLogger(),
    clock,
    deadLetterTopic: 'dlq',
    onDelivered: () => assert.fail('not delivered'),
    onRejected: () => assert.fail('dead-lettered after one retry'),
    onDeadLettered: (b) => deadLettered.push(b.records.length),
  });
  s.enqueue({ topic: 'logs', records: [originRecord('logs', 'a', 0)], bytes: 10 });
  await tick();
  await tick();
  assert.deepEqual(deadLettered, []);
  clock.advance(100);
  await s.idle();
  assert.deepEqual(deadLettered, [1]);
  assert.match(
    port.sent[0].headers?.[0]?.['logferry.error.message'] ?? '',
    /topic logs refused a record of \d+ bytes/,
  );

  const port2 = new RecordingPort();
  port2.fail = () => Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' });
  const rejected: string[] = [];
  const s2 = new Sender({
    port: port2,
    retry,
    brokers: ['x:1'],
    log: silentLogger(),
    clock: new ManualClock(),
    deadLetterTopic: 'dlq',
    onDelivered: () => assert.fail('not delivered'),
    onRejected: (_b, e) => rejected.push(e.reason),
    onDeadLettered: () => assert.fail('the dead-letter topic refused it'),
  });
  s2.enqueue({ topic: 'logs', records: [originRecord('logs', 'a', 0)], bytes: 10 });
  await s2.idle();
  assert.deepEqual(rejected, ['message_too_large']);
});

/** A port whose sends settle when the test says so, in any order. */
class GatedPort implements ProducerPort {
  readonly calls: { topic: string; settle: (err?: unknown) => void }[] = [];
  inFlight = 0;
  maxSeen = 0;
  async connect() {}
  async disconnect() {}
  send(b: Batch): Promise<void> {
    this.inFlight++;
    this.maxSeen = Math.max(this.maxSeen, this.inFlight);
    return new Promise((resolve, reject) => {
      this.calls.push({
        topic: b.topic,
        settle: (err?: unknown) => {
          this.inFlight--;
          if (err === undefined) resolve();
          else reject(err);
        },
      });
    });
  }
}

/** A Sender with 3 sends in flight that records the topics it delivers, in order. */
function windowSender(
  port: ProducerPort,
  clock: ManualClock,
  delivered: string[],
  windowAllowed?: () => boolean,
): Sender {
  return new Sender({
    port,
    retry,
    brokers: ['127.0.0.1:1'],
    log: silentLogger(),
    clock,
    maxInFlight: 3,
    windowAllowed,
    onDelivered: (b) => delivered.push(b.topic),
    onRejected: () => assert.fail('not permanent'),
  });
}

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { name: 'KafkaJSConnectionError' });

test('maxInFlight: up to that many sends at once, delivered in queue order whatever order they finish in', async () => {
  const port = new GatedPort();
  const delivered: string[] = [];
  const s = windowSender(port, new ManualClock(), delivered);
  for (const t of ['a', 'b', 'c', 'd', 'e']) s.enqueue(batch(t, 1));
  await tick();
  assert.deepEqual(
    port.calls.map((c) => c.topic),
    ['a', 'b', 'c'],
  );
  port.calls[2]?.settle();
  port.calls[1]?.settle();
  await tick();
  assert.deepEqual(delivered, [], 'b and c wait for a');
  port.calls[0]?.settle();
  await tick();
  assert.deepEqual(delivered, ['a', 'b', 'c']);
  assert.deepEqual(
    port.calls.map((c) => c.topic),
    ['a', 'b', 'c', 'd', 'e'],
  );
  port.calls[3]?.settle();
  port.calls[4]?.settle();
  await s.idle();
  assert.deepEqual(delivered, ['a', 'b', 'c', 'd', 'e']);
  assert.equal(port.maxSeen, 3);
  assert.equal(s.stats.batches_sent, 5);
});

test('maxInFlight: after a failure the sends in flight finish, the failed batch is retried first, one at a time', async () => {
  const port = new GatedPort();
  const clock = new ManualClock();
  const delivered: string[] = [];
  const s = windowSender(port, clock, delivered);
  for (const t of ['a', 'b', 'c', 'd']) s.enqueue(batch(t, 1));
  await tick();
  port.calls[0]?.settle(); // a delivered
  await tick();
  assert.deepEqual(
    port.calls.map((c) => c.topic),
    ['a', 'b', 'c', 'd'],
  );
  port.calls[1]?.settle(refused()); // b fails: no more sends start
  port.calls[2]?.settle(); // c was written: delivered although b is not (yet)
  port.calls[3]?.settle(refused()); // d fails too: queued again behind b
  await tick();
  assert.deepEqual(delivered, ['a', 'c']);
  assert.equal(port.calls.length, 4, 'nothing new is sent before the backoff');
  assert.equal(s.failuresByReason['broker_unreachable'], 1, 'the first failure is the one handled');
  clock.advance(100);
  await tick();
  assert.deepEqual(
    port.calls.slice(4).map((c) => c.topic),
    ['b'],
    'the retry goes alone',
  );
  port.calls[4]?.settle();
  await tick();
  assert.deepEqual(
    port.calls.slice(5).map((c) => c.topic),
    ['d'],
  );
  port.calls[5]?.settle();
  await s.idle();
  assert.deepEqual(delivered, ['a', 'c', 'b', 'd']);
  assert.equal(s.queued, 0);
});

test('maxInFlight: while windowAllowed says no (batches go to the spool), one send at a time', async () => {
  const port = new GatedPort();
  let allowed = false;
  const delivered: string[] = [];
  const s = windowSender(port, new ManualClock(), delivered, () => allowed);
  for (const t of ['a', 'b', 'c']) s.enqueue(batch(t, 1));
  await tick();
  assert.equal(port.calls.length, 1);
  port.calls[0]?.settle();
  await tick();
  assert.equal(port.calls.length, 2);
  assert.equal(port.maxSeen, 1);
  allowed = true;
  s.enqueue(batch('d', 1));
  port.calls[1]?.settle();
  await tick();
  assert.deepEqual(
    port.calls.slice(2).map((c) => c.topic),
    ['c', 'd'],
    'allowed again: the window opens',
  );
  port.calls[2]?.settle();
  port.calls[3]?.settle();
  await s.idle();
  assert.deepEqual(delivered, ['a', 'b', 'c', 'd']);
});
