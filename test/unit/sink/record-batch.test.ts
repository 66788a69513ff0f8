import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32c as libraryCrc32c, Reader, readRecordsBatch } from '@platformatic/kafka';
import { createEnricher } from '../../../src/enrich/enricher.ts';
import type { LineChunk } from '../../../src/model/line-chunk.ts';
import type { OutRecord } from '../../../src/model/record.ts';
import { compressionStats } from '../../../src/sink/codecs/index.ts';
import { oversizedRecords } from '../../../src/sink/dead-letter.ts';
import { type Batch, recordCount } from '../../../src/sink/producer-port.ts';
import {
  ChunkRuns,
  type CodecName,
  decodeRecordValues,
  EncoderPool,
  EncodingBuilder,
  frameRecordBatchParts,
  PreparedBatch,
  RECORD_BATCH_HEADER,
  type RecordBatchHeader,
  RecordsEncoder,
} from '../../../src/sink/record-batch.ts';

const chunk = {} as LineChunk;

function batchOf(
  values: readonly string[],
  key: string | null = 'host-1',
  headers?: Batch['headers'],
): Batch {
  const records: OutRecord[] = values.map((value) => ({ topic: 't', key, value, chunk }));
  return { topic: 't', records, bytes: 0, headers };
}

/** Decodes with @platformatic/kafka's reader: an independent implementation of the format. */
function decode(framed: Buffer) {
  return readRecordsBatch(Reader.from(framed));
}

const header = { producerId: 42n, producerEpoch: 3, baseSequence: 7, timestamp: 1_764_000_000_123 };

/** A record batch in one Buffer, for the decoders. */
function frameRecordBatch(records: Buffer, count: number, codec: CodecName, h: RecordBatchHeader): Buffer {
  return Buffer.concat(frameRecordBatchParts([records], count, codec, h));
}

test('records round-trip through an independent decoder, with the header fields set', () => {
  const values = ['{"a":1}', 'x'.repeat(300), '', '{"msg":"grüße, 日本語 and 🙂"}'];
  const enc = new RecordsEncoder(64);
  const section = enc.encodeRecords(batchOf(values), undefined, values.length);
  const framed = frameRecordBatch(section, values.length, 'none', header);
  const got = decode(framed);
  assert.equal(got.magic, 2);
  assert.equal(got.length, framed.length - 12);
  assert.equal(got.producerId, 42n);
  assert.equal(got.producerEpoch, 3);
  assert.equal(got.firstSequence, 7);
  assert.equal(got.lastOffsetDelta, values.length - 1);
  assert.equal(got.firstTimestamp, 1_764_000_000_123n);
  assert.equal(got.attributes, 0);
  assert.equal(got.crc, libraryCrc32c(framed.subarray(21)) >>> 0);
  assert.deepEqual(
    got.records.map((r) => String(r.value)),
    values,
  );
  assert.deepEqual(
    got.records.map((r) => r.offsetDelta),
    [0, 1, 2, 3],
  );
  for (const r of got.records) assert.equal(String(r.key), 'host-1');
});

test('a null key is encoded as length -1, and headers as key/value pairs', () => {
  const b = batchOf(['v1', 'v2'], null, [{ origin: 'file.log', 'x-é': 'ü' }, undefined]);
  const section = new RecordsEncoder().encodeRecords(b, undefined, 2);
  const got = decode(frameRecordBatch(section, 2, 'none', header));
  // The library reads a null key as an empty buffer; the length byte tells null from empty.
  // length, attributes, timestampDelta, offsetDelta, then the key's length.
  assert.equal(section[4], 1, 'zigzag(-1) as the key length');
  assert.deepEqual(
    got.records[0]?.headers.map(([k, v]) => [String(k), String(v)]),
    [
      ['origin', 'file.log'],
      ['x-é', 'ü'],
    ],
  );
  assert.deepEqual(got.records[1]?.headers, []);
});

test('length prefixes widen when the UTF-8 text crosses a varint boundary its UTF-16 length did not', () => {
  // 63 UTF-16 units fit a one-byte zigzag varint; as UTF-8 (2 bytes each) they need two.
  // Likewise the record around them, and a value around 8,191 units (two bytes vs three).
  const values = [
    'é'.repeat(63),
    'a'.repeat(60),
    'é'.repeat(8_000),
    `${'a'.repeat(8_180)}é`,
    '🙂'.repeat(40),
  ];
  const section = new RecordsEncoder(16).encodeRecords(batchOf(values, 'ké'), undefined, values.length);
  const got = decode(frameRecordBatch(section, values.length, 'none', header));
  assert.deepEqual(
    got.records.map((r) => String(r.value)),
    values,
  );
  for (const r of got.records) assert.equal(String(r.key), 'ké');
});

