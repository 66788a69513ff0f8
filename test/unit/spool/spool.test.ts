import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SpoolFullError } from '../../../src/model/errors.ts';
import { encodeFrame } from '../../../src/spool/spool-batch.ts';
import {
  batch,
  drain,
  fillUntilBlocked,
  ManualClock,
  openSpool,
  range,
  seqOf,
  settle,
  tempDir,
  until,
} from './helpers.ts';

test('append, peek and ack give batches back FIFO across several segments', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const spool = await openSpool(dir, { segmentBytes: 2048 });
  for (let i = 0; i < 40; i++) await spool.append(batch(i));
  assert.ok(spool.stats.segments > 3, `expected several segments, got ${spool.stats.segments}`);
  assert.equal(spool.size, 40);
  assert.equal(
    spool.stats.records,
    range(0, 40).reduce((n, i) => n + (i % 5) + 1, 0),
  );
  assert.equal(spool.stats.oldestCreatedAt, 1_000_000);

  const first = await spool.peek();
  assert.ok(first);
  assert.equal(seqOf(first), 0);
  assert.deepEqual(first.keys, ['k0', null]);
  assert.deepEqual(first.positions, [{ fileId: 'dev1:ino7', startOffset: 0, endOffset: 100 }]);
  assert.equal(first.topic, 'logs');
  assert.equal(first.codec, 'none');
  assert.equal(first.records, 1);
  assert.equal(
    seqOf((await spool.peek()) ?? assert.fail('peek again')),
    0,
    'peek without ack returns the same batch',
  );

  assert.deepEqual(await drain(spool), range(0, 40));
  assert.equal(spool.size, 0);
  assert.equal(spool.stats.oldestCreatedAt, 0);
  assert.equal(spool.stats.ackedFrames, 40);
  assert.ok(spool.stats.segments <= 1, 'fully acknowledged sealed segments are deleted');
  await spool.close();
  const segFiles = (await readdir(join(dir, 'spool'))).filter((n) => n.endsWith('.seg'));
  assert.ok(segFiles.length <= 1, `left ${segFiles.join(',')}`);
});

test('read-ahead with the iterator, acks in order, and ack without a batch throws', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const spool = await openSpool(dir);
  await assert.rejects(spool.ack(), /without a batch/);
  for (let i = 0; i < 10; i++) await spool.append(batch(i));
  const seen: number[] = [];
  for await (const b of spool.batches()) seen.push(seqOf(b));
  assert.deepEqual(seen, range(0, 10));
  assert.equal(await spool.read(), undefined);
  for (let i = 0; i < 4; i++) await spool.ack();
  assert.equal(spool.size, 6);
  await spool.close();

  const again = await openSpool(dir);
  assert.deepEqual(
    await drain(again),
    range(4, 10),
    'handed out but unacknowledged batches come back after reopen',
  );
  await again.close();
});

test('the follow iterator waits for appends and ends at close', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const spool = await openSpool(dir);
  const seen: number[] = [];
  const consumer = (async () => {
    for await (const b of spool.batches({ follow: true })) {
      seen.push(seqOf(b));
      await spool.ack();
    }
  })();
  for (let i = 0; i < 5; i++) await spool.append(batch(i));
  await until(() => seen.length >= 5, 'the follower to catch up');
  assert.deepEqual(seen, range(0, 5));
  await spool.close();
  await consumer;
});

test('FIFO survives close and reopen, with appends after reopen going behind', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  let spool = await openSpool(dir, { segmentBytes: 1500 });
  for (let i = 0; i < 20; i++) await spool.append(batch(i));
  for (let i = 0; i < 7; i++) {
    assert.equal(seqOf((await spool.peek()) ?? assert.fail('empty')), i);
    await spool.ack();
  }
  await spool.close();

  spool = await openSpool(dir, { segmentBytes: 1500 });
  assert.equal(spool.size, 13);
  for (let i = 20; i < 30; i++) await spool.append(batch(i));
  await spool.close();

  spool = await openSpool(dir, { segmentBytes: 1500 });
  assert.deepEqual(await drain(spool), range(7, 30));
  await spool.close();
  spool = await openSpool(dir, { segmentBytes: 1500 });
  assert.equal(spool.size, 0);
  assert.equal(await spool.peek(), undefined);
  await spool.append(batch(99));
  assert.deepEqual(await drain(spool), [99]);
  await spool.close();
});

test('the read position is written atomically as state.json', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const spool = await openSpool(dir, { segmentBytes: 100_000 });
  for (let i = 0; i < 3; i++) await spool.append(batch(i));
  await spool.peek();
  await spool.ack();
  const state = JSON.parse(await readFile(join(dir, 'spool', 'state.json'), 'utf8'));
  assert.equal(state.version, 1);
  assert.equal(state.segment, 1);
  assert.ok(state.offset > 8, 'offset is past the first frame');
  const names = await readdir(join(dir, 'spool'));
  assert.ok(!names.some((n) => n.endsWith('.tmp')));
  await spool.close();
});

