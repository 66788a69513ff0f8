import assert from 'node:assert/strict';
import { open, readdir, readFile, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeFrame } from '../../../src/spool/spool-batch.ts';
import { batch, drain, openSpool, range, tempDir } from './helpers.ts';

const SEG1 = '0000000000000001.seg';

async function writeFrames(dir: string, n: number, segmentBytes = 1_000_000): Promise<number[]> {
  const spool = await openSpool(dir, { segmentBytes });
  for (let i = 0; i < n; i++) await spool.append(batch(i));
  await spool.close();
  // Offsets of each frame in segment 1 (all frames in one segment with the default size).
  const offsets: number[] = [];
  let off = 8;
  for (let i = 0; i < n; i++) {
    offsets.push(off);
    off += encodeFrame(batch(i)).bytes;
  }
  return offsets;
}

async function flipByte(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0] ^= 0x40;
  await fh.write(b, 0, 1, at);
  await fh.close();
}

test('a torn last frame is cut off into quarantine and the intact frames are kept', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const offsets = await writeFrames(dir, 10);
  const seg = join(dir, 'spool', SEG1);
  const cut = offsets[9] + 40; // mid-way through the last frame
  await truncate(seg, cut);

  const spool = await openSpool(dir);
  assert.equal(spool.damage.length, 1);
  const d = spool.damage[0];
  assert.equal(d.reason, 'torn');
  assert.equal(d.offset, offsets[9]);
  assert.equal(d.bytes, 40);
  assert.ok(d.quarantinedTo);
  assert.equal((await readFile(d.quarantinedTo)).length, 40, 'the bad bytes are saved');
  assert.equal(spool.stats.droppedRangesCorrupt, 1);
  assert.equal(
    spool.stats.droppedRecordsCorrupt,
    (9 % 5) + 1,
    'the torn frame header still told its record count',
  );
  assert.equal((await stat(seg)).size, offsets[9], 'the segment was truncated to the last intact frame');
  // Appends go on after the intact frames.
  await spool.append(batch(50));
  assert.deepEqual(await drain(spool), [...range(0, 9), 50]);
  await spool.close();

  const again = await openSpool(dir);
  assert.equal(again.damage.length, 0, 'a repaired spool opens clean');
  await again.close();
});

test('a torn frame header (fewer than 12 bytes) is recovered too', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const offsets = await writeFrames(dir, 3);
  await truncate(join(dir, 'spool', SEG1), offsets[2] + 5);
  const spool = await openSpool(dir);
  assert.equal(spool.damage.length, 1);
  assert.equal(spool.damage[0].reason, 'torn');
  assert.deepEqual(await drain(spool), [0, 1]);
  await spool.close();
});

test('a flipped byte in a middle frame: that frame is quarantined and padded over, the others are kept', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const offsets = await writeFrames(dir, 10);
  const seg = join(dir, 'spool', SEG1);
  const sizeBefore = (await stat(seg)).size;
  await flipByte(seg, offsets[4] + 100); // inside frame 4's payload

  const spool = await openSpool(dir);
  assert.equal(spool.damage.length, 1);
  assert.equal(spool.damage[0].reason, 'checksum');
  assert.equal(spool.damage[0].offset, offsets[4]);
  assert.equal(spool.damage[0].bytes, offsets[5] - offsets[4]);
  assert.equal((await stat(seg)).size, sizeBefore, 'padding keeps every other frame at its offset');
  const q = await readdir(join(dir, 'spool', 'quarantine'));
  assert.deepEqual(q, [`${SEG1}.${offsets[4]}.checksum.bad`]);
  assert.equal(spool.size, 9);
  assert.deepEqual(await drain(spool), [0, 1, 2, 3, 5, 6, 7, 8, 9]);
  await spool.close();
  const again = await openSpool(dir);
  assert.equal(again.damage.length, 0);
  await again.close();
});

test('a flipped byte in a length field: recovery finds the next frame by its magic', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const offsets = await writeFrames(dir, 6);
  await flipByte(join(dir, 'spool', SEG1), offsets[2] + 5); // length field of frame 2
  const spool = await openSpool(dir);
  assert.equal(spool.damage.length, 1);
  assert.deepEqual(await drain(spool), [0, 1, 3, 4, 5]);
  await spool.close();
});

