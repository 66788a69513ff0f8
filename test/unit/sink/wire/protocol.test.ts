import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  API,
  brokerError,
  errorName,
  MalformedResponseError,
  RequestWriter,
  ResponseReader,
  readInitProducerIdResponse,
  readMetadataResponse,
  readProduceResponse,
  WireError,
  writeInitProducerIdRequest,
  writeMetadataRequest,
  writeProduceRequest,
} from '../../../../src/sink/wire/protocol.ts';

/** Builds a response body by hand, field by field, big-endian as Kafka writes it. */
class Body {
  readonly #parts: Buffer[] = [];

  #push(size: number, write: (b: Buffer) => void): this {
    const b = Buffer.alloc(size);
    write(b);
    this.#parts.push(b);
    return this;
  }

  int8(v: number): this {
    return this.#push(1, (b) => b.writeInt8(v));
  }
  int16(v: number): this {
    return this.#push(2, (b) => b.writeInt16BE(v));
  }
  int32(v: number): this {
    return this.#push(4, (b) => b.writeInt32BE(v));
  }
  int64(v: bigint): this {
    return this.#push(8, (b) => b.writeBigInt64BE(v));
  }
  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s);
    this.int16(b.length);
    this.#parts.push(b);
    return this;
  }
  bytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    this.#parts.push(b);
    return this;
  }
  int32Array(values: number[]): this {
    this.int32(values.length);
    for (const v of values) this.int32(v);
    return this;
  }
  raw(b: Buffer): this {
    this.#parts.push(b);
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/** The length of a request header v1 for `clientId`: api key, version, correlation id, client id. */
const headerBytes = (clientId: string) => 2 + 2 + 4 + 2 + Buffer.byteLength(clientId);

// --- RequestWriter ------------------------------------------------------------------------------

test('RequestWriter: size prefix, then request header v1 (api key, version, correlation id, client id)', () => {
  const frame = new RequestWriter(API.metadata, 8, 42, 'logferry').int32(7).finish();
  assert.equal(frame.length, 4 + headerBytes('logferry') + 4);
  assert.equal(frame.readInt32BE(0), frame.length - 4, 'the size excludes itself');
  assert.equal(frame.readInt16BE(4), 3);
  assert.equal(frame.readInt16BE(6), 8);
  assert.equal(frame.readInt32BE(8), 42);
  assert.equal(frame.readInt16BE(12), 8);
  assert.equal(frame.toString('utf8', 14, 22), 'logferry');
  assert.equal(frame.readInt32BE(22), 7);
});

test('RequestWriter: every field type, a null string as length -1, UTF-8 lengths in bytes', () => {
  const frame = new RequestWriter(0, 8, 1, 'c')
    .int8(-2)
    .int16(-300)
    .int32(-70_000)
    .bool(true)
    .bool(false)
    .string(null)
    .string('hé')
    .bytes(Buffer.from([9, 8, 7]))
    .finish();
  const r = new ResponseReader(frame, 4 + headerBytes('c'));
  assert.equal(r.int8(), -2);
  assert.equal(r.int16(), -300);
  assert.equal(r.int32(), -70_000);
  assert.equal(r.bool(), true);
  assert.equal(r.bool(), false);
  const nullAt = 4 + headerBytes('c') + 1 + 2 + 4 + 1 + 1;
  assert.deepEqual([...frame.subarray(nullAt, nullAt + 2)], [0xff, 0xff]);
  assert.equal(r.string(), null);
  assert.equal(frame.readInt16BE(nullAt + 2), 3, "'hé' is 3 bytes");
  assert.equal(r.string(), 'hé');
  assert.deepEqual([...(r.bytes() as Buffer)], [9, 8, 7]);
  assert.throws(() => r.int8(), MalformedResponseError, 'nothing after the last field');
});

test('RequestWriter grows beyond its initial size and keeps what it wrote before', () => {
  const big = Buffer.alloc(10_000);
  for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
  const w = new RequestWriter(API.produce, 8, 5, 'logferry', 64);
  w.string('before');
  for (let i = 0; i < 100; i++) w.int32(i);
  w.bytes(big).string('after');
  const frame = w.finish();
  const expected = 4 + headerBytes('logferry') + 2 + 6 + 400 + 4 + big.length + 2 + 5;
  assert.equal(frame.length, expected);
  assert.equal(frame.readInt32BE(0), expected - 4);
  assert.equal(frame.readInt32BE(8), 5, 'the header survives the growth');
  const r = new ResponseReader(frame, 4 + headerBytes('logferry'));
  assert.equal(r.string(), 'before');
  for (let i = 0; i < 100; i++) assert.equal(r.int32(), i);
  assert.ok((r.bytes() as Buffer).equals(big));
  assert.equal(r.string(), 'after');
});

// --- ResponseReader -----------------------------------------------------------------------------

test('ResponseReader reads every type from its start offset', () => {
  const body = new Body()
    .raw(Buffer.from([0xaa, 0xbb])) // skipped by the offset
    .int8(-1)
    .int16(32_000)
    .int32(-5)
    .int64(-9_007_199_254_740_993n)
    .bool(true)
    .string('topic')
    .string(null)
    .bytes(Buffer.from('xyz'))
    .bytes(null)
    .int32(3)
    .string('a')
    .string('b')
    .string('c')
    .int32(-1) // a null array
    .int32Array([1, 2, 3])
    .int32(99)
    .build();
  const r = new ResponseReader(body, 2);
  assert.equal(r.int8(), -1);
  assert.equal(r.int16(), 32_000);
  assert.equal(r.int32(), -5);
  assert.equal(r.int64(), -9_007_199_254_740_993n);
  assert.equal(r.bool(), true);
  assert.equal(r.string(), 'topic');
  assert.equal(r.string(), null);
  assert.equal((r.bytes() as Buffer).toString(), 'xyz');
  assert.equal(r.bytes(), null);
  assert.deepEqual(
    r.array((x) => x.string()),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(
    r.array((x) => x.int32()),
    [],
  );
  r.skipInt32Array();
  assert.equal(r.int32(), 99, 'skipInt32Array skipped exactly its elements');
});

test('ResponseReader throws MalformedResponseError on a short buffer, for every type', () => {
  const short = (bytes: number[]) => new ResponseReader(Buffer.from(bytes));
  assert.throws(() => short([]).int8(), MalformedResponseError);
  assert.throws(() => short([0]).int16(), MalformedResponseError);
  assert.throws(() => short([0, 0, 0]).int32(), MalformedResponseError);
  assert.throws(() => short([0, 0, 0, 0, 0, 0, 0]).int64(), MalformedResponseError);
  assert.throws(() => short([0, 5, 0x61, 0x62]).string(), MalformedResponseError, 'length 5, 2 bytes');
  assert.throws(() => short([0, 0, 0, 4, 1]).bytes(), MalformedResponseError);
  assert.throws(() => short([0, 0, 0, 2, 0, 0, 0, 1]).skipInt32Array(), MalformedResponseError);
  assert.throws(
    () => short([0, 0, 0, 2, 0, 1, 0x61]).array((x) => x.string()),
    (e: unknown) => e instanceof MalformedResponseError && e.name === 'MalformedResponseError',
  );
});

// --- Metadata v8 --------------------------------------------------------------------------------

test('writeMetadataRequest: the topics, allow_auto_topic_creation, then two authorized-operations flags', () => {
  const w = new RequestWriter(API.metadata, 8, 1, 'c');
  writeMetadataRequest(w, ['logs', 'audit'], true);
  const r = new ResponseReader(w.finish(), 4 + headerBytes('c'));
  assert.deepEqual(
    r.array((x) => x.string()),
    ['logs', 'audit'],
  );
  assert.equal(r.bool(), true);
  assert.equal(r.bool(), false);
  assert.equal(r.bool(), false);
  assert.throws(() => r.int8(), MalformedResponseError);
});

function partition(b: Body, index: number, leader: number, errorCode = 0): void {
  b.int16(errorCode).int32(index).int32(leader).int32(17); // leader_epoch
  b.int32Array([1, 2]).int32Array([leader]).int32Array([]); // replicas, isr, offline
}

test('readMetadataResponse: brokers, partitions listed out of order, a topic with an error code', () => {
  const b = new Body().int32(0); // throttle_time_ms
  b.int32(2);
  b.int32(1).string('kafka-1.internal').int32(9092).string(null);
  b.int32(2).string('kafka-2.internal').int32(9094).string('rack-b');
  b.string('cluster-xyz').int32(1); // cluster_id, controller_id
  b.int32(2);
  b.int16(0).string('logs').bool(false).int32(3);
  partition(b, 2, 1);
  partition(b, 0, 2);
  partition(b, 1, -1, 5); // LEADER_NOT_AVAILABLE on one partition
  b.int32(-2147483648); // topic_authorized_operations
  b.int16(3).string('missing').bool(false).int32(0).int32(-2147483648);
  b.int32(-2147483648); // cluster_authorized_operations
  const answer = readMetadataResponse(new ResponseReader(b.build()));
  assert.deepEqual(
    [...answer.brokers.values()],
    [
      { nodeId: 1, host: 'kafka-1.internal', port: 9092 },
      { nodeId: 2, host: 'kafka-2.internal', port: 9094 },
    ],
  );
  assert.deepEqual(answer.topics.get('logs'), { errorCode: 0, meta: { leaders: [2, -1, 1] } });
  assert.deepEqual(answer.topics.get('missing'), { errorCode: 3, meta: { leaders: [] } });
  assert.equal(answer.topics.size, 2);
});

test('readMetadataResponse: a partition missing from the list has no leader (-1)', () => {
  const b = new Body().int32(0).int32(1).int32(1).string('k').int32(9092).string(null);
  b.string(null).int32(1).int32(1);
  b.int16(0).string('t').bool(false).int32(2);
  partition(b, 3, 1);
  partition(b, 0, 1);
  b.int32(0).int32(0);
  const leaders = readMetadataResponse(new ResponseReader(b.build())).topics.get('t')?.meta.leaders;
  assert.deepEqual(leaders, [1, -1, -1, 1]);
});

test('readMetadataResponse on a truncated answer throws MalformedResponseError', () => {
  const b = new Body().int32(0).int32(1).int32(1).string('kafka-1').build();
  assert.throws(() => readMetadataResponse(new ResponseReader(b)), MalformedResponseError);
});

// --- Produce v8 ---------------------------------------------------------------------------------

interface PartitionAnswer {
  index: number;
  code: number;
  recordErrors?: [number, string | null][];
  message?: string | null;
}

function produceResponse(topic: string, partitions: PartitionAnswer[]): Buffer {
  const b = new Body().int32(1).string(topic).int32(partitions.length);
  for (const p of partitions) {
    b.int32(p.index)
      .int16(p.code)
      .int64(p.code === 0 ? 1234n : -1n)
      .int64(-1n)
      .int64(0n);
    const errors = p.recordErrors ?? [];
    b.int32(errors.length);
    for (const [batchIndex, message] of errors) b.int32(batchIndex).string(message);
    b.string(p.message ?? null);
  }
  return b.int32(0).build(); // throttle_time_ms
}

test('readProduceResponse: a partition error gives a WireError named after the broker error', () => {
  const body = produceResponse('logs', [
    { index: 0, code: 0 },
    { index: 1, code: 10, message: 'The request included a message larger than the max message size' },
  ]);
  const err = readProduceResponse(new ResponseReader(body), 'logs');
  assert.ok(err instanceof WireError);
  assert.equal(err.type, 'MESSAGE_TOO_LARGE');
  assert.equal(err.name, 'KafkaJSProtocolError');
  assert.match(err.message, /^produce to logs-1: MESSAGE_TOO_LARGE \(The request included a message larger/);
});

test('readProduceResponse: no error on any partition gives undefined', () => {
  const body = produceResponse('logs', [
    { index: 0, code: 0 },
    { index: 1, code: 0 },
    { index: 2, code: 0 },
  ]);
  assert.equal(readProduceResponse(new ResponseReader(body), 'logs'), undefined);
});

test('readProduceResponse: without an error message, the first record error is the detail', () => {
  const body = produceResponse('logs', [
    { index: 0, code: 87, recordErrors: [[3, 'Compacted topic cannot accept message without key']] },
  ]);
  const err = readProduceResponse(new ResponseReader(body), 'logs');
  assert.equal(err?.type, 'INVALID_RECORD');
  assert.match(err?.message ?? '', /Compacted topic cannot accept message without key/);
});

test('readProduceResponse: several record errors on one partition, then another partition', () => {
  const body = produceResponse('logs', [
    {
      index: 0,
      code: 87,
      recordErrors: [
        [0, 'record 0 has no key'],
        [1, 'record 1 has no key'],
      ],
      message: 'One or more records have been rejected',
    },
    { index: 1, code: 0 },
    { index: 2, code: 10, message: 'too large' },
  ]);
  const err = readProduceResponse(new ResponseReader(body), 'logs');
  assert.equal(err?.type, 'INVALID_RECORD');
  assert.equal(err?.message, 'produce to logs-0: INVALID_RECORD (One or more records have been rejected)');
  const noMessage = produceResponse('logs', [
    {
      index: 0,
      code: 87,
      recordErrors: [
        [0, 'record 0 has no key'],
        [1, 'record 1 has no key'],
      ],
    },
  ]);
  assert.equal(
    readProduceResponse(new ResponseReader(noMessage), 'logs')?.message,
    'produce to logs-0: INVALID_RECORD (record 0 has no key)',
  );
});

test('writeProduceRequest: the body is its fields and the record batches, nothing more', () => {
  for (const [topic, sizes] of [
    ['logs', [0]],
    ['lögs-ünïcode', [61, 1000, 3]],
    ['t', []],
  ] as [string, number[]][]) {
    // Each record batch in two pieces, as a compressed batch goes out.
    const parts = sizes.map((n, partition) => ({
      partition,
      parts: [Buffer.alloc(n >> 1, partition + 1), Buffer.alloc(n - (n >> 1), partition + 1)],
    }));
    const w = new RequestWriter(API.produce, 8, 9, 'logferry', 16);
    writeProduceRequest(w, -1, 30_000, topic, parts);
    const frame = w.finish();
    // transactional id, acks, timeout, topic count, the topic, partition count; per partition
    // its index, the batch's length and the batch.
    let body = 2 + 2 + 4 + 4 + 2 + Buffer.byteLength(topic) + 4;
    for (const n of sizes) body += 4 + 4 + n;
    assert.equal(frame.length - 4 - headerBytes('logferry'), body, topic);
    // And the layout: null transactional id, acks, timeout, one topic, its partitions.
    const r = new ResponseReader(frame, 4 + headerBytes('logferry'));
    assert.equal(r.string(), null);
    assert.equal(r.int16(), -1);
    assert.equal(r.int32(), 30_000);
    assert.equal(r.int32(), 1);
    assert.equal(r.string(), topic);
    const got = r.array((x) => [x.int32(), (x.bytes() as Buffer).length]);
    assert.deepEqual(
      got,
      sizes.map((n, p) => [p, n]),
    );
  }
});

// --- InitProducerId v1 --------------------------------------------------------------------------

test('InitProducerId v1: a null transactional id; the answer gives id and epoch, or throws its error', () => {
  const w = new RequestWriter(API.initProducerId, 1, 1, 'c');
  writeInitProducerIdRequest(w);
  const r = new ResponseReader(w.finish(), 4 + headerBytes('c'));
  assert.equal(r.string(), null);
  assert.equal(r.int32(), 60_000);
  const ok = new Body().int32(0).int16(0).int64(4711n).int16(3).build();
  assert.deepEqual(readInitProducerIdResponse(new ResponseReader(ok)), { producerId: 4711n, epoch: 3 });
  const denied = new Body().int32(0).int16(31).int64(-1n).int16(-1).build();
  assert.throws(
    () => readInitProducerIdResponse(new ResponseReader(denied)),
    (e: unknown) => e instanceof WireError && e.type === 'CLUSTER_AUTHORIZATION_FAILED',
  );
});

// --- error codes --------------------------------------------------------------------------------

test('errorName: Kafka names for known codes, UNKNOWN_ERROR_<code> otherwise', () => {
  assert.equal(errorName(-1), 'UNKNOWN_SERVER_ERROR');
  assert.equal(errorName(3), 'UNKNOWN_TOPIC_OR_PARTITION');
  assert.equal(errorName(10), 'MESSAGE_TOO_LARGE');
  assert.equal(errorName(18), 'RECORD_LIST_TOO_LARGE');
  assert.equal(errorName(29), 'TOPIC_AUTHORIZATION_FAILED');
  assert.equal(errorName(58), 'SASL_AUTHENTICATION_FAILED');
  assert.equal(errorName(87), 'INVALID_RECORD');
  assert.equal(errorName(9999), 'UNKNOWN_ERROR_9999');
  assert.equal(errorName(0), 'UNKNOWN_ERROR_0');
});

test('brokerError: KafkaJSProtocolError with the broker error as type, the detail in parentheses', () => {
  const e = brokerError(5, 'metadata of topic logs', 'a partition has no leader');
  assert.ok(e instanceof WireError && e instanceof Error);
  assert.equal(e.name, 'KafkaJSProtocolError');
  assert.equal(e.type, 'LEADER_NOT_AVAILABLE');
  assert.equal(e.message, 'metadata of topic logs: LEADER_NOT_AVAILABLE (a partition has no leader)');
  assert.equal(brokerError(3, 'x', null).message, 'x: UNKNOWN_TOPIC_OR_PARTITION');
});

test('RequestWriter.pieces: the pieces go out as they are, between the fields around them, under one size', () => {
  const a = Buffer.from('first piece');
  const b = Buffer.from('second');
  // An initial size of 16 makes the writer grow after the first pieces were cut.
  const w = new RequestWriter(API.produce, 8, 7, 'logferry', 16);
  w.int32(11).pieces([a, b]).int16(5).string('x'.repeat(100)).pieces([b]).int8(1);
  const pieces = w.finishPieces();
  assert.ok(Array.isArray(pieces));
  assert.ok(pieces.includes(a) && pieces.filter((p) => p === b).length === 2, 'the same Buffers, not copies');
  const joined = Buffer.concat(pieces);
  assert.equal(joined.readInt32BE(0), joined.length - 4, 'the size counts the pieces');
  assert.equal(joined.readInt32BE(8), 7, 'correlation id');
  const r = new ResponseReader(joined, 4 + headerBytes('logferry'));
  assert.equal(r.int32(), 11);
  assert.equal((r.bytes() as Buffer).toString(), 'first piecesecond');
  assert.equal(r.int16(), 5);
  assert.equal(r.string(), 'x'.repeat(100));
  assert.equal((r.bytes() as Buffer).toString(), 'second');
  assert.equal(r.int8(), 1);
  // Without pieces: one Buffer, as before.
  const plain = new RequestWriter(API.metadata, 8, 1, 'c').int32(0);
  assert.ok(Buffer.isBuffer(plain.finishPieces()));
});
