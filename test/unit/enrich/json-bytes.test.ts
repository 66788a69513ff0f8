import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decimalBytes,
  jsonStringMaxBytes,
  jsonStringUnitsDelta,
  lineRecordValueBytes,
  wasmEscaperLoaded,
  writeDecimal,
  writeJsonString,
  writeLineRecord,
} from '../../../src/enrich/json-bytes.ts';
import { type ByteArena, byteArena } from '../../../src/model/byte-arena.ts';

/** Where the buffers are: ordinary Buffers (the JavaScript escaper) or the byte arena (WebAssembly). */
type Place = 'JavaScript' | 'WebAssembly';

/** Room the WebAssembly escaper may write past its end. */
const WASM_SLACK = 16;

function bytesIn(place: Place, size: number, fill: number): Buffer {
  if (place === 'JavaScript') return Buffer.alloc(size, fill);
  const buf = (byteArena as ByteArena).alloc(size);
  assert.ok((byteArena as ByteArena).contains(buf), 'the arena has room');
  return buf.fill(fill);
}

/** Writes `s`, placed at `at` in a source with bytes around it, at `to` in the destination. */
function viaBytes(place: Place, s: string, at = 0, to = 2): { text: string; units: number } {
  const bytes = Buffer.from(s);
  const src = bytesIn(place, at + bytes.length + 5, 0x22);
  bytes.copy(src, at);
  const slack = place === 'WebAssembly' ? WASM_SLACK : 0;
  const dst = bytesIn(place, to + jsonStringMaxBytes(bytes.length) + slack + 4, 0xaa);
  const end = writeJsonString(dst, to, src, at, at + bytes.length);
  assert.equal(dst[to - 1], 0xaa, 'nothing written before the position');
  for (let k = end + slack; k < dst.length; k++)
    assert.equal(dst[k], 0xaa, 'nothing written after the slack');
  const out = { text: dst.toString('utf8', to, end), units: end - to + jsonStringUnitsDelta };
  if (place === 'WebAssembly') {
    byteArena?.free(src);
    byteArena?.free(dst);
  }
  return out;
}

test('the WebAssembly escaper is loaded on this Node (SIMD and an arena)', () => {
  assert.ok(wasmEscaperLoaded);
});

for (const place of ['JavaScript', 'WebAssembly'] as const) {
  test(`${place}: every single character 0-0x7f is written as JSON.stringify writes it`, () => {
    for (let c = 0; c < 0x80; c++) {
      const s = `a${String.fromCharCode(c)}b`;
      assert.equal(viaBytes(place, s).text, JSON.stringify(s), `char ${c}`);
    }
  });

  test(`${place}: UTF-8 of 2, 3 and 4 bytes is copied; the UTF-16 length of the output is what stringify gives`, () => {
    const samples = [
      '',
      'plain',
      'grüße',
      '日本語のログ',
      '🙂 and 🙃, "quoted" \\ and \t',
      '\u2028\u2029 separators are not escaped',
      'ünïcödé\u0000\u001f\u007f',
      '𝄞'.repeat(50),
    ];
    for (const s of samples) {
      const { text, units } = viaBytes(place, s);
      assert.equal(text, JSON.stringify(s));
      assert.equal(units, JSON.stringify(s).length, `units of ${s}`);
    }
  });

  test(`${place}: random strings of every kind of code point match JSON.stringify`, () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const ranges = [
      [0, 0x20],
      [0x20, 0x80],
      [0x80, 0x800],
      [0x800, 0xd800],
      [0xe000, 0x10000],
      [0x10000, 0x110000],
    ] as const;
    for (let i = 0; i < 2000; i++) {
      let s = '';
      const len = rnd(40);
      for (let k = 0; k < len; k++) {
        const [lo, hi] = ranges[rnd(ranges.length)] as readonly [number, number];
        s += String.fromCodePoint(lo + rnd(hi - lo));
      }
      const { text, units } = viaBytes(place, s, rnd(9), 1 + rnd(9));
      assert.equal(text, JSON.stringify(s));
      assert.equal(units, JSON.stringify(s).length);
    }
  });

  test(`${place}: runs of plain text of every length and alignment, with one byte to escape anywhere`, () => {
    for (let len = 0; len < 24; len++)
      for (let at = 0; at < 4; at++)
        for (const special of ['', '"', '\\', '\n', '\u0000', '\u001f', 'é', '🙂', '\u007f', ' ']) {
          for (let pos = 0; pos <= len; pos++) {
            const s = 'a'.repeat(pos) + special + 'b'.repeat(len - pos);
            assert.equal(viaBytes(place, s, at, 1 + (len % 4)).text, JSON.stringify(s));
          }
        }
  });

  test(`${place}: a worst-case line (every byte escaped as \\u00XX) fits jsonStringMaxBytes`, () => {
    const slack = place === 'WebAssembly' ? WASM_SLACK : 0;
    const src = bytesIn(place, 100, 1);
    const dst = bytesIn(place, jsonStringMaxBytes(100) + slack, 0);
    assert.equal(writeJsonString(dst, 0, src, 0, 100), dst.length - slack);
    assert.equal(dst.toString('latin1', 0, dst.length - slack), JSON.stringify('\u0001'.repeat(100)));
  });
}

