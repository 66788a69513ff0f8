import { isIP } from 'node:net';
import zlib from 'node:zlib';
import type {
  CompressionAlgorithmSpecification,
  Connection,
  Producer,
  ProducerOptions,
  SASLMechanismValue,
  SASLOptions,
} from '@platformatic/kafka';
import { CodecUnavailableError, ConfigError } from '../model/errors.ts';
import type { OutRecord } from '../model/record.ts';
import type { Logger } from '../observe/logger.ts';
import { type ClassifyContext, classifySendError, ProducerFailure } from './classify.ts';
import { codecs, countCompressed } from './codecs/index.ts';
import { ZSTD_LEVEL } from './codecs/zstd.ts';
import { kafkaClientConfig } from './kafka-client.ts';
import type { Batch, BatchBuilder, ProducerPort } from './producer-port.ts';
import {
  EncoderPool,
  EncodingBuilder,
  frameRecordBatch,
  PreparedBatch,
  type RecordBatchHeader,
  RecordsEncoder,
} from './record-batch.ts';
import type { KafkaSinkConfig } from './sink-config.ts';

/**
 * The @platformatic/kafka adapter behind ProducerPort (`sink.kafka.client: platformatic`): the same
 * settings as the kafkajs adapter, read through the same `kafkaClientConfig` (PEM and secret files,
 * their ConfigErrors), and failures handed to the same `classifySendError` table after
 * `toClassifiable` has put the library's error tree in the shape that table reads.
 *
 *   Batch ─► messages (Buffer key/value, Java murmur2 partition) ─► Producer.send ─► broker
 *                                                                        │ error tree
 *   ProducerFailure(classified) ◄── classifySendError ◄── toClassifiable ◄┘
 *
 * What differs from kafkajs, on purpose:
 * - The library is imported at the first connect: loading it costs ~0.5 s of CPU, which the CLI's
 *   other commands and the kafkajs default must not pay.
 * - Its default partitioner is murmur2 `>>> 0`, which puts a key with a negative hash on another
 *   partition than Java and kafkajs (`& 0x7fffffff`): `javaPartition` below is the Java one.
 * - Its codecs are its own (Node's zlib for gzip/zstd, WASM for snappy/lz4); `patchCodecs` keeps
 *   them, counts them in `compressionStats` and runs zstd at logferry's level (ZSTD_LEVEL).
 * - Its idempotent producer would retry forever by default; `retries: 3` gives the Sender back its
 *   failures (and the backoff, the broker state and the metrics that come with them).
 */

type Library = typeof import('@platformatic/kafka');

/** Produce v8 (Kafka 2.4 and later, up to 4.x): record batches v2, a non-flexible header. */
const PRODUCE_API_KEY = 0;
const PRODUCE_VERSION = 8;

interface EncodedPartition {
  partition: number;
  /** One framed record batch. */
  bytes: Buffer;
}

/** A partition, the indexes of the batch's records that go to it (all: undefined), their count. */
type PartitionGroup = [number, Int32Array | undefined, number];

interface EncodedBatch {
  partitionCount: number;
  producerId: bigint | undefined;
  producerEpoch: number | undefined;
  parts: EncodedPartition[];
}