test('a subset of records, in the order of the indexes', () => {
  const values = ['r0', 'r1', 'r2', 'r3', 'r4'];
  const section = new RecordsEncoder().encodeRecords(batchOf(values), Int32Array.of(1, 3, 4), 3);
  const got = decode(frameRecordBatch(section, 3, 'none', header));
  assert.deepEqual(
    got.records.map((r) => String(r.value)),
    ['r1', 'r3', 'r4'],
  );
  assert.equal(got.lastOffsetDelta, 2);
});

test('the encoder reuses its buffer: a later batch overwrites the earlier view', () => {
  const enc = new RecordsEncoder(1024);
  const first = enc.encodeRecords(batchOf(['first']), undefined, 1);
  const firstCopy = Buffer.from(first);
  const second = enc.encodeRecords(batchOf(['later']), undefined, 1);
  assert.equal(first.buffer, second.buffer);
  assert.notDeepEqual(Buffer.from(second), firstCopy);
});

test('a compressed records section is framed with the codec bits and its record count', () => {
  const fake = Buffer.from('compressed bytes');
  const framed = frameRecordBatch(fake, 9, 'lz4', {
    producerId: -1n,
    producerEpoch: -1,
    baseSequence: -1,
    timestamp: 1,
  });
  assert.equal(framed.readInt16BE(21), 3);
  assert.equal(framed.readInt32BE(57), 9);
  assert.equal(framed.readBigInt64BE(43), -1n);
  assert.equal(framed.readInt32BE(53), -1);
  assert.deepEqual(framed.subarray(RECORD_BATCH_HEADER), fake);
});

test('a prepared batch keeps the chunks and count, and decodes its values only when asked', () => {
  const values = ['{"a":"b"}', 'grüße 🙂', 'x'.repeat(9_000)];
  const chunkA = { fileId: 'a' } as LineChunk;
  const chunkB = { fileId: 'b' } as LineChunk;
  const records: OutRecord[] = values.map((value, i) => ({
    topic: 't',
    key: 'k',
    value,
    chunk: i === 0 ? chunkA : chunkB,
  }));
  const builder = new EncodingBuilder('t', new EncoderPool(32), () => assert.fail('one key'));
  for (const r of records) builder.add(r);
  const prepared = builder.finish(123);
  assert.ok(prepared instanceof PreparedBatch);
  const section = prepared.section;
  assert.equal(prepared.count, 3);
  assert.equal(prepared.bytes, 123);
  assert.equal(prepared.key, 'k');
  assert.deepEqual(prepared.chunks, [chunkA, chunkB, chunkB]);
  assert.equal(recordCount(prepared), 3);
  assert.deepEqual(decodeRecordValues(section, 3), values);
  assert.deepEqual(prepared.records, records);
  assert.equal(prepared.records, prepared.records, 'decoded once');
});

test('an encoding builder makes a prepared batch of records that share a key, in order', () => {
  const mixed: string[] = [];
  const b = new EncodingBuilder('t', new EncoderPool(16), (topic) => mixed.push(topic));
  const chunk = {} as LineChunk;
  const values = ['a', 'é'.repeat(100), '{"x":1}'];
  for (const value of values) b.add({ topic: 't', key: 'host', value, chunk });
  assert.equal(b.count, 3);
  const batch = b.finish(77);
  assert.ok(batch instanceof PreparedBatch);
  assert.equal(batch.bytes, 77);
  assert.equal(batch.key, 'host');
  assert.deepEqual(
    batch.records.map((r) => r.value),
    values,
  );
  const got = decode(frameRecordBatch(batch.section, batch.count, 'none', header));
  assert.deepEqual(
    got.records.map((r) => r.offsetDelta),
    [0, 1, 2],
  );
  assert.deepEqual(mixed, []);
});

