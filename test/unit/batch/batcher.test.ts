import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batcher } from '../../../src/batch/batcher.ts';
import type { LineChunk } from '../../../src/model/line-chunk.ts';
import type { OutRecord } from '../../../src/model/record.ts';
import type { Batch } from '../../../src/sink/producer-port.ts';
import { ManualClock } from '../../support/manual-clock.ts';

const chunk = {} as LineChunk;
const rec = (topic: string, value: string): OutRecord => ({ topic, key: 'k', value, chunk });

test('closes a batch at max_records, in arrival order', () => {
  const out: Batch[] = [];
  const b = new Batcher(
    { max_records: 3, max_bytes: 1 << 20, linger_ms: 100 },
    (x) => out.push(x),
    new ManualClock(),
  );
  for (let i = 0; i < 7; i++) b.add(rec('t', `v${i}`));
  assert.equal(out.length, 2);
  assert.deepEqual(
    out.flatMap((x) => x.records.map((r) => r.value)),
    ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'],
  );
  b.flush();
  assert.equal(out.length, 3);
  assert.equal(out[2].records[0].value, 'v6');
});

test('closes a batch before it would pass max_bytes', () => {
  const out: Batch[] = [];
  const b = new Batcher(
    { max_records: 100, max_bytes: 1024, linger_ms: 100 },
    (x) => out.push(x),
    new ManualClock(),
  );
  const v = 'x'.repeat(400);
  b.add(rec('t', v));
  b.add(rec('t', v));
  assert.equal(out.length, 0);
  b.add(rec('t', v));
  assert.equal(out.length, 1);
  assert.equal(out[0].records.length, 2);
  assert.ok(out[0].bytes <= 1024);
});

test('a batch lingers at most linger_ms after its first record', () => {
  const out: Batch[] = [];
  const clock = new ManualClock();
  const b = new Batcher({ max_records: 100, max_bytes: 1 << 20, linger_ms: 50 }, (x) => out.push(x), clock);
  b.add(rec('t', 'a'));
  clock.advance(30);
  b.add(rec('t', 'b'));
  assert.equal(out.length, 0);
  clock.advance(20);
  assert.equal(out.length, 1);
  assert.equal(out[0].records.length, 2);
  clock.advance(1000);
  assert.equal(out.length, 1, 'no empty batch after linger');
});

test('keeps one open batch per topic', () => {
  const out: Batch[] = [];
  const b = new Batcher(
    { max_records: 2, max_bytes: 1 << 20, linger_ms: 50 },
    (x) => out.push(x),
    new ManualClock(),
  );
  b.add(rec('a', '1'));
  b.add(rec('b', '2'));
  b.add(rec('a', '3'));
  assert.equal(out.length, 1);
  assert.equal(out[0].topic, 'a');
  b.flush();
  assert.deepEqual(
    out.map((x) => x.topic),
    ['a', 'b'],
  );
});

test("a producer's builder collects each open batch: one per batch, asked with max_bytes, finished with the bytes", () => {
  const out: Batch[] = [];
  const asked: [string, number][] = [];
  const newBuilder = (topic: string, maxBytes: number) => {
    asked.push([topic, maxBytes]);
    const values: string[] = [];
    return {
      add: (r: OutRecord) => values.push(r.value),
      get count() {
        return values.length;
      },
      finish: (bytes: number): Batch => ({
        topic,
        records: values.map((value) => ({ topic, key: 'built', value, chunk })),
        bytes,
      }),
    };
  };
  const b = new Batcher(
    { max_records: 2, max_bytes: 1 << 20, linger_ms: 100 },
    (x) => out.push(x),
    new ManualClock(),
    newBuilder,
  );
  for (let i = 0; i < 5; i++) b.add(rec('t', `v${i}`));
  b.flush();
  assert.deepEqual(asked, [
    ['t', 1 << 20],
    ['t', 1 << 20],
    ['t', 1 << 20],
  ]);
  assert.deepEqual(
    out.map((x) => x.records.map((r) => `${r.key}:${r.value}`)),
    [['built:v0', 'built:v1'], ['built:v2', 'built:v3'], ['built:v4']],
  );
  assert.deepEqual(
    out.map((x) => x.bytes),
    [2 * (2 + 1 + 24), 2 * (2 + 1 + 24), 2 + 1 + 24],
  );
});

test('addLine: without a builder that takes bytes, the record is the writer string; sizes add up to the batch bytes', () => {
  const out: Batch[] = [];
  const b = new Batcher(
    { max_records: 3, max_bytes: 1 << 20, linger_ms: 100 },
    (x) => out.push(x),
    new ManualClock(),
  );
  const writer = {
    fixedBytes: 2,
    lastUnits: 0,
    write: () => 0,
    toString: (_ts: number, raw: Uint8Array, start: number, end: number, offset: number) =>
      `${offset}:${Buffer.from(raw.subarray(start, end)).toString()}`,
  };
  const route = { topic: 't', key: 'kk', keyBytes: Buffer.from('kk'), writer };
  const raw = Buffer.from('aé\nbb\nc\n');
  const sizes = [b.addLine(route, chunk, 0, raw, 0, 3, 0), b.addLine(route, chunk, 0, raw, 4, 6, 4)];
  sizes.push(b.addLine(route, chunk, 0, raw, 7, 8, 7));
  assert.equal(out.length, 1, 'closed at max_records');
  assert.deepEqual(
    out[0]?.records.map((r) => `${r.key} ${r.value}`),
    ['kk 0:aé', 'kk 4:bb', 'kk 7:c'],
  );
  assert.deepEqual(sizes, [4 + 2 + 24, 4 + 2 + 24, 3 + 2 + 24]);
  assert.equal(out[0]?.bytes, sizes[0]! + sizes[1]! + sizes[2]!);
});

test('a batch still compressing is handed on once ready, and batches closed after it wait behind it, in closing order', async () => {
  const out: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let n = 0;
  // The first batch of topic "slow" compresses until the gate opens; every other batch is ready at once.
  const builder = (topic: string) => {
    const records: OutRecord[] = [];
    return {
      add: (r: OutRecord) => records.push(r),
      get count() {
        return records.length;
      },
      finish: (bytes: number): Batch => {
        const ready = topic === 'slow' && n++ === 0 ? gate : undefined;
        return { topic, records, bytes, ready };
      },
    };
  };
  const b = new Batcher(
    { max_records: 1, max_bytes: 1 << 20, linger_ms: 100 },
    (x) => out.push(`${x.topic}:${x.records[0]?.value}`),
    new ManualClock(),
    builder,
  );
  b.add(rec('fast', 'f0'));
  assert.deepEqual(out, ['fast:f0'], 'nothing pending: handed on at once');
  b.add(rec('slow', 's0'));
  b.add(rec('fast', 'f1'));
  b.add(rec('slow', 's1'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(out, ['fast:f0'], 'all wait for the compressing batch');
  let settled = false;
  void b.settled().then(() => {
    settled = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false);
  release();
  await b.settled();
  assert.deepEqual(out, ['fast:f0', 'slow:s0', 'fast:f1', 'slow:s1']);
  b.add(rec('fast', 'f2'));
  assert.deepEqual(out.at(-1), 'fast:f2', 'synchronous again once nothing waits');
});
