import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LineChunk } from '../../../src/model/line-chunk.ts';
import type { OutRecord } from '../../../src/model/record.ts';
import { silentLogger } from '../../../src/observe/logger.ts';
import type { Batch, ProducerPort } from '../../../src/sink/producer-port.ts';
import { fromSpoolBatch, sourceRanges, toSpoolBatch } from '../../../src/spool/spool-payload.ts';
import { SpoolingSender } from '../../../src/spool/spooling-sender.ts';
import { ManualClock } from '../../support/manual-clock.ts';
import { settle, tempDir, until } from './helpers.ts';

function chunk(fileId: string, start: number, end: number): LineChunk {
  return {
    source: 's',
    path: `/l/${fileId}`,
    fileId,
    lines: [],
    offsets: [start],
    flags: undefined,
    endOffset: end,
    bytes: end - start,
    readAt: 1,
    refs: 1,
  };
}

let seq = 0;
function batch(n: number, topic = 't'): Batch {
  const records: OutRecord[] = [];
  for (let i = 0; i < n; i++) {
    const s = seq++;
    records.push({
      topic,
      key: s % 3 === 0 ? null : `k${s % 2}`,
      value: `{"n":${s},"t":"é"}`,
      chunk: chunk('f', s * 10, s * 10 + 10),
    });
  }
  return { topic, records, bytes: n * 10 };
}

const unreachable = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { name: 'KafkaJSConnectionError' });

class Port implements ProducerPort {
  up = true;
  tooLarge = false;
  sent: string[] = [];
  async connect() {}
  async disconnect() {}
  async send(b: Batch) {
    if (this.tooLarge) throw Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' });
    if (!this.up) throw unreachable();
    for (const r of b.records) this.sent.push(r.value);
  }
}

for (const codec of ['none', 'zstd', 'gzip'] as const) {
  test(`spool payload round-trips values and keys (${codec})`, async () => {
    const b = batch(50);
    const sb = await toSpoolBatch(b, codec, 123);
    assert.equal(sb.records, 50);
    assert.equal(sb.codec, codec);
    assert.equal(sb.createdAt, 123);
    const back = await fromSpoolBatch(sb);
    assert.deepEqual(
      back.records.map((r) => [r.key, r.value]),
      b.records.map((r) => [r.key, r.value]),
    );
    assert.equal(back.topic, 't');
  });
}

test('source ranges: one per file, first line to end of last chunk', () => {
  const rec = (fileId: string, s: number, e: number): OutRecord => ({
    topic: 't',
    key: null,
    value: '',
    chunk: chunk(fileId, s, e),
  });
  assert.deepEqual(sourceRanges([rec('a', 0, 10), rec('b', 5, 9), rec('a', 10, 30), rec('a', 10, 30)]), [
    { fileId: 'a', startOffset: 0, endOffset: 30 },
    { fileId: 'b', startOffset: 5, endOffset: 9 },
  ]);
});

async function setup(afterMs = 500) {
  const { dir, cleanup } = await tempDir();
  const clock = new ManualClock();
  const port = new Port();
  const events: string[] = [];
  const s = new SpoolingSender({
    port,
    retry: { initial_ms: 100, max_ms: 100, multiplier: 1 },
    brokers: ['127.0.0.1:1'],
    log: silentLogger(),
    clock,
    spool: {
      options: {
        dir,
        maxBytes: 1 << 20,
        whenFull: 'block',
        fsync: 'every_batch',
        segmentBytes: 65536,
        log: silentLogger(),
        clock,
        ackSyncMs: 0,
      },
      afterMs,
      codec: 'zstd',
    },
    onDelivered: (b) => events.push(`delivered:${b.records.length}`),
    onSpooled: (b) => events.push(`spooled:${b.records.length}`),
    onReplayed: (b) => events.push(`replayed:${b.records.length}`),
    onRejected: (b, e) => events.push(`rejected:${e.reason}:${b.records.length}`),
  });
  await s.start();
  return { s, port, clock, events, cleanup };
}

/** Advances the manual clock in steps, letting file I/O finish in between. */
async function run(clock: ManualClock, ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await settle(30);
  }
}

/** Advances the manual clock 100 ms at a time until `cond` holds (bounded in real time). */
async function advanceUntil(clock: ManualClock, cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    clock.advance(100);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('a failure shorter than after_ms is retried in memory: nothing spooled', async () => {
  const { s, port, clock, events, cleanup } = await setup(500);
  port.up = false;
  s.enqueue(batch(2));
  await settle();
  await run(clock, 300);
  port.up = true;
  await run(clock, 200);
  await s.idle();
  assert.deepEqual(events, ['delivered:2']);
  assert.equal(s.stats.batches_spooled, 0);
  assert.equal(s.brokerState, 'connected');
  await s.stop();
  await cleanup();
});

test('after after_ms the batch and those behind it are spooled, then replayed in order, then sent directly', async () => {
  const { s, port, clock, events, cleanup } = await setup(500);
  const first = seq;
  port.up = false;
  s.enqueue(batch(2));
  s.enqueue(batch(3));
  await settle();
  await run(clock, 700);
  await s.idle();
  assert.deepEqual(events, ['spooled:2', 'spooled:3']);
  assert.equal(s.spooling, true);
  assert.equal(s.brokerState, 'disconnected');
  assert.equal(s.spoolStats?.records, 5);
  s.enqueue(batch(1)); // still down: straight behind the spool, no new budget wait
  await until(() => events.length === 3, 'the third batch spooled');
  assert.equal(events.at(-1), 'spooled:1');
  port.up = true;
  await advanceUntil(clock, () => !s.spooling, 'the spool to drain');
  assert.deepEqual(events.slice(3), ['replayed:2', 'replayed:3', 'replayed:1']);
  s.enqueue(batch(1));
  await s.idle();
  assert.equal(events.at(-1), 'delivered:1');
  assert.deepEqual(
    port.sent.map((v) => (JSON.parse(v) as { n: number }).n),
    [0, 1, 2, 3, 4, 5, 6].map((i) => first + i),
  );
  assert.equal(s.spoolStats?.records, 0);
  await s.stop();
  await cleanup();
});

test('a permanent failure is rejected, never spooled', async () => {
  const { s, port, events, cleanup } = await setup(0);
  port.tooLarge = true;
  s.enqueue(batch(1));
  await s.idle();
  assert.deepEqual(events, ['rejected:message_too_large:1']);
  assert.equal(s.stats.batches_spooled, 0);
  await s.stop();
  await cleanup();
});

test('spool payload keeps dead-letter headers per record', async () => {
  const headers: (Record<string, string> | undefined)[] = [
    { 'x-err': 'too large é' },
    undefined,
    { a: '1', b: '2' },
  ];
  const b = { ...batch(3), headers };
  const back = await fromSpoolBatch(await toSpoolBatch(b, 'zstd', 1));
  assert.deepEqual(back.headers, b.headers);
  assert.deepEqual(
    back.records.map((r) => r.value),
    b.records.map((r) => r.value),
  );
});