test('an encoding builder turns into a plain list at the first record with another key, and says so', () => {
  const mixed: string[] = [];
  const b = new EncodingBuilder('t', new EncoderPool(16), (topic) => mixed.push(topic));
  const c1 = { fileId: '1' } as LineChunk;
  const c2 = { fileId: '2' } as LineChunk;
  b.add({ topic: 't', key: 'k1', value: 'v1', chunk: c1 });
  b.add({ topic: 't', key: 'k1', value: 'v2', chunk: c2 });
  b.add({ topic: 't', key: 'k2', value: 'v3', chunk: c1 });
  b.add({ topic: 't', key: null, value: 'v4', chunk: c2 });
  assert.equal(b.count, 4);
  const batch = b.finish(10);
  assert.ok(!(batch instanceof PreparedBatch));
  assert.deepEqual(batch.records, [
    { topic: 't', key: 'k1', value: 'v1', chunk: c1 },
    { topic: 't', key: 'k1', value: 'v2', chunk: c2 },
    { topic: 't', key: 'k2', value: 'v3', chunk: c1 },
    { topic: 't', key: null, value: 'v4', chunk: c2 },
  ]);
  assert.deepEqual(mixed, ['t']);
});

test('the size check of a prepared batch uses the largest encoded record, and still names the one too large', () => {
  const b = new EncodingBuilder('t', new EncoderPool(16), () => {});
  const chunk = {} as LineChunk;
  b.add({ topic: 't', key: 'k', value: 'small', chunk });
  b.add({ topic: 't', key: 'k', value: 'é'.repeat(3_000), chunk });
  b.add({ topic: 't', key: 'k', value: 'small again', chunk });
  const batch = b.finish(6_000);
  assert.ok(batch instanceof PreparedBatch);
  assert.ok(batch.largestRecord >= 6_001 && batch.largestRecord < 6_020, String(batch.largestRecord));
  // A bound that a 3-bytes-per-unit estimate of the whole batch would not pass, the records do.
  assert.equal(oversizedRecords(batch, 8_000), undefined);
  assert.deepEqual(oversizedRecords(batch, 5_000), [1]);
});

function lineRoute(key: 'host' | 'none' = 'host') {
  const enr = createEnricher({ name: 'app', key }, { default_topic: 't', host_name: 'hôst' }, {});
  const route = enr.forFile('/var/log/app.log', 'dev:ino:fp').lineRoute();
  assert.ok(route !== undefined);
  return route;
}

/** The lines as one buffer, with each line's [start, end). */
function rawLines(lines: readonly string[]): { raw: Buffer; spans: [number, number][] } {
  const raw = Buffer.from(`${lines.join('\n')}\n`);
  const spans: [number, number][] = [];
  let start = 0;
  for (const l of lines) {
    const end = start + Buffer.byteLength(l);
    spans.push([start, end]);
    start = end + 1;
  }
  return { raw, spans };
}

test('lines appended through a route round-trip, escaped values widening their length prefixes', () => {
  const route = lineRoute();
  // 4,100 quotes: guessed under 8,192 bytes (a two-byte varint), escaped over it (three bytes).
  const lines = ['plain', '"'.repeat(4_100), 'ünï 🙂 \t', '', '\u0001'.repeat(20)];
  const { raw, spans } = rawLines(lines);
  const enc = new RecordsEncoder(16);
  const ts = 1_764_000_000_123;
  const expected: string[] = [];
  spans.forEach(([s, e], i) => {
    const units = enc.appendLine(i, route, ts, raw, s, e, 1000 * i);
    const value = route.writer.toString(ts, raw, s, e, 1000 * i);
    assert.equal(units, value.length);
    expected.push(value);
  });
  const got = decode(frameRecordBatch(enc.view(), lines.length, 'none', header));
  assert.deepEqual(
    got.records.map((r) => String(r.value)),
    expected,
  );
  assert.deepEqual(
    got.records.map((r) => r.offsetDelta),
    [0, 1, 2, 3, 4],
  );
  for (const r of got.records) assert.equal(String(r.key), route.key);
  assert.equal(JSON.parse(expected[1] as string).message, lines[1]);
  const nullKey = new RecordsEncoder(16);
  nullKey.appendLine(0, lineRoute('none'), ts, raw, 0, 5, 0);
  assert.equal(decode(frameRecordBatch(nullKey.view(), 1, 'none', header)).records[0]?.key, null);
});

