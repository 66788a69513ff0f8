import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBound, RECORD_OVERHEAD_BYTES, recordCost } from '../../../src/batch/memory-bound.ts';
import { ManualClock } from '../../support/manual-clock.ts';

test('answers at once under the bound, with a promise over it, and resumes when drained', async () => {
  const clock = new ManualClock();
  const m = new MemoryBound(100, clock);
  assert.equal(m.hold(60), undefined);
  const wait = m.hold(60);
  assert.ok(wait instanceof Promise);
  let resumed = false;
  void wait.then(() => {
    resumed = true;
  });
  clock.advance(500);
  m.release(10); // 110: still over
  await Promise.resolve();
  assert.equal(resumed, false);
  m.release(20); // 90: under
  await wait;
  assert.equal(resumed, true);
  assert.equal(m.stats.pauses, 1);
  assert.equal(m.stats.paused_ms, 500);
  assert.equal(m.stats.peak_bytes, 120);
});

test('a single hold larger than the bound does not deadlock', async () => {
  const m = new MemoryBound(10);
  const wait = m.hold(50);
  assert.ok(wait);
  m.release(50);
  await wait;
  assert.equal(m.used, 0);
});

test('records are charged on top of their chunk: the reader waits until both are released', async () => {
  const m = new MemoryBound(1000);
  m.charge(200); // a chunk's raw bytes
  const record = { topic: 't', key: 'k1', value: 'v'.repeat(300), chunk: {} as never };
  m.charge(recordCost(record));
  const wait = m.wait();
  assert.ok(wait instanceof Promise, '200 + 300 + 2 + overhead is over 1000');
  m.release(200); // the chunk acknowledged, the record still queued
  assert.equal(m.used, recordCost(record));
  m.release(recordCost(record));
  await wait;
  assert.equal(m.used, 0);
  assert.equal(m.wait(), undefined);
});

test('a record costs its value and key text plus the measured per-record overhead', () => {
  const value = '{"message":"x"}';
  assert.equal(
    recordCost({ topic: 't', key: null, value, chunk: {} as never }),
    value.length + RECORD_OVERHEAD_BYTES,
  );
  assert.equal(
    recordCost({ topic: 't', key: 'abc', value, chunk: {} as never }),
    value.length + 3 + RECORD_OVERHEAD_BYTES,
  );
});
