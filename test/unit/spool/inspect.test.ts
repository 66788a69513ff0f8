import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspectSpool, readSpoolBatches } from '../../../src/spool/inspect.ts';
import { encodeFrame } from '../../../src/spool/spool-batch.ts';
import { batch, openSpool, range, seqOf, tempDir } from './helpers.ts';

test('inspectSpool counts unacknowledged frames, records, bytes, times and topics', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const spool = await openSpool(dir, { segmentBytes: 1000 });
  for (let i = 0; i < 10; i++) await spool.append(batch(i, 200, i < 6 ? 'app' : 'audit'));
  for (let i = 0; i < 4; i++) {
    await spool.peek();
    await spool.ack();
  }
  const live = { ...spool.stats };
  await spool.close();

  const r = await inspectSpool(dir);
  assert.equal(r.state, 'ok');
  assert.equal(r.frames, 6);
  assert.equal(
    r.records,
    range(4, 10).reduce((n, i) => n + (i % 5) + 1, 0),
  );
  assert.equal(r.records, live.records);
  assert.equal(r.bytes, live.bytes);
  assert.equal(r.segments.length, live.segments);
  assert.equal(r.oldestTime, 1_000_004);
  assert.equal(r.newestTime, 1_000_009);
  assert.deepEqual(r.topics, {
    app: { frames: 2, records: (4 % 5) + 1 + (5 % 5) + 1 },
    audit: { frames: 4, records: range(6, 10).reduce((n, i) => n + (i % 5) + 1, 0) },
  });
  assert.equal(r.damagedRanges, 0);

  const seqs: number[] = [];
  for await (const b of readSpoolBatches(dir)) seqs.push(seqOf(b));
  assert.deepEqual(seqs, range(4, 10));
});

test('inspectSpool reports damage without repairing it, and an absent spool as empty', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const empty = await inspectSpool(dir);
  assert.equal(empty.frames, 0);
  assert.equal(empty.segments.length, 0);
  assert.equal(empty.oldestTime, undefined);

  const spool = await openSpool(dir);
  for (let i = 0; i < 3; i++) await spool.append(batch(i));
  await spool.close();
  const seg = join(dir, 'spool', '0000000000000001.seg');
  const fh = await open(seg, 'r+');
  await fh.write(Buffer.from([0xff]), 0, 1, 8 + encodeFrame(batch(0)).bytes + 60);
  await fh.close();

  const r = await inspectSpool(dir);
  assert.equal(r.frames, 2);
  assert.equal(r.damagedRanges, 1);
  assert.equal(r.damagedBytes, encodeFrame(batch(1)).bytes);
  assert.equal(r.quarantineFiles, 0, 'inspect changes nothing');
  const seqs: number[] = [];
  for await (const b of readSpoolBatches(dir)) seqs.push(seqOf(b));
  assert.deepEqual(seqs, [0, 2]);
});