test('decimals of every width up to 2^53', () => {
  const values = [
    0,
    1,
    9,
    10,
    99,
    100,
    12345,
    999_999,
    1_000_000,
    2 ** 31,
    2 ** 32 + 5,
    Number.MAX_SAFE_INTEGER,
  ];
  for (const v of values) {
    const buf = Buffer.alloc(20, 0x20);
    const end = writeDecimal(buf, 1, v);
    assert.equal(buf.toString('latin1', 1, end), String(v));
    assert.equal(decimalBytes(v), String(v).length);
  }
});

/** The value of a record writeLineRecord wrote, ending at `end` (before its one-byte header count). */
function recordValue(dst: Buffer, end: number): string {
  return dst.toString('utf8', end - 1 - lineRecordValueBytes, end - 1);
}

test('writeLineRecord writes head, line, mid, offset, id, offset, tail in the arena; -1 elsewhere', () => {
  const arena = byteArena as ByteArena;
  const head = Buffer.from('{"@timestamp":"2026-11-26T22:00:00.000Z","message":');
  const mid = Buffer.from(',"log":{"offset":');
  const id = Buffer.from('},"event":{"id":"abc-');
  const tail = Buffer.from('"}}');
  const room = head.length + mid.length + id.length + tail.length + 32;
  const lines = ['', 'plain', 'a "quoted" \\ line\twith\u0001 controls and ünïcödé 🙂', 'x'.repeat(70)];
  const offsets = [0, 9, 10, 12345, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER];
  for (const line of lines)
    for (const offset of offsets) {
      const bytes = Buffer.from(line);
      const src = arena.alloc(bytes.length + 3);
      bytes.copy(src, 3);
      const dst = arena.alloc(room + 6 * bytes.length + 24 + 18 + 5).fill(0xaa);
      const write = (to: Buffer, at: number) =>
        writeLineRecord(to, at, 0, null, src, 3, 3 + bytes.length, offset, head, mid, id, tail, room);
      const end = write(dst, 5);
      const expected = `${head}${JSON.stringify(line)}${mid}${offset}${id}${offset}${tail}`;
      assert.equal(recordValue(dst, end), expected);
      assert.equal(
        lineRecordValueBytes + jsonStringUnitsDelta,
        expected.length,
        'UTF-16 length (ASCII pieces)',
      );
      assert.equal(dst[4], 0xaa, 'nothing written before the position');
      // Not in the arena, or without room: nothing written.
      const plain = Buffer.alloc(dst.length, 0xaa);
      assert.equal(write(plain, 5), -1);
      assert.ok(plain.every((b) => b === 0xaa));
      assert.equal(write(dst, 6), -1);
      arena.free(src);
      arena.free(dst);
    }
});