test('a flipped byte in the last frame of a sealed segment leaves the next segments alone', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const spool0 = await openSpool(dir, { segmentBytes: 1000 });
  for (let i = 0; i < 9; i++) await spool0.append(batch(i));
  await spool0.close();
  const seg = join(dir, 'spool', SEG1);
  const size = (await stat(seg)).size;
  await flipByte(seg, size - 3); // inside the last frame of segment 1 (frames 0..2)
  const spool = await openSpool(dir, { segmentBytes: 1000 });
  assert.equal(spool.damage.length, 1);
  assert.deepEqual(await drain(spool), [0, 1, 3, 4, 5, 6, 7, 8]);
  await spool.close();
});

test('a segment without its header goes to quarantine whole; an empty one is removed', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await writeFrames(dir, 3);
  await writeFile(join(dir, 'spool', '0000000000000002.seg'), 'garbage that is not a segment');
  await writeFile(join(dir, 'spool', '0000000000000003.seg'), '');
  const spool = await openSpool(dir);
  assert.equal(spool.damage.length, 1);
  assert.equal(spool.damage[0].reason, 'header');
  const names = await readdir(join(dir, 'spool'));
  assert.ok(!names.includes('0000000000000002.seg') && !names.includes('0000000000000003.seg'));
  assert.ok((await readdir(join(dir, 'spool', 'quarantine'))).includes('0000000000000002.seg.header.bad'));
  await spool.append(batch(9));
  assert.deepEqual(await drain(spool), [0, 1, 2, 9]);
  await spool.close();
});

test('damage found while reading (after open) is quarantined and skipped, not sent', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const offsets = await writeFrames(dir, 5);
  const spool = await openSpool(dir);
  await flipByte(join(dir, 'spool', SEG1), offsets[3] + 50);
  assert.deepEqual(await drain(spool), [0, 1, 2, 4]);
  assert.equal(spool.stats.droppedRangesCorrupt, 1);
  assert.equal(spool.stats.frames, 0);
  await spool.close();
  const again = await openSpool(dir);
  assert.equal(again.damage.length, 0, 'the frame was padded over on disk');
  await again.close();
});

test('opening a spool of random bytes never throws and leaves a working spool', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const offsets = await writeFrames(dir, 8);
  const seg = join(dir, 'spool', SEG1);
  // Overwrite a stretch covering frames 2..4 with noise that contains frame magics.
  const noise = Buffer.alloc(offsets[5] - offsets[2] - 20);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 131 + 7) & 0xff;
  noise.write('LFFR', 10, 'latin1');
  noise.write('LFFR', 200, 'latin1');
  const fh = await open(seg, 'r+');
  await fh.write(noise, 0, noise.length, offsets[2] + 10);
  await fh.close();
  const spool = await openSpool(dir);
  assert.ok(spool.damage.length >= 1);
  assert.deepEqual(await drain(spool), [0, 1, 5, 6, 7]);
  await spool.close();
});

test('a segment checked at open and changed after it (older file, trusted mtime) is checked again on read', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const offsets = await writeFrames(dir, 5);
  const seg = join(dir, 'spool', SEG1);
  const past = new Date(Date.now() - 60_000);
  await utimes(seg, past, past); // written long before this open: reads may skip the checksum
  const spool = await openSpool(dir);
  assert.equal(spool.damage.length, 0);
  await flipByte(seg, offsets[2] + 50); // moves the mtime: the skip no longer applies
  assert.deepEqual(await drain(spool), [0, 1, 3, 4]);
  assert.equal(spool.stats.droppedRangesCorrupt, 1);
  await spool.close();
});

test('an old, unchanged segment replays whole after a restart', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await writeFrames(dir, 40, 3000);
  const past = new Date(Date.now() - 60_000);
  for (const name of await readdir(join(dir, 'spool')))
    if (name.endsWith('.seg')) await utimes(join(dir, 'spool', name), past, past);
  const spool = await openSpool(dir, { segmentBytes: 3000 });
  assert.deepEqual(await drain(spool), range(0, 40));
  await spool.close();
});
