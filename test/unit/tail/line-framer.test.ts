import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import { chunkLines, type LineChunk } from '../../../src/model/line-chunk.ts';
import { LineFramer } from '../../../src/tail/line-framer.ts';

function frame(text: string | Buffer, opts: { max?: number; final?: boolean; base?: number } = {}) {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  return new LineFramer(opts.max ?? 1024).frame(buf, 0, buf.length, opts.base ?? 0, opts.final ?? false);
}

describe('LineFramer', () => {
  it('frames on \\n, strips one trailing \\r, and reports file offsets', () => {
    const r = frame('a\r\nbb\n\nccc\r\r\n', { base: 100 });
    assert.deepEqual(r.lines, ['a', 'bb', '', 'ccc\r']);
    assert.deepEqual(r.offsets, [100, 103, 106, 107]);
    assert.equal(r.consumed, 13);
    assert.equal(r.flags, undefined);
  });

  it('holds an unterminated last line, emits it when final', () => {
    const held = frame('one\ntw');
    assert.deepEqual(held.lines, ['one']);
    assert.equal(held.consumed, 4);
    const flushed = frame('one\ntw', { final: true });
    assert.deepEqual(flushed.lines, ['one', 'tw']);
    assert.equal(flushed.consumed, 6);
  });

  it('respects `from` and a lookback prefix', () => {
    const buf = Buffer.from('xxxxhello\nworld\n');
    const r = new LineFramer(100).frame(buf, 4, buf.length, 996, false);
    assert.deepEqual(r.lines, ['hello', 'world']);
    assert.deepEqual(r.offsets, [1000, 1006]);
  });

  it('decodes non-ASCII UTF-8 with correct byte offsets', () => {
    const r = frame('héllo\n日本\nz\n');
    assert.deepEqual(r.lines, ['héllo', '日本', 'z']);
    assert.deepEqual(r.offsets, [0, 7, 14]);
  });

  it('replaces invalid UTF-8 with U+FFFD and flags only that line', () => {
    const buf = Buffer.concat([Buffer.from('ok\nbad '), Buffer.from([0xff, 0xfe]), Buffer.from('\nfine\n')]);
    const r = frame(buf);
    assert.deepEqual(r.lines, ['ok', 'bad \ufffd\ufffd', 'fine']);
    assert.equal(r.invalidUtf8, 1);
    assert.deepEqual(r.flags?.[1], ['invalid_utf8']);
    assert.equal(r.flags?.[0], undefined);
    assert.equal(r.flags?.length, 3);
  });

  it('keeps NUL bytes inside lines without breaking framing', () => {
    const r = frame('a\0b\n\0\n');
    assert.deepEqual(r.lines, ['a\0b', '\0']);
  });

  it('splits an over-long line into flagged pieces, losing no byte', () => {
    const long = 'x'.repeat(250);
    const r = frame(`short\n${long}\nafter\n`, { max: 100 });
    assert.deepEqual(r.lines, ['short', 'x'.repeat(100), 'x'.repeat(100), 'x'.repeat(50), 'after']);
    assert.deepEqual(r.offsets, [0, 6, 106, 206, 257]);
    assert.equal(r.truncated, 3);
    assert.deepEqual(r.flags, [undefined, ['truncated'], ['truncated'], ['truncated'], undefined]);
  });

  it('cuts an unterminated over-long line without waiting for its end, and continues it later', () => {
    const framer = new LineFramer(100);
    const first = Buffer.from('y'.repeat(230));
    const a = framer.frame(first, 0, first.length, 0, false);
    assert.deepEqual(
      a.lines.map((l) => l.length),
      [100, 100],
    );
    assert.equal(a.consumed, 200);
    assert.equal(framer.continuing, true);
    const second = Buffer.from(`${'y'.repeat(30)}zz\nnext\n`);
    const b = framer.frame(second, 0, second.length, 200, false);
    assert.deepEqual(b.lines, [`${'y'.repeat(30)}zz`, 'next']);
    assert.deepEqual(b.flags, [['truncated'], undefined]);
  });

  it('does not cut inside a multi-byte character', () => {
    const r = frame(`${'é'.repeat(60)}\n`, { max: 101 });
    assert.ok(r.lines.every((l) => !l.includes('\ufffd')));
    assert.equal(r.lines.join(''), 'é'.repeat(60));
    assert.equal(Buffer.byteLength(r.lines[0]), 100);
  });

  it('gives the same lines on the ASCII fast path and the byte path', () => {
    const text = `${Array.from(
      { length: 500 },
      (_, i) => `line ${i} ${'z'.repeat(i % 37)}${i % 5 === 0 ? '\r' : ''}`,
    ).join('\n')}\n`;
    const fast = frame(text);
    const slow = frame(`é\n${text}`);
    assert.deepEqual(slow.lines.slice(1), fast.lines);
    assert.deepEqual(
      slow.offsets.slice(1).map((o) => o - 3),
      fast.offsets,
    );
  });

  it('matches a line-by-line reference on random bytes (multi-byte, invalid UTF-8, CR, NUL), split at random reads', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = [Buffer.from('ascii text '), Buffer.from('é'), Buffer.from('日本'), Buffer.from('😀')];
    const junk = [Buffer.from([0xff]), Buffer.from([0xe6, 0x97]), Buffer.from([0x80]), Buffer.from([0])];
    for (let round = 0; round < 40; round++) {
      const max = 16 + rnd(200);
      const parts: Buffer[] = [];
      for (let l = 0; l < 60; l++) {
        for (let k = rnd(12); k > 0; k--) {
          parts.push(rnd(10) === 0 ? junk[rnd(junk.length)] : pieces[rnd(pieces.length)]);
        }
        if (rnd(5) === 0) parts.push(Buffer.from('\r'));
        parts.push(Buffer.from('\n'));
      }
      const all = Buffer.concat(parts);
      // Reference: each line decoded on its own, split into pieces of at most `max` bytes when long.
      const want: { line: string; offset: number; invalid: boolean }[] = [];
      for (let start = 0; start < all.length; ) {
        const nl = all.indexOf(10, start);
        let end = nl;
        if (end > start && all[end - 1] === 13) end--;
        if (end - start <= max) {
          const bytes = all.subarray(start, end);
          want.push({ line: bytes.toString('utf8'), offset: start, invalid: !isUtf8(bytes) });
        }
        start = nl + 1;
      }
      // Small decoding blocks in half the rounds, so that block ends fall everywhere.
      const framer = round % 2 === 0 ? new LineFramer(max) : new LineFramer(max, 1 + rnd(300));
      const got: { line: string; offset: number; invalid: boolean }[] = [];
      let consumed = 0;
      while (consumed < all.length) {
        const end = Math.min(all.length, consumed + 1 + rnd(round % 4 < 2 ? 700 : 4000));
        const buf = all.subarray(consumed, end);
        const r = framer.frame(buf, 0, buf.length, consumed, false);
        r.lines.forEach((line, i) => {
          const flags = r.flags?.[i] ?? [];
          if (!flags.includes('truncated'))
            got.push({ line, offset: r.offsets[i], invalid: flags.includes('invalid_utf8') });
        });
        consumed += r.consumed;
      }
      assert.deepEqual(got, want, `round ${round}`);
    }
  });

  it('without strings: the same offsets, ends, flags and consumed, and chunkLines decodes the same lines', () => {
    let seed = 777;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = ['ascii "quoted" ', 'é', '日本', '😀', '\r', '\t'].map((t) => Buffer.from(t));
    const junk = [Buffer.from([0xff]), Buffer.from([0xe6, 0x97]), Buffer.from([0x80]), Buffer.from([0])];
    for (let round = 0; round < 30; round++) {
      const max = 16 + rnd(200);
      const parts: Buffer[] = [];
      for (let l = 0; l < 80; l++) {
        for (let k = rnd(14); k > 0; k--)
          parts.push(rnd(12) === 0 ? junk[rnd(junk.length)] : pieces[rnd(pieces.length)]);
        parts.push(Buffer.from(rnd(4) === 0 ? '\r\n' : '\n'));
      }
      const all = Buffer.concat(parts);
      const block = 1 + rnd(300);
      const withStrings = new LineFramer(max, block);
      const bytesOnly = new LineFramer(max, block, false);
      let consumed = 0;
      while (consumed < all.length) {
        const end = Math.min(all.length, consumed + 1 + rnd(900));
        const buf = all.subarray(consumed, end);
        const final = end === all.length;
        const a = withStrings.frame(buf, 0, buf.length, consumed, final);
        const b = bytesOnly.frame(buf, 0, buf.length, consumed, final);
        assert.deepEqual(b.lines, []);
        assert.deepEqual(
          [b.offsets, b.ends, b.flags, b.consumed, b.truncated, b.invalidUtf8],
          [a.offsets, a.ends, a.flags, a.consumed, a.truncated, a.invalidUtf8],
          `round ${round} at ${consumed}`,
        );
        a.lines.forEach((line, i) => {
          if (!(a.flags?.[i] ?? []).includes('invalid_utf8'))
            assert.equal(a.ends[i] - a.offsets[i], Buffer.byteLength(line), 'ends: the content bytes');
        });
        const chunk = {
          lines: b.lines,
          offsets: b.offsets,
          ends: b.ends,
          raw: buf,
          rawBase: consumed,
        } as unknown as LineChunk;
        assert.deepEqual(chunkLines(chunk), a.lines);
        consumed += a.consumed;
      }
    }
  });
});
