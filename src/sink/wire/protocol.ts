/**
 * The few Kafka protocol messages a producer needs, in their non-flexible versions (Kafka 2.4 and
 * later, 4.x included): request header v1, response header v0, every frame an int32 size first.
 *
 *   ApiVersions v0      first on every connection: a broker older than Kafka 2.4 is named as such
 *   Metadata v8         topics, allow_auto_topic_creation          (Kafka 2.3+)
 *   InitProducerId v1   the idempotent producer's id and epoch     (Kafka 2.0+)
 *   Produce v8          record batches v2, written by record-batch.ts (Kafka 2.4+)
 *   SaslHandshake v1 + SaslAuthenticate v1                          (Kafka 2.2+)
 *
 * Field layouts follow Kafka's clients/src/main/resources/common/message/*.json.
 */

export const API = {
  produce: 0,
  metadata: 3,
  saslHandshake: 17,
  initProducerId: 22,
  saslAuthenticate: 36,
  apiVersions: 18,
} as const;

/** The versions this client speaks, with the request's name for a broker that lacks one. */
const REQUIRED: readonly (readonly [apiKey: number, version: number, name: string])[] = [
  [API.produce, 8, 'Produce'],
  [API.metadata, 8, 'Metadata'],
  [API.initProducerId, 1, 'InitProducerId'],
];
const REQUIRED_SASL: readonly (readonly [apiKey: number, version: number, name: string])[] = [
  [API.saslHandshake, 1, 'SaslHandshake'],
  [API.saslAuthenticate, 1, 'SaslAuthenticate'],
];

/**
 * Builds one request frame: the size is written last, into the four bytes kept for it. Grows by
 * doubling; a produce request is sized before it is made, so it is written once.
 */
export class RequestWriter {
  #buf: Buffer;
  #pos = 4;
  /** Pieces of the frame so far when it has pieces of its own (`pieces`), in order; else empty. */
  readonly #segments: Buffer[] = [];
  /** Where the part of `#buf` not yet in `#segments` starts; bytes of the pieces added. */
  #segmentStart = 0;
  #pieceBytes = 0;

  constructor(apiKey: number, version: number, correlationId: number, clientId: string, size = 256) {
    this.#buf = Buffer.allocUnsafe(Math.max(size, 64));
    this.int16(apiKey).int16(version).int32(correlationId).string(clientId);
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#pos + n, 2 * this.#buf.length));
    this.#buf.copy(bigger, 0, 0, this.#pos);
    this.#buf = bigger;
  }

  int8(v: number): this {
    this.#room(1);
    this.#buf.writeInt8(v, this.#pos);
    this.#pos += 1;
    return this;
  }

  int16(v: number): this {
    this.#room(2);
    this.#buf.writeInt16BE(v, this.#pos);
    this.#pos += 2;
    return this;
  }

  int32(v: number): this {
    this.#room(4);
    this.#buf.writeInt32BE(v, this.#pos);
    this.#pos += 4;
    return this;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  /** A nullable string (int16 length, -1 for null). */
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const n = Buffer.byteLength(s);
    this.int16(n);
    this.#room(n);
    this.#pos += this.#buf.write(s, this.#pos);
    return this;
  }