test('writeLineRecord follows the pieces when they change (another file, another millisecond)', () => {
  const arena = byteArena as ByteArena;
  const src = arena.alloc(16);
  src.write('line', 0);
  const dst = arena.alloc(8192);
  const pieces = (h: string, m: string, i: string, t: string) => [h, m, i, t].map((x) => Buffer.from(x));
  const a = pieces('{"t":1,"m":', ',"o":', ',"id":"a-', '"}');
  const b = pieces('{"t":2,"m":', ',"offset":', ',"id":"bb-', '","k8s":{"ns":"x"}}');
  const c = [b[0], ...a.slice(1)];
  const long = pieces('{"t":3,"m":', `,"labels":${JSON.stringify('y'.repeat(5000))},"o":`, ',"id":"c-', '"}');
  for (const set of [a, b, c, a, long, a]) {
    const [h, m, i, t] = set as [Buffer, Buffer, Buffer, Buffer];
    const room = h.length + m.length + i.length + t.length + 32;
    const end = writeLineRecord(dst, 0, 0, null, src, 0, 4, 42, h, m, i, t, room);
    assert.equal(recordValue(dst, end), `${h}"line"${m}42${i}42${t}`);
  }
  arena.free(src);
  arena.free(dst);
});

/** A Kafka record v2 as RecordsEncoder frames one: zigzag varints, no timestamp delta, no headers. */
function referenceRecord(delta: number, key: Buffer | null, value: Buffer): Buffer {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    let v = n * 2;
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
    return out;
  };
  const body = Buffer.concat([
    Buffer.from([0, 0, ...varint(delta)]),
    key === null ? Buffer.from([1]) : Buffer.concat([Buffer.from(varint(key.length)), key]),
    Buffer.from(varint(value.length)),
    value,
    Buffer.from([0]),
  ]);
  return Buffer.concat([Buffer.from(varint(body.length)), body]);
}

test('writeLineRecord frames the record as RecordsEncoder does, whatever the guessed length', () => {
  const arena = byteArena as ByteArena;
  const head = Buffer.from('{"m":');
  const mid = Buffer.from(',"o":');
  const id = Buffer.from(',"id":"f-');
  const tail = Buffer.from('"}');
  const pieces = head.length + mid.length + id.length + tail.length + 80;
  // Values around the varint widths' edges (64 and 8192 bytes), lines with escapes, both keys; a
  // line whose escapes widen its value past the guess (from the unescaped length), and a room far
  // above the need, which narrows it.
  const lines = [
    '',
    'x'.repeat(40),
    'x'.repeat(41),
    'y'.repeat(8160),
    'q"\\\t'.repeat(30),
    'ünï 🙂',
    '\u0001'.repeat(8000),
  ];
  for (const line of lines)
    for (const key of [null, Buffer.from('host-1'), Buffer.from('k'.repeat(200))])
      for (const delta of [0, 63, 64, 70_000])
        for (const extra of [0, 100_000]) {
          const room = pieces + extra;
          const bytes = Buffer.from(line);
          const src = arena.alloc(bytes.length + 16);
          bytes.copy(src);
          const dst = arena.alloc(room + 6 * bytes.length + 300 + 64).fill(0xaa);
          const value = Buffer.from(`${head}${JSON.stringify(line)}${mid}123${id}123${tail}`);
          const end = writeLineRecord(
            dst,
            3,
            delta,
            key,
            src,
            0,
            bytes.length,
            123,
            head,
            mid,
            id,
            tail,
            room,
          );
          assert.ok(end > 0, 'written in the arena');
          assert.deepEqual(
            dst.subarray(3, end),
            referenceRecord(delta, key, value),
            `${line.slice(0, 10)} ${extra}`,
          );
          assert.equal(lineRecordValueBytes, value.length);
          assert.equal(dst[2], 0xaa, 'nothing before the position');
          arena.free(src);
          arena.free(dst);
        }
});