test('with ackSyncMs the position is persisted lazily; a crash replays acknowledged batches, never skips', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const clock = new ManualClock();
  clock.t = 10_000;
  const spool = await openSpool(dir, { ackSyncMs: 1000, clock });
  for (let i = 0; i < 6; i++) await spool.append(batch(i));
  clock.advance(1000);
  await drain(spool); // the first ack writes (a second after open wrote), the rest wait for the timer
  // Simulate a crash: no close. Reopen while the first handle is abandoned.
  const after = await openSpool(dir);
  assert.deepEqual(await drain(after), range(1, 6));
  await after.close();
  await spool.close(); // the abandoned handle; its state write now is harmless
});

test('block: an append at the bound waits and resumes after acks free a segment', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  // Frames are ~270-280 bytes: 3 per 1000-byte segment, and the bound holds a bit over 2 segments.
  const spool = await openSpool(dir, { maxBytes: 2000, segmentBytes: 1000 });
  const { waiting, seq } = await fillUntilBlocked(spool);
  assert.ok(seq >= 6, `blocked only at ${seq}`);
  assert.ok(spool.stats.bytes <= 2000);
  let resolved = false;
  waiting.then(() => {
    resolved = true;
  });
  await settle();
  assert.equal(resolved, false, 'still waiting without acks');
  // One ack frees nothing: whole segments are deleted.
  await spool.peek();
  await spool.ack();
  await settle();
  assert.equal(resolved, false, 'a partly acknowledged segment frees nothing');
  for (let i = 1; i < 3; i++) {
    await spool.peek();
    await spool.ack();
  }
  await waiting;
  assert.ok(spool.stats.bytes <= 2000);
  assert.equal(spool.stats.blockedAppends, 0);
  assert.ok(spool.stats.blockedTotal >= 1);
  assert.deepEqual(await drain(spool), range(3, seq + 1));
  assert.equal(spool.stats.droppedRecordsFull, 0);
  await spool.close();
});

test('block: a single-segment spool unblocks once everything is acknowledged', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  // segmentBytes is capped to half the bound; acknowledging all of the active segment must free it.
  const spool = await openSpool(dir, { maxBytes: 1200, segmentBytes: 100_000 });
  const { waiting, seq } = await fillUntilBlocked(spool);
  assert.deepEqual(await drain(spool), range(0, seq + 1), 'the waiting batch went in behind the others');
  await waiting;
  await spool.close();
});

test('block: an aborted wait rejects with SpoolFullError and writes nothing', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const spool = await openSpool(dir, { maxBytes: 2000, segmentBytes: 1000 });
  // Fill until an append really waits (six batches still left room for a seventh: the test used
  // to abort while that one was rolling a segment, and failed when the roll was quick).
  const { waiting, seq } = await fillUntilBlocked(spool);
  const ac = new AbortController();
  const p = spool.append(batch(100), { signal: ac.signal });
  await settle();
  assert.equal(spool.stats.blockedAppends, 2, 'both appends wait for space');
  ac.abort();
  assert.equal(spool.stats.blockedAppends, 1, 'the aborted append no longer waits');
  await assert.rejects(
    p,
    (err: unknown) => err instanceof SpoolFullError && err.code === 'LOGFERRY_ERR_SPOOL_FULL',
  );
  assert.deepEqual(await drain(spool), range(0, seq + 1), 'the aborted batch was never written');
  await waiting;
  await spool.close();
});

test('a batch larger than the bound is refused with SpoolFullError', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const spool = await openSpool(dir, { maxBytes: 2000, segmentBytes: 1000 });
  await assert.rejects(spool.append(batch(1, 5000)), SpoolFullError);
  // A batch bigger than a segment but within the bound gets a segment of its own.
  await spool.append(batch(2, 1500));
  assert.deepEqual(await drain(spool), [2]);
  await spool.close();
});

test('close rejects appends still waiting for space', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const spool = await openSpool(dir, { maxBytes: 2000, segmentBytes: 1000 });
  const { waiting: p } = await fillUntilBlocked(spool);
  const rejected = assert.rejects(p, /closed/);
  await spool.close();
  await rejected;
  await assert.rejects(spool.append(batch(101)), /closed/);
});

test('drop_oldest drops whole oldest segments and counts exactly the records dropped', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const spool = await openSpool(dir, { maxBytes: 3000, segmentBytes: 1000, whenFull: 'drop_oldest' });
  const total = 30;
  for (let i = 0; i < total; i++) await spool.append(batch(i));
  assert.ok(spool.stats.bytes <= 3000);
  const kept = await drain(spool);
  assert.ok(kept.length > 0 && kept.length < total);
  const firstKept = kept[0];
  assert.deepEqual(kept, range(firstKept, total), 'what is left is the newest, contiguous, in order');
  const droppedSeqs = range(0, firstKept);
  assert.equal(spool.stats.droppedFramesFull, droppedSeqs.length);
  assert.equal(
    spool.stats.droppedRecordsFull,
    droppedSeqs.reduce((n, i) => n + (i % 5) + 1, 0),
  );
  assert.equal(spool.stats.frames, 0);
  assert.equal(spool.stats.records, 0);
  await spool.close();
});