  /** Bytes with an int32 length. */
  bytes(b: Uint8Array): this {
    this.int32(b.length);
    this.#room(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /** Bytes with an int32 length, given as consecutive pieces that go out as they are (no copy). */
  pieces(parts: readonly Buffer[]): this {
    let n = 0;
    for (const part of parts) n += part.length;
    this.int32(n);
    this.#segments.push(this.#buf.subarray(this.#segmentStart, this.#pos));
    for (const part of parts) this.#segments.push(part);
    this.#segmentStart = this.#pos;
    this.#pieceBytes += n;
    return this;
  }

  /** The frame, its size written, in one Buffer (pieces joined). */
  finish(): Buffer {
    const frame = this.finishPieces();
    return Array.isArray(frame) ? Buffer.concat(frame) : frame;
  }

  /**
   * The frame, its size written: one Buffer, or its pieces in order when `pieces` was used (the
   * first starts with the size; a Buffer that grew kept the earlier pieces in the old one).
   */
  finishPieces(): Buffer | Buffer[] {
    const size = this.#pos - 4 + this.#pieceBytes;
    if (this.#segments.length === 0) {
      this.#buf.writeInt32BE(size, 0);
      return this.#buf.subarray(0, this.#pos);
    }
    (this.#segments[0] as Buffer).writeInt32BE(size, 0);
    if (this.#pos > this.#segmentStart)
      this.#segments.push(this.#buf.subarray(this.#segmentStart, this.#pos));
    return this.#segments;
  }
}

/** Thrown when a response is shorter than its fields: a broker answering another version, or a bug. */
export class MalformedResponseError extends Error {
  override name = 'MalformedResponseError';
}

/** Reads a response body (after the correlation id) field by field. */
export class ResponseReader {
  readonly #buf: Buffer;
  #pos: number;

  constructor(buf: Buffer, pos = 0) {
    this.#buf = buf;
    this.#pos = pos;
  }

  #need(n: number): number {
    const at = this.#pos;
    if (at + n > this.#buf.length) throw new MalformedResponseError('Kafka response ended early');
    this.#pos += n;
    return at;
  }

  int8(): number {
    return this.#buf.readInt8(this.#need(1));
  }

  int16(): number {
    return this.#buf.readInt16BE(this.#need(2));
  }

  int32(): number {
    return this.#buf.readInt32BE(this.#need(4));
  }

  int64(): bigint {
    return this.#buf.readBigInt64BE(this.#need(8));
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  string(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    const at = this.#need(n);
    return this.#buf.toString('utf8', at, at + n);
  }

  bytes(): Buffer | null {
    const n = this.int32();
    if (n < 0) return null;
    const at = this.#need(n);
    return this.#buf.subarray(at, at + n);
  }

  /** An array's length (-1: null), then `read` once per element. */
  array<T>(read: (r: ResponseReader) => T): T[] {
    const n = this.int32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read(this));
    return out;
  }

  skipInt32Array(): void {
    const n = this.int32();
    if (n > 0) this.#need(4 * n);
  }
}

/**
 * Broker error codes by number, with Kafka's names (org.apache.kafka.common.protocol.Errors): the
 * names are what classify.ts reads. Codes not listed are named UNKNOWN_ERROR_<code>.
 */
const ERROR_NAMES: Readonly<Record<number, string>> = {
  [-1]: 'UNKNOWN_SERVER_ERROR',
  1: 'OFFSET_OUT_OF_RANGE',
  2: 'CORRUPT_MESSAGE',
  3: 'UNKNOWN_TOPIC_OR_PARTITION',
  4: 'INVALID_FETCH_SIZE',
  5: 'LEADER_NOT_AVAILABLE',
  6: 'NOT_LEADER_OR_FOLLOWER',
  7: 'REQUEST_TIMED_OUT',
  8: 'BROKER_NOT_AVAILABLE',
  9: 'REPLICA_NOT_AVAILABLE',
  10: 'MESSAGE_TOO_LARGE',
  13: 'NETWORK_EXCEPTION',
  14: 'COORDINATOR_LOAD_IN_PROGRESS',
  15: 'COORDINATOR_NOT_AVAILABLE',
  16: 'NOT_COORDINATOR',
  17: 'INVALID_TOPIC_EXCEPTION',
  18: 'RECORD_LIST_TOO_LARGE',
  19: 'NOT_ENOUGH_REPLICAS',
  20: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  21: 'INVALID_REQUIRED_ACKS',
  29: 'TOPIC_AUTHORIZATION_FAILED',
  31: 'CLUSTER_AUTHORIZATION_FAILED',
  33: 'UNSUPPORTED_SASL_MECHANISM',
  34: 'ILLEGAL_SASL_STATE',
  35: 'UNSUPPORTED_VERSION',
  42: 'INVALID_REQUEST',
  43: 'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  44: 'POLICY_VIOLATION',
  45: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
  46: 'DUPLICATE_SEQUENCE_NUMBER',
  47: 'INVALID_PRODUCER_EPOCH',
  51: 'CONCURRENT_TRANSACTIONS',
  53: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  56: 'KAFKA_STORAGE_ERROR',
  58: 'SASL_AUTHENTICATION_FAILED',
  59: 'UNKNOWN_PRODUCER_ID',
  74: 'FENCED_LEADER_EPOCH',
  75: 'UNKNOWN_LEADER_EPOCH',
  76: 'UNSUPPORTED_COMPRESSION_TYPE',
  87: 'INVALID_RECORD',
  89: 'THROTTLING_QUOTA_EXCEEDED',
  90: 'PRODUCER_FENCED',
};

export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `UNKNOWN_ERROR_${code}`;
}

/**
 * A failure of the wire client, in the shape classify.ts reads: `type` a broker error name,
 * `name` the kafkajs class the same failure has there (connection, timeout, SASL).
 */
export class WireError extends Error {
  readonly type: string | undefined;
  constructor(name: string, message: string, type?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
    this.type = type;
  }
}

export function brokerError(code: number, what: string, detail?: string | null): WireError {
  const type = errorName(code);
  return new WireError('KafkaJSProtocolError', `${what}: ${type}${detail ? ` (${detail})` : ''}`, type);
}

/** The broker errors after which the partition's leader or the topic's metadata must be asked anew. */
export const STALE_METADATA = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_OR_FOLLOWER',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
]);

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

export interface TopicMetadata {
  /** Leader node id per partition index (-1: none now). */
  leaders: number[];
}

export interface MetadataAnswer {
  brokers: Map<number, BrokerAddress>;
  topics: Map<string, { errorCode: number; meta: TopicMetadata }>;
}

