import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FileWatermark } from '../../../src/checkpoint/watermark.ts';
import type { LineChunk } from '../../../src/model/line-chunk.ts';

function chunk(end: number): LineChunk {
  return {
    source: 's',
    path: '/p',
    fileId: 'f',
    lines: ['x'],
    offsets: [end - 2],
    flags: undefined,
    endOffset: end,
    bytes: 2,
    readAt: 0,
    refs: 1,
  };
}
const mark = (offset: number) => ({ offset, marker: `m${offset}`, markerLen: 1 });

describe('FileWatermark', () => {
  it('moves only over a contiguous acknowledged prefix', () => {
    const wm = new FileWatermark(mark(0));
    const [a, b, c] = [chunk(10), chunk(20), chunk(30)];
    wm.add(a, mark(10));
    wm.add(b, mark(20));
    wm.add(c, mark(30));
    assert.equal(wm.ack(c), false);
    assert.equal(wm.committed.offset, 0);
    assert.equal(wm.ack(a), true);
    assert.equal(wm.committed.offset, 10);
    assert.equal(wm.pending, 2);
    assert.equal(wm.ack(b), true);
    assert.deepEqual(wm.committed, mark(30));
    assert.equal(wm.pending, 0);
  });

  it('ignores unknown and repeated acknowledgements', () => {
    const wm = new FileWatermark(mark(5));
    const a = chunk(10);
    wm.add(a, mark(10));
    assert.equal(wm.ack(chunk(99)), false);
    assert.equal(wm.ack(a), true);
    assert.equal(wm.ack(a), false);
    assert.equal(wm.committed.offset, 10);
  });

  it('stays correct over many out-of-order acks', () => {
    const wm = new FileWatermark(mark(0));
    const chunks = Array.from({ length: 5000 }, (_, i) => chunk((i + 1) * 10));
    for (const c of chunks) wm.add(c, mark(c.endOffset));
    // acknowledge odd ones first, then even ones
    for (let i = 1; i < chunks.length; i += 2) wm.ack(chunks[i]);
    assert.equal(wm.committed.offset, 0);
    for (let i = 0; i < chunks.length; i += 2) {
      wm.ack(chunks[i]);
      assert.equal(wm.committed.offset, Math.min((i + 2) * 10, 50000));
    }
    assert.equal(wm.pending, 0);
  });

  it('keeps no acknowledged chunk alive while later ones are pending (their lines are the log text)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const wm = new FileWatermark(mark(0));
    const refs: WeakRef<LineChunk>[] = [];
    // Acknowledged in order with one chunk always pending, as at full speed: the head never
    // reaches the end of the queue, so the queue is not reset.
    let pending = chunk(10);
    wm.add(pending, mark(10));
    for (let i = 2; i <= 100; i++) {
      const next = chunk(i * 10);
      wm.add(next, mark(i * 10));
      refs.push(new WeakRef(pending));
      wm.ack(pending);
      pending = next;
    }
    assert.equal(wm.pending, 1);
    assert.equal(wm.committed.offset, 990);
    // A WeakRef target stays alive until the end of the job that created or dereferenced it.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0);
  });
});