test('drop_oldest does not count batches already acknowledged', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const logged: unknown[] = [];
  const { pino } = await import('pino');
  const log = pino({ level: 'warn' }, { write: (s: string) => logged.push(JSON.parse(s)) });
  const spool = await openSpool(dir, { maxBytes: 3000, segmentBytes: 1000, whenFull: 'drop_oldest', log });
  for (let i = 0; i < 9; i++) await spool.append(batch(i));
  // Acknowledge the first two frames: the first segment (3 frames) then holds one unacknowledged.
  for (let i = 0; i < 2; i++) {
    await spool.peek();
    await spool.ack();
  }
  for (let i = 9; i < 12; i++) await spool.append(batch(i));
  assert.equal(spool.stats.droppedFramesFull, 1);
  assert.equal(spool.stats.droppedRecordsFull, (2 % 5) + 1);
  const line = logged.find((l) => (l as { msg: string }).msg === 'spool full: dropped the oldest segment') as
    | { droppedRecords: number; ranges: { fileId: string; startOffset: number; endOffset: number }[] }
    | undefined;
  assert.ok(line, 'the drop is logged');
  assert.equal(line.droppedRecords, 3);
  assert.deepEqual(line.ranges, [{ fileId: 'dev1:ino7', startOffset: 200, endOffset: 300 }]);
  assert.deepEqual(await drain(spool), range(3, 12));
  await spool.close();
});

test('ENOSPC behaves like block: the append waits, is reported, and completes when space returns', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const clock = new ManualClock();
  let full = false;
  const spool = await openSpool(dir, {
    clock,
    diskFullRetryMs: 500,
    beforeWrite: () => {
      if (full) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    },
  });
  await spool.append(batch(0));
  full = true;
  let resolved = false;
  const p = spool.append(batch(1)).then(() => {
    resolved = true;
  });
  await until(() => spool.stats.diskFull === 1, 'the disk-full report');
  assert.equal(resolved, false);
  assert.equal(spool.stats.diskFullErrors, 1);
  clock.advance(500);
  await until(() => spool.stats.diskFullErrors === 2, 'a retry after the delay');
  full = false;
  clock.advance(500);
  await p;
  assert.equal(spool.stats.diskFull, 0);
  assert.deepEqual(await drain(spool), [0, 1]);
  await spool.close();
});

test('fsync interval: appends resolve before the timer, the timer syncs, data reads back', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const clock = new ManualClock();
  const spool = await openSpool(dir, { fsync: 200, clock });
  for (let i = 0; i < 5; i++) await spool.append(batch(i));
  assert.equal(clock.pendingTimers, 1, 'one sync scheduled for the interval');
  clock.advance(200);
  await settle();
  await spool.close();
  const again = await openSpool(dir);
  assert.deepEqual(await drain(again), range(0, 5));
  await again.close();
});

test('segment numbering keeps going after everything was acknowledged and reopened', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  let spool = await openSpool(dir, { segmentBytes: 1000 });
  for (let i = 0; i < 10; i++) await spool.append(batch(i));
  await drain(spool);
  await spool.close();
  const before = (await readdir(join(dir, 'spool'))).filter((n) => n.endsWith('.seg'));
  spool = await openSpool(dir, { segmentBytes: 1000 });
  for (let i = 10; i < 13; i++) await spool.append(batch(i));
  await spool.close();
  spool = await openSpool(dir, { segmentBytes: 1000 });
  assert.deepEqual(await drain(spool), range(10, 13), `segments before: ${before.join(',')}`);
  await spool.close();
  assert.ok((await stat(join(dir, 'spool', 'state.json'))).size > 0);
});

test('state file corruption: reading restarts at the oldest segment, nothing is skipped', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  let spool = await openSpool(dir, { segmentBytes: 1000 });
  for (let i = 0; i < 10; i++) await spool.append(batch(i));
  for (let i = 0; i < 2; i++) {
    await spool.peek();
    await spool.ack();
  }
  await spool.close();
  await writeFile(join(dir, 'spool', 'state.json'), '{"version":1,"segm');
  spool = await openSpool(dir, { segmentBytes: 1000 });
  assert.equal(spool.stats.stateResets, 1);
  const seen = await drain(spool);
  assert.deepEqual(seen, range(0, 10), 'acknowledged batches of the oldest segment are replayed, none lost');
  await spool.close();
  const q = await readdir(join(dir, 'spool', 'quarantine'));
  assert.ok(q.includes('state.json.bad'));
});

test('state offset inside a frame steps back to that frame (replay, not skip)', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  let spool = await openSpool(dir, { segmentBytes: 100_000 });
  for (let i = 0; i < 4; i++) await spool.append(batch(i));
  await spool.close();
  const frame0 = encodeFrame(batch(0)).bytes;
  await writeFile(
    join(dir, 'spool', 'state.json'),
    JSON.stringify({ version: 1, segment: 1, offset: 8 + frame0 + 5 }),
  );
  spool = await openSpool(dir, { segmentBytes: 100_000 });
  assert.deepEqual(await drain(spool), [1, 2, 3]);
  await spool.close();
});
