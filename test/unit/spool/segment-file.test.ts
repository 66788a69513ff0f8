import assert from 'node:assert/strict';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BlockReader } from '../../../src/spool/segment-file.ts';
import { tempDir } from './helpers.ts';

test('BlockReader returns the right bytes for reads inside, across and beyond its read-ahead blocks', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const data = Buffer.alloc(10_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
  const file = join(dir, 'f.bin');
  await writeFile(file, data);
  const fh = await open(file, 'r');
  t.after(() => fh.close());
  const reader = new BlockReader(fh, 1000, true);
  // Sequential reads of odd sizes: many straddle two blocks, some are longer than a block.
  let pos = 0;
  for (const len of [10, 995, 300, 1700, 1, 999, 2500, 13]) {
    const got = await reader.read(pos, len, data.length);
    assert.ok(got !== undefined);
    assert.ok(got.equals(data.subarray(pos, pos + len)), `bytes at ${pos}+${len}`);
    assert.equal(typeof reader.blockMtimeNs, 'bigint');
    pos += len;
  }
  // Backwards, after an invalidate, past the limit, past the end.
  assert.ok((await reader.read(100, 50, data.length))?.equals(data.subarray(100, 150)));
  reader.invalidate();
  assert.ok((await reader.read(4000, 2000, data.length))?.equals(data.subarray(4000, 6000)));
  assert.equal(await reader.read(9000, 200, 9100), undefined);
  assert.equal(await reader.read(9990, 20, 20_000), undefined);
  await reader.settle();
});