const STATE_LOST = new Set(['UNKNOWN_PRODUCER_ID', 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH']);

/** Whether the broker no longer knows our producer id or its sequence (then a new id is needed). */
function producerStateLost(err: unknown): boolean {
  const stack: unknown[] = [err];
  for (let seen = 0; stack.length > 0 && seen < 64; seen++) {
    const e = stack.pop() as LibraryError | null | undefined;
    if (e === null || typeof e !== 'object') continue;
    if (e.apiId !== undefined && STATE_LOST.has(e.apiId)) return true;
    if (e.cause !== undefined) stack.push(e.cause);
    if (Array.isArray(e.errors)) stack.push(...e.errors);
  }
  return false;
}

const ACKS = { all: -1, 1: 1, 0: 0 } as const;

/** The broker keeps the last 5 batches' sequence numbers per producer and partition (Java's limit too). */
const MAX_IDEMPOTENT_IN_FLIGHT = 5;

const MECHANISMS: Readonly<Record<string, SASLMechanismValue>> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

let library: Promise<Library> | undefined;

function loadLibrary(): Promise<Library> {
  library ??= import('@platformatic/kafka').then((lib) => {
    patchCodecs(lib);
    return lib;
  });
  return library;
}

/**
 * Java's `Utils.murmur2` (the default partitioner of the Java producer and of kafkajs), in 32-bit
 * integer arithmetic: the library's own version computes in BigInt.
 */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[whole + 2] << 16;
    if (rest >= 2) h ^= data[whole + 1] << 8;
    h ^= data[whole];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Java and kafkajs choose for a key among `partitions`. */
export function javaPartition(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/** Settings the library takes, without the library (unit-testable, no connection). */
export function platformaticOptions(
  config: KafkaSinkConfig,
  log: Logger,
): ProducerOptions<Buffer, Buffer, Buffer, Buffer> {
  const idempotent = config.idempotent && config.acks === 'all';
  if (idempotent && config.max_in_flight_requests > MAX_IDEMPOTENT_IN_FLIGHT) {
    throw new ConfigError(
      `sink.kafka.max_in_flight_requests is ${config.max_in_flight_requests} but an idempotent producer keeps order with at most ${MAX_IDEMPOTENT_IN_FLIGHT} (the broker remembers 5 batches per producer): set it to ${MAX_IDEMPOTENT_IN_FLIGHT} or less, or idempotent: false`,
    );
  }
  // kafkajs's config, built by the one function that reads PEM and secret files and checks them.
  const shared = kafkaClientConfig(config, log);
  const options: ProducerOptions<Buffer, Buffer, Buffer, Buffer> = {
    clientId: config.client_id,
    bootstrapBrokers: [...config.brokers],
    connectTimeout: config.connection_timeout_ms,
    requestTimeout: config.request_timeout_ms,
    // The broker-side wait for acks within one produce request, as kafkajs's send `timeout`.
    timeout: config.request_timeout_ms,
    maxInflights: config.max_in_flight_requests,
    acks: ACKS[config.acks],
    idempotent,
    compression: config.compression,
    autocreateTopics: true,
    // The library's own short retries (metadata refreshes, leader moves), as kafkajs's.
    retries: 3,
    retryDelay: retryDelay,
    partitioner: undefined,
  };
  if (shared.ssl !== undefined && typeof shared.ssl === 'object') {
    options.tls = shared.ssl;
    // kafkajs sends the broker's host name as SNI unless it is an IP address; the library can only
    // do it for every broker or none (an IP as SNI earns a Node warning, so none when all are IPs).
    if (config.tls?.server_name === '') {
      options.tlsServerName = !config.brokers.every((b) => isIP(hostOf(b)) !== 0);
    }
  }
  if (shared.sasl !== undefined && 'password' in shared.sasl) {
    const sasl: SASLOptions = {
      mechanism: MECHANISMS[shared.sasl.mechanism] as SASLMechanismValue,
      username: shared.sasl.username,
      password: shared.sasl.password,
    };
    options.sasl = sasl;
  }
  return options;
}

function hostOf(broker: string): string {
  const bracket = broker.match(/^\[([^\]]+)\]/);
  if (bracket) return bracket[1] as string;
  const colon = broker.lastIndexOf(':');
  return colon > 0 && broker.indexOf(':') === colon ? broker.slice(0, colon) : broker;
}

/** 100 ms, 200 ms, 400 ms ... capped at 2 s, with ±20% jitter (kafkajs's schedule). */
function retryDelay(_client: unknown, _operation: string, attempt: number): number {
  const base = Math.min(100 * 2 ** Math.max(0, attempt - 1), 2_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

let codecsPatched = false;

/**
 * Counts the library's compressions in `compressionStats` (the metrics stage reads it for either
 * client) and makes its zstd use logferry's level. The library compresses synchronously through
 * this process-wide table; Java-readable output of every codec is proven against the console
 * consumer in test/integration/sink-platformatic.test.ts.
 */
function patchCodecs(lib: Library): void {
  if (codecsPatched) return;
  codecsPatched = true;
  // Typed `as const` (readonly) by the library, but a plain object it reads at every batch.
  const table = lib.compressionsAlgorithms as unknown as Record<
    'gzip' | 'snappy' | 'lz4' | 'zstd',
    CompressionAlgorithmSpecification
  >;
  const zstdOptions = { params: { [zlib.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } };
  if (table.zstd.available) {
    table.zstd.compressSync = (data) => {
      const input = Buffer.isBuffer(data) ? data : data.buffer;
      return zlib.zstdCompressSync(input, { ...zstdOptions, pledgedSrcSize: input.length });
    };
  }
  for (const name of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    const algorithm = table[name];
    const compressSync = algorithm.compressSync;
    algorithm.compressSync = (data) => count(data.length, compressSync(data));
    // The produce path prefers the asynchronous variant where there is one (gzip).
    const compress = algorithm.compress;
    if (compress !== undefined) {
      algorithm.compress = async (data) => count(data.length, await compress(data));
    }
  }
}

function count(inputLength: number, output: Buffer): Buffer {
  countCompressed(inputLength, output.length);
  return output;
}

const UNKNOWN_TOPIC = /^Unknown topic /;

/** The subset of an error `classifySendError` reads. */
export interface Classifiable {
  name?: string;
  type?: string;
  message: string;
}

interface LibraryError {
  name?: string;
  code?: string;
  apiId?: string;
  message?: string;
  errors?: unknown[];
  cause?: unknown;
}

/**
 * Puts the library's error tree (MultipleErrors of retries, ResponseError of ProtocolErrors per
 * partition, NetworkError with the socket's error as cause) in the shape classify.ts reads:
 * - a broker error code (ProtocolError `apiId`) becomes `type`, as kafkajs names it;
 * - a failed SASL exchange becomes kafkajs's KafkaJSSASLAuthenticationError;
 * - a request that timed out becomes KafkaJSRequestTimeoutError;
 * - the library's "Unknown topic T." (its form of a metadata UNKNOWN_TOPIC_OR_PARTITION) gets
 *   that type back;
 * - any other network failure becomes KafkaJSConnectionError, with the innermost message (the
 *   socket's `connect ECONNREFUSED ...` or the TLS alert), which classify's TLS check reads.
 * The first broker error code found wins: it says more than the network errors around it.
 */
export function toClassifiable(err: unknown): Classifiable {
  let protocol: LibraryError | undefined;
  let auth: LibraryError | undefined;
  let timeout: LibraryError | undefined;
  let network: LibraryError | undefined;
  let user: LibraryError | undefined;
  let innermost: LibraryError | undefined;
  const stack: unknown[] = [err];
  for (let seen = 0; stack.length > 0 && seen < 64; seen++) {
    const e = stack.pop();
    if (e === null || typeof e !== 'object') continue;
    const le = e as LibraryError;
    if (le.apiId !== undefined) protocol ??= le;
    if (le.code === 'PLT_KFK_AUTHENTICATION') auth ??= le;
    // The library's TimeoutError carries the network code; only its message tells a request's
    // timeout from a connection's.
    if (le.code === 'PLT_KFK_NETWORK' && le.message === 'Request timed out') timeout ??= le;
    if (le.code === 'PLT_KFK_NETWORK') network ??= le;
    if (le.code === 'PLT_KFK_USER') user ??= le;
    if (le.errors === undefined && le.cause === undefined) innermost ??= le;
    // Depth first, in order: the first error of a retry chain before the later ones.
    if (le.cause !== undefined) stack.push(le.cause);
    if (Array.isArray(le.errors)) for (let i = le.errors.length - 1; i >= 0; i--) stack.push(le.errors[i]);
  }
  const outer = (err ?? {}) as LibraryError;
  const detail = innermost?.message ?? outer.message ?? String(err);
  if (protocol?.apiId === 'SASL_AUTHENTICATION_FAILED' || (auth && !protocol)) {
    return { name: 'KafkaJSSASLAuthenticationError', message: auth?.message ?? detail };
  }
  if (protocol !== undefined) {
    return { type: protocol.apiId, message: protocol.message ?? detail };
  }
  if (timeout !== undefined) return { name: 'KafkaJSRequestTimeoutError', message: 'Request timed out' };
  // The library turns a metadata answer of UNKNOWN_TOPIC_OR_PARTITION into this user error.
  if (user !== undefined && UNKNOWN_TOPIC.test(user.message ?? '')) {
    return { type: 'UNKNOWN_TOPIC_OR_PARTITION', message: user.message as string };
  }
  if (network !== undefined) {
    const where = network.message ?? '';
    return {
      name: 'KafkaJSConnectionError',
      message: detail === where ? where : `${where} ${detail}`.trim(),
    };
  }
  return { name: outer.name, message: detail };
}

/**
 * One producer of @platformatic/kafka. `send` sends one batch and resolves once the broker
 * acknowledged it per acks; failures are ProducerFailures classified as for kafkajs.
 */
export class PlatformaticProducer implements ProducerPort {
  readonly #config: KafkaSinkConfig;
  readonly #options: ProducerOptions<Buffer, Buffer, Buffer, Buffer>;
  readonly #context: ClassifyContext;
  #producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined;
  #connected = false;
  /** The last key and its hash: a batch's records mostly share one key. */
  #lastKey = '';
  #lastKeyHash = murmur2(Buffer.alloc(0)) & 0x7fffffff;
  /** The partition of the next batch of records without a key. */
  #sticky = -1;
  #staleMetadata = false;
  /** Settles when the previous send's requests are on their connections. */
  #turn: Promise<void> = Promise.resolve();
  /** Moves on when a dispatch fails; sends queued before that fail with its error. */
  #generation = 0;
  #dispatchFailure: unknown;
  /** The next sequence number per `topic\0partition` of the idempotent producer. */
  readonly #sequences = new Map<string, number>();
  /** What a batch was sent as at its first attempt, for its retries. */
  readonly #encoded = new WeakMap<Batch, EncodedBatch>();
  readonly #encoder = new RecordsEncoder();
  /** Topics whose batches mix keys: their records are kept as they are and encoded at send time. */
  readonly #mixedTopics = new Set<string>();
  /** Encoders of open batches, reused across batches (made at the first batch, sized by it). */
  #encoders: EncoderPool | undefined;

  /** Sends the Sender may have in flight: each puts its requests on the wire in call order. */
  readonly maxInFlight: number;

  constructor(config: KafkaSinkConfig, log: Logger) {
    this.#config = config;
    this.maxInFlight = config.max_in_flight_requests;
    this.#context = {
      tls: config.tls?.enabled === true,
      sasl: config.sasl && { mechanism: config.sasl.mechanism, username: config.sasl.username },
    };
    this.#options = platformaticOptions(config, log);
  }

  /** Rejects with the classified LogferryError (one line, with the fix), never the library's own. */
  async connect(): Promise<void> {
    try {
      await this.#connect();
    } catch (err) {
      throw (err as ProducerFailure).classified?.error ?? err;
    }
  }

  async #connect(): Promise<void> {
    const lib = await loadLibrary();
    const codec = this.#config.compression;
    if (codec !== 'none' && !lib.compressionsAlgorithms[codec].available) {
      throw new CodecUnavailableError(
        `compression ${codec} is not available to @platformatic/kafka on Node ${process.versions.node}: use Node 22.15 or later, another codec, or sink.kafka.client: kafkajs`,
      );
    }
    this.#producer ??= new lib.Producer<Buffer, Buffer, Buffer, Buffer>({ ...this.#options });
    try {
      // Reaches and authenticates to a broker now, as kafkajs's connect does, rather than at the
      // first batch; the idempotent producer's id likewise.
      await this.#producer.metadata({ topics: [] });
      if (this.#options.idempotent && this.#producer.producerId === undefined) {
        await this.#producer.initIdempotentProducer({});
      }
      this.#connected = true;
    } catch (err) {
      throw this.#failure(err, this.#config.topic);
    }
  }

  /** Rejects with a ProducerFailure, which the Sender's classifySendError passes through. */
  async send(batch: Batch): Promise<void> {
    if (!this.#connected) {
      try {
        await this.#connect();
      } catch (err) {
        if (err instanceof ProducerFailure) throw err;
        throw this.#failure(err, batch.topic);
      }
    }
    try {
      // Requests go on the wire in call order, so with several sends in flight a later batch never
      // overtakes an earlier one (their sequence numbers were given in that order too); only the
      // waits for the answers overlap.
      // When a dispatch fails before its batch got its sequence numbers (metadata, connection), a
      // later batch would take them and be written first: the sends queued behind a failed
      // dispatch fail too, and the Sender sends them again after the failed one.
      const generation = this.#generation;
      const dispatched = this.#turn.then(() => {
        if (generation !== this.#generation) throw this.#dispatchFailure;
        return this.#dispatch(batch);
      });
      this.#turn = dispatched.then(
        () => undefined,
        (err: unknown) => {
          if (generation !== this.#generation) return;
          this.#generation++;
          this.#dispatchFailure = err;
        },
      );
      const answers = await dispatched;
      // Every request settles before the outcome is known, so a retry never overlaps an attempt.
      const results = await Promise.allSettled(answers);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
      this.#staleMetadata = false;
    } catch (err) {
      // Leaders move and connections break: the next attempt asks the cluster afresh.
      this.#staleMetadata = true;
      if (producerStateLost(err)) await this.#renewProducerId();
      throw this.#failure(err, batch.topic);
    }
  }

  /**
   * Puts one produce request per partition leader on its connection, each holding one record batch
   * per partition that the batch's records map to, and returns the answers to wait for. A retried
   * batch (the Sender sends the same object again) is sent with the bytes and sequence numbers of
   * its first attempt, so the broker can recognise a duplicate of one it already wrote; it is
   * encoded anew only when the partition count or the producer id changed.
   */
  async #dispatch(batch: Batch): Promise<Promise<void>[]> {
    const producer = this.#producer as Producer<Buffer, Buffer, Buffer, Buffer>;
    const lib = await loadLibrary();
    const metadata = await producer.metadata({
      topics: [batch.topic],
      autocreateTopics: true,
      forceUpdate: this.#staleMetadata,
    });
    const partitions = metadata.topics.get(batch.topic)?.partitions;
    if (partitions === undefined || partitions.length === 0) {
      throw Object.assign(new Error(`Unknown topic ${batch.topic}.`), { code: 'PLT_KFK_USER' });
    }
    let encoded = this.#encoded.get(batch);
    if (
      encoded === undefined ||
      encoded.partitionCount !== partitions.length ||
      encoded.producerId !== producer.producerId ||
      encoded.producerEpoch !== producer.producerEpoch
    ) {
      encoded = await this.#encode(batch, partitions.length);
      this.#encoded.set(batch, encoded);
    }
    const byLeader = new Map<number, EncodedPartition[]>();
    for (const part of encoded.parts) {
      const leader = partitions[part.partition]?.leader ?? -1;
      const list = byLeader.get(leader);
      if (list === undefined) byLeader.set(leader, [part]);
      else list.push(part);
    }
    const answers: Promise<void>[] = [];
    for (const [leader, parts] of byLeader) {
      const broker = metadata.brokers.get(leader);
      if (broker === undefined) {
        throw Object.assign(new Error(`No leader for a partition of ${batch.topic}.`), {
          code: 'PLT_KFK_NETWORK',
        });
      }
      const connection = await new Promise<Connection>((resolve, reject) =>
        producer.connections.get(broker, (error, c) =>
          error || c === undefined ? reject(error) : resolve(c),
        ),
      );
      answers.push(this.#request(lib, connection, batch.topic, parts));
    }
    return answers;
  }

  /** Queues one produce request on the connection (in call order); resolves with its answer. */
  #request(
    lib: Library,
    connection: Connection,
    topic: string,
    parts: readonly EncodedPartition[],
  ): Promise<void> {
    const acks = ACKS[this.#config.acks];
    const writer = lib.Writer.create()
      .appendString(null, false) // transactional_id
      .appendInt16(acks)
      .appendInt32(this.#config.request_timeout_ms)
      .appendInt32(1)
      .appendString(topic, false)
      .appendInt32(parts.length);
    for (const part of parts)
      writer.appendInt32(part.partition).appendInt32(part.bytes.length).append(part.bytes);
    if (acks === 0) writer.context.noResponse = true;
    return new Promise((resolve, reject) => {
      connection.send(
        PRODUCE_API_KEY,
        PRODUCE_VERSION,
        () => writer,
        lib.produceV8.parseResponse,
        false,
        false,
        (err: Error | null) => (err ? reject(err) : resolve()),
      );
    });
  }

  /**
   * Batches of a topic are encoded record by record as they fill (their strings die young), while
   * their records share one key; a topic seen with several keys in one batch gets plain lists,
   * encoded at send time.
   */
  batchBuilder(topic: string, maxBytes: number): BatchBuilder | undefined {
    if (this.#mixedTopics.has(topic)) return undefined;
    // Encoders come from a pool and start small (a quiet topic's batch holds a few records): see EncoderPool.
    this.#encoders ??= new EncoderPool(Math.min(maxBytes, 64 * 1024));
    return new EncodingBuilder(topic, this.#encoders, this.#onMixed, this.#config.compression);
  }

  readonly #onMixed = (topic: string): void => {
    if (this.#mixedTopics.size >= 1024) this.#mixedTopics.clear();
    this.#mixedTopics.add(topic);
  };

  /** Maps the records to partitions and encodes one compressed record batch per partition. */
  async #encode(batch: Batch, partitionCount: number): Promise<EncodedBatch> {
    const producer = this.#producer as Producer<Buffer, Buffer, Buffer, Buffer>;
    const producerId = producer.producerId;
    // Records without a key go to one partition per batch, the next one each time (Java's
    // sticky partitioner): one record batch, compressed as a whole, instead of one per partition.
    this.#sticky = (this.#sticky + 1) % partitionCount;
    const groups = batch instanceof PreparedBatch ? undefined : this.#groups(batch, partitionCount);
    const idempotent = this.#options.idempotent === true && producerId !== undefined;
    const parts: EncodedPartition[] = [];
    const timestamp = Date.now();
    const count = groups === undefined ? 1 : groups.length;
    for (let g = 0; g < count; g++) {
      const [partition, indexes, n] =
        groups === undefined
          ? [
              this.#partitionOf((batch as PreparedBatch).key, partitionCount),
              undefined,
              (batch as PreparedBatch).count,
            ]
          : (groups[g] as PartitionGroup);
      let baseSequence = -1;
      if (idempotent) {
        const key = `${batch.topic}\0${partition}`;
        baseSequence = this.#sequences.get(key) ?? 0;
        // Sequences wrap at 2^31, as Java's producer does.
        this.#sequences.set(key, (baseSequence + n) % 0x80000000);
      }
      const bytes = await this.#recordBatch(batch, indexes, n, {
        producerId: idempotent ? (producerId as bigint) : -1n,
        producerEpoch: idempotent ? (producer.producerEpoch ?? 0) : -1,
        baseSequence,
        timestamp,
      });
      parts.push({ partition, bytes });
    }
    return { partitionCount, producerId, producerEpoch: producer.producerEpoch, parts };
  }

  /** The partitions a plain batch's records map to, with the records of each, in order. */
  #groups(batch: Batch, partitionCount: number): PartitionGroup[] {
    const { records } = batch;
    const n = records.length;
    const first = this.#partitionOf(records[0]?.key ?? null, partitionCount);
    let partitionOf: Int32Array | undefined;
    for (let i = 1; i < n; i++) {
      const p = this.#partitionOf((records[i] as OutRecord).key, partitionCount);
      if (partitionOf === undefined) {
        if (p === first) continue;
        partitionOf = new Int32Array(n).fill(first, 0, i);
      }
      partitionOf[i] = p;
    }
    if (partitionOf === undefined) return [[first, undefined, n]];
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++)
      counts.set(partitionOf[i] as number, (counts.get(partitionOf[i] as number) ?? 0) + 1);
    const groups: PartitionGroup[] = [];
    for (const [p, count] of counts) {
      const indexes = new Int32Array(count);
      let k = 0;
      for (let i = 0; i < n; i++) if (partitionOf[i] === p) indexes[k++] = i;
      groups.push([p, indexes, count]);
    }
    return groups;
  }

  async #recordBatch(
    batch: Batch,
    indexes: Int32Array | undefined,
    count: number,
    header: RecordBatchHeader,
  ): Promise<Buffer> {
    if (batch instanceof PreparedBatch) {
      // Compressed when it closed (a codec with compressSync), or to be compressed now.
      if (batch.codec !== 'none') return frameRecordBatch(batch.payload, count, batch.codec, header);
      return this.#frame(batch.payload, count, header);
    }
    // The encoder's buffer is reused: sends encode one after another (send's turn chain), and the
    // view is compressed (copied) before the next one starts.
    return this.#frame(this.#encoder.encodeRecords(batch, indexes, count), count, header);
  }

  /** Compresses a records section with the sink's codec and frames it as a record batch. */
  async #frame(section: Buffer, count: number, header: RecordBatchHeader): Promise<Buffer> {
    const codec = this.#config.compression;
    if (codec === 'none') return frameRecordBatch(section, count, codec, header);
    const compressed = await codecs[codec].compress(section);
    countCompressed(section.length, compressed.length);
    return frameRecordBatch(compressed, count, codec, header);
  }

  #partitionOf(key: string | null, partitionCount: number): number {
    if (partitionCount === 1) return 0;
    if (key === null) return this.#sticky;
    if (key !== this.#lastKey) {
      this.#lastKey = key;
      this.#lastKeyHash = murmur2(Buffer.from(key)) & 0x7fffffff;
    }
    return this.#lastKeyHash % partitionCount;
  }

  /** After UNKNOWN_PRODUCER_ID or OUT_OF_ORDER_SEQUENCE_NUMBER: a new producer id, sequences from 0. */
  async #renewProducerId(): Promise<void> {
    if (this.#options.idempotent !== true) return;
    this.#sequences.clear();
    try {
      await this.#producer?.initIdempotentProducer({});
    } catch {
      // The next send finds the old id, fails again and tries again after the Sender's backoff.
    }
  }

  async disconnect(): Promise<void> {
    this.#connected = false;
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.close();
  }

  #failure(err: unknown, topic: string): ProducerFailure {
    return new ProducerFailure(
      classifySendError(toClassifiable(err), this.#config.brokers, topic, this.#context),
    );
  }
}
