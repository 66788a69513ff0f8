import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBound } from '../../../src/batch/memory-bound.ts';
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