test('an encoding builder takes lines as bytes, and turns into a list of their strings at another key', () => {
  const mixed: string[] = [];
  const b = new EncodingBuilder('t', new EncoderPool(16), (topic) => mixed.push(topic));
  const route = lineRoute();
  const { raw, spans } = rawLines(['one "1"', 'two 2', 'three']);
  const c = {} as LineChunk;
  const ts = 1_764_000_000_000;
  for (const [s, e] of spans.slice(0, 2)) b.addLine(route, c, ts, raw, s, e, s);
  const prepared = b.finish(1);
  assert.ok(prepared instanceof PreparedBatch);
  assert.deepEqual(
    prepared.records.map((r) => r.value),
    spans.slice(0, 2).map(([s, e]) => route.writer.toString(ts, raw, s, e, s)),
  );

  const m = new EncodingBuilder('t', new EncoderPool(16), (topic) => mixed.push(topic));
  const [s0, e0] = spans[0] as [number, number];
  const [s1, e1] = spans[1] as [number, number];
  m.addLine(route, c, ts, raw, s0, e0, s0);
  m.add({ topic: 't', key: 'other', value: 'v', chunk: c });
  const units = m.addLine(route, c, ts, raw, s1, e1, s1);
  const list = m.finish(2);
  assert.ok(!(list instanceof PreparedBatch));
  const second = route.writer.toString(ts, raw, s1, e1, s1);
  assert.equal(units, second.length);
  assert.deepEqual(list.records, [
    { topic: 't', key: route.key, value: route.writer.toString(ts, raw, s0, e0, s0), chunk: c },
    { topic: 't', key: 'other', value: 'v', chunk: c },
    { topic: 't', key: route.key, value: second, chunk: c },
  ]);
  assert.deepEqual(mixed, ['t']);
});

test('an encoding builder takes its encoder from the pool and gives it back when the batch closes or turns into a list', () => {
  const pool = new EncoderPool(16, 2);
  const c = {} as LineChunk;
  const a = new EncodingBuilder('t', pool, () => {});
  a.add({ topic: 't', key: 'k', value: 'x'.repeat(1000), chunk: c });
  assert.equal(pool.idle, 0);
  const first = a.finish(1);
  assert.equal(pool.idle, 1, 'given back at finish');
  const b = new EncodingBuilder('t', pool, () => {});
  assert.equal(pool.idle, 0, 'taken again');
  b.add({ topic: 't', key: 'k', value: 'y', chunk: c });
  const second = b.finish(1);
  // The first batch kept its own copy: the reused encoder did not overwrite it.
  assert.deepEqual(
    (first as PreparedBatch).records.map((r) => r.value),
    ['x'.repeat(1000)],
  );
  assert.deepEqual(
    (second as PreparedBatch).records.map((r) => r.value),
    ['y'],
  );
  const m = new EncodingBuilder('t', pool, () => {});
  m.add({ topic: 't', key: 'k', value: 'v1', chunk: c });
  m.add({ topic: 't', key: 'other', value: 'v2', chunk: c });
  assert.equal(pool.idle, 1, 'given back when it turned into a list');
  assert.deepEqual(
    m.finish(1).records.map((r) => r.value),
    ['v1', 'v2'],
  );
  pool.give(new RecordsEncoder(16));
  pool.give(new RecordsEncoder(16));
  assert.equal(pool.idle, 2, 'holds at most its maximum');
});

test('with lz4 or zstd a batch is compressed when it closes, off the event loop; the frame decodes and the records decode back', async () => {
  for (const codec of ['lz4', 'zstd'] as const) {
    const before = compressionStats.batches_compressed;
    const pool = new EncoderPool(64);
    const b = new EncodingBuilder('t', pool, () => {}, codec);
    const values = ['{"a":"one"}', 'two '.repeat(500), 'drei ü 🙂'];
    const c = {} as LineChunk;
    for (const value of values) b.add({ topic: 't', key: 'k', value, chunk: c });
    const batch = b.finish(1);
    assert.ok(batch instanceof PreparedBatch);
    assert.equal(batch.codec, codec);
    assert.ok(batch.ready !== undefined, 'compressing');
    assert.throws(() => batch.payload, /before its compression finished/);
    assert.equal(pool.idle, 0, 'the encoder stays out of the pool while the compressor reads it');
    await batch.ready;
    assert.equal(pool.idle, 1, 'and goes back once it is done');
    assert.equal(compressionStats.batches_compressed, before + 1);
    assert.ok(batch.payload.length < batch.section.length, 'compressed');
    const got = decode(frameRecordBatch(batch.payload, batch.count, codec, header));
    assert.deepEqual(
      got.records.map((r) => String(r.value)),
      values,
      `${codec}: the library's decoder reads it`,
    );
    assert.deepEqual(
      batch.records.map((r) => r.value),
      values,
    );
  }
  // gzip has no synchronous form here: the batch keeps its records uncompressed for the producer.
  const g = new EncodingBuilder('t', new EncoderPool(64), () => {}, 'gzip');
  g.add({ topic: 't', key: 'k', value: 'v', chunk: {} as LineChunk });
  const gb = g.finish(1);
  assert.ok(gb instanceof PreparedBatch);
  assert.equal(gb.codec, 'none');
});