export function writeMetadataRequest(w: RequestWriter, topics: readonly string[], autoCreate: boolean): void {
  w.int32(topics.length);
  for (const t of topics) w.string(t);
  w.bool(autoCreate).bool(false).bool(false);
}

export function readMetadataResponse(r: ResponseReader): MetadataAnswer {
  r.int32(); // throttle_time_ms
  const brokers = new Map<number, BrokerAddress>();
  const nb = r.int32();
  for (let i = 0; i < nb; i++) {
    const nodeId = r.int32();
    const host = r.string() ?? '';
    const port = r.int32();
    r.string(); // rack
    brokers.set(nodeId, { nodeId, host, port });
  }
  r.string(); // cluster_id
  r.int32(); // controller_id
  const topics = new Map<string, { errorCode: number; meta: TopicMetadata }>();
  const nt = r.int32();
  for (let i = 0; i < nt; i++) {
    const errorCode = r.int16();
    const name = r.string() ?? '';
    r.bool(); // is_internal
    const leaders: number[] = [];
    const np = r.int32();
    for (let j = 0; j < np; j++) {
      r.int16(); // partition error_code: a partition without a leader shows as leader -1
      const index = r.int32();
      const leader = r.int32();
      r.int32(); // leader_epoch
      r.skipInt32Array(); // replica_nodes
      r.skipInt32Array(); // isr_nodes
      r.skipInt32Array(); // offline_replicas
      leaders[index] = leader;
    }
    for (let j = 0; j < leaders.length; j++) leaders[j] ??= -1;
    r.int32(); // topic_authorized_operations
    topics.set(name, { errorCode, meta: { leaders } });
  }
  return { brokers, topics };
}

export interface ProducePartition {
  partition: number;
  /** One framed record batch, as consecutive pieces (header, records) sent without a copy. */
  parts: readonly Buffer[];
}

export function writeProduceRequest(
  w: RequestWriter,
  acks: number,
  timeoutMs: number,
  topic: string,
  parts: readonly ProducePartition[],
): void {
  w.string(null).int16(acks).int32(timeoutMs).int32(1).string(topic).int32(parts.length);
  for (const p of parts) w.int32(p.partition).pieces(p.parts);
}

/** The first partition error of a Produce v8 answer, or undefined when every partition was written. */
export function readProduceResponse(r: ResponseReader, topic: string): WireError | undefined {
  let failure: WireError | undefined;
  const nt = r.int32();
  for (let i = 0; i < nt; i++) {
    r.string(); // name
    const np = r.int32();
    for (let j = 0; j < np; j++) {
      const partition = r.int32();
      const code = r.int16();
      r.int64(); // base_offset
      r.int64(); // log_append_time_ms
      r.int64(); // log_start_offset
      let recordError: string | null = null;
      const ne = r.int32();
      for (let k = 0; k < ne; k++) {
        r.int32(); // batch_index
        const m = r.string();
        recordError ??= m;
      }
      const message = r.string();
      if (code !== 0 && failure === undefined) {
        failure = brokerError(code, `produce to ${topic}-${partition}`, message ?? recordError);
      }
    }
  }
  return failure;
}

export function writeInitProducerIdRequest(w: RequestWriter): void {
  // No transactional id: an idempotent producer; the timeout is a transaction's, unused then.
  w.string(null).int32(60_000);
}

export function readInitProducerIdResponse(r: ResponseReader): { producerId: bigint; epoch: number } {
  r.int32(); // throttle_time_ms
  const code = r.int16();
  const producerId = r.int64();
  const epoch = r.int16();
  if (code !== 0) throw brokerError(code, 'InitProducerId');
  return { producerId, epoch };
}

/**
 * Checks an ApiVersions v0 answer (error code, then [api key, min, max] per request) for the
 * versions this client sends; throws UNSUPPORTED_VERSION naming the first one missing.
 */
export function checkApiVersions(r: ResponseReader, sasl: boolean, address: string): void {
  const code = r.int16();
  if (code !== 0) throw brokerError(code, `ApiVersions at ${address}`);
  const ranges = new Map<number, [number, number]>();
  const n = r.int32();
  for (let i = 0; i < n; i++) {
    const key = r.int16();
    const min = r.int16();
    ranges.set(key, [min, r.int16()]);
  }
  for (const [key, version, name] of sasl ? [...REQUIRED, ...REQUIRED_SASL] : REQUIRED) {
    const range = ranges.get(key);
    if (range === undefined || range[0] > version || range[1] < version) {
      const has = range === undefined ? 'not at all' : `v${range[0]}-v${range[1]}`;
      throw new WireError(
        'KafkaJSProtocolError',
        `the broker at ${address} speaks ${name} ${has}, logferry sends v${version}`,
        'UNSUPPORTED_VERSION',
      );
    }
  }
}