test('frameRecordBatchParts: the CRC carried across the pieces (checked by an independent CRC-32C), the pieces uncopied', () => {
  const records = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff));
  for (const cut of [[], [1], [100, 2000], [4999]]) {
    const pieces: Buffer[] = [];
    let at = 0;
    for (const c of [...cut, records.length]) {
      pieces.push(records.subarray(at, c));
      at = c;
    }
    const framed = frameRecordBatchParts(pieces, 7, 'lz4', header);
    assert.equal(framed.length, pieces.length + 1);
    for (let i = 0; i < pieces.length; i++) assert.equal(framed[i + 1], pieces[i], 'the piece itself');
    const joined = Buffer.concat(framed);
    assert.equal(joined.readUInt32BE(17), libraryCrc32c(joined.subarray(21)) >>> 0, `cut at ${cut}`);
    assert.equal(joined.readInt32BE(8), joined.length - 12, 'batch length');
    assert.deepEqual(joined.subarray(61), records);
  }
});

test('an lz4 batch holds its frame in one Buffer of its own size, which goes out uncopied', async () => {
  const b = new EncodingBuilder('t', new EncoderPool(64), () => {}, 'lz4');
  // Random hex: a frame larger than Node's Buffer pool serves from its shared slab.
  for (let i = 0; i < 1000; i++)
    b.add({ topic: 't', key: 'k', value: randomBytes(100).toString('hex'), chunk: {} as LineChunk });
  const batch = b.finish(1) as PreparedBatch;
  await batch.ready;
  const parts = batch.payloadParts;
  assert.equal(parts.length, 1);
  const frame = parts[0] as Buffer;
  assert.ok(frame.length > 64 * 1024, String(frame.length));
  assert.equal(frame.byteLength, frame.buffer.byteLength, 'not a view of a larger allocation');
  assert.equal(batch.payload, frame);
  const framed = frameRecordBatchParts(parts, batch.count, 'lz4', header);
  assert.equal(framed[1], frame, 'framed without a copy');
  assert.equal(batch.records.length, 1000);
});

test('dispose frees a delivered batch payload it made (lz4 frame, uncompressed copy) and nothing else', async () => {
  const chunk = { refs: 1 } as unknown as LineChunk;
  const records: OutRecord[] = Array.from({ length: 800 }, (_, i) => ({
    topic: 't',
    key: 'k',
    // Random hex: the lz4 frame stays larger than Node's pool slices (half of Buffer.poolSize), so it
    // owns its memory.
    value: `{"message":"line ${i} ${randomBytes(64).toString('hex')}"}`,
    chunk,
  }));
  for (const codec of ['lz4', 'none', 'zstd'] as const) {
    const builder = new EncodingBuilder('t', new EncoderPool(1024), () => assert.fail('one key'), codec);
    for (const r of records) builder.add(r);
    const batch = builder.finish(1000) as PreparedBatch;
    await batch.ready;
    const parts = [...batch.payloadParts];
    const lengths = parts.map((p) => p.length);
    batch.dispose();
    assert.throws(() => batch.payloadParts, /after the batch was delivered/);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as Buffer;
      if (codec === 'zstd') assert.equal(part.length, lengths[i], 'zlib output is left to the GC');
      else assert.equal(part.buffer.byteLength, 0, `${codec}: detached`);
    }
  }
  // A payload that is a view of a larger buffer is not detached.
  const big = Buffer.alloc(65536, 7);
  const view = new PreparedBatch('t', 10, null, new ChunkRuns(), big.subarray(0, 100), 10);
  view.dispose();
  assert.equal(big.length, 65536);
  assert.equal(big[100], 7);
});
