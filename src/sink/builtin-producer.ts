import { ConfigError } from '../model/errors.ts';
import type { OutRecord } from '../model/record.ts';
import type { Logger } from '../observe/logger.ts';
import { type ClassifyContext, classifySendError, ProducerFailure } from './classify.ts';
import { codecs, countCompressed } from './codecs/index.ts';
import { kafkaSecurity } from './kafka-client.ts';
import type { Batch, BatchBuilder, ProducerPort } from './producer-port.ts';
import {
  EncoderPool,
  EncodingBuilder,
  frameRecordBatchParts,
  PreparedBatch,
  type RecordBatchHeader,
  RecordsEncoder,
} from './record-batch.ts';
import type { KafkaSinkConfig } from './sink-config.ts';
import { Cluster } from './wire/cluster.ts';
import type { ConnectionSettings } from './wire/connection.ts';
import {
  API,
  brokerError,
  errorName,
  type ProducePartition,
  readInitProducerIdResponse,
  readProduceResponse,
  STALE_METADATA,
  WireError,
  writeInitProducerIdRequest,
  writeProduceRequest,
} from './wire/protocol.ts';

/**
 * logferry's own Kafka producer (`sink.kafka.client: builtin`, the default): record batches
 * encoded by record-batch.ts, sent with Produce v8 over connections of `wire/` (node:net and
 * node:tls, SASL PLAIN and SCRAM), partitions and leaders from Metadata v8, the idempotent
 * producer's id from InitProducerId. About 1,300 lines with this file, instead of a library: the
 * library it replaced (@platformatic/kafka) took a bare Node from 42 to 111 MiB of RSS at import
 * and 0.6 s of CPU, for the four requests a log shipper sends (docs/benchmarks.md, session 4).
 *
 *   Batch ─► partition (Java murmur2) ─► record batch per partition ─► Produce per leader ─► broker
 *                                                                          │ error code / socket
 *   ProducerFailure(classified) ◄── classifySendError ◄── WireError(type, name) ◄┘
 *
 * Failures are WireErrors named as kafkajs names the same failure, so classify.ts has one table
 * for both clients. The Sender owns retries and backoff; this producer adds only the short waits a
 * new topic needs for its leaders (LEADER_NOT_AVAILABLE right after auto-creation).
 */

/** Produce v8 (Kafka 2.4 and later, up to 4.x): record batches v2, a non-flexible header. */
const PRODUCE_VERSION = 8;

/** Metadata is asked again after this long even without a failure (Java's metadata.max.age.ms). */
const METADATA_MAX_AGE_MS = 300_000;

/** Short waits for a topic's leaders (a topic just created): 100, 200, 400, 800 ms. */
const LEADER_WAITS_MS = [100, 200, 400, 800];

/** InitProducerId answers to wait out: the broker's producer-id manager is not ready yet. */
const COORDINATOR_BUSY = new Set([
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'CONCURRENT_TRANSACTIONS',
]);
const PRODUCER_ID_WAITS_MS = [100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000, 1_000];

/** A partition, the indexes of the batch's records that go to it (all: undefined), their count. */
type PartitionGroup = [number, Int32Array | undefined, number];

interface EncodedBatch {
  partitionCount: number;
  producerId: bigint | undefined;
  producerEpoch: number | undefined;
  parts: ProducePartition[];
}

const STATE_LOST = new Set(['UNKNOWN_PRODUCER_ID', 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH']);

const ACKS = { all: -1, 1: 1, 0: 0 } as const;

/** The broker keeps the last 5 batches' sequence numbers per producer and partition (Java's limit too). */
const MAX_IDEMPOTENT_IN_FLIGHT = 5;

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

/** What the wire connections need from the sink's settings (unit-testable, no connection). */
export function connectionSettings(config: KafkaSinkConfig): ConnectionSettings {
  const idempotent = config.idempotent && config.acks === 'all';
  if (idempotent && config.max_in_flight_requests > MAX_IDEMPOTENT_IN_FLIGHT) {
    throw new ConfigError(
      `sink.kafka.max_in_flight_requests is ${config.max_in_flight_requests} but an idempotent producer keeps order with at most ${MAX_IDEMPOTENT_IN_FLIGHT} (the broker remembers 5 batches per producer): set it to ${MAX_IDEMPOTENT_IN_FLIGHT} or less, or idempotent: false`,
    );
  }
  // The one function that reads PEM and secret files and checks them, for both clients.
  const { tls, sasl } = kafkaSecurity(config);
  return {
    clientId: config.client_id,
    connectTimeoutMs: config.connection_timeout_ms,
    requestTimeoutMs: config.request_timeout_ms,
    tls,
    // kafkajs sends the broker's host name as SNI unless it is an IP address; so do we.
    sni: tls !== undefined && config.tls?.server_name === '',
    sasl,
  };
}

/** Whether the broker no longer knows our producer id or its sequence (then a new id is needed). */
function producerStateLost(err: unknown): boolean {
  const type = (err as WireError | undefined)?.type;
  return type !== undefined && STATE_LOST.has(type);
}

interface TopicLeaders {
  leaders: number[];
  at: number;
}

/**
 * The built-in producer. `send` sends one batch and resolves once the broker acknowledged it per
 * acks; failures are ProducerFailures classified as for kafkajs.
 */
export class BuiltinProducer implements ProducerPort {
  readonly #config: KafkaSinkConfig;
  readonly #settings: ConnectionSettings;
  readonly #context: ClassifyContext;
  readonly #idempotent: boolean;
  readonly #acks: number;
  #cluster: Cluster | undefined;
  #producerId: bigint | undefined;
  #producerEpoch: number | undefined;
  #connected = false;
  readonly #topics = new Map<string, TopicLeaders>();
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
  /** For batches given as lists of records; made on first use, released on disconnect. */
  #encoder: RecordsEncoder | undefined;
  /** Topics whose batches mix keys: their records are kept as they are and encoded at send time. */
  readonly #mixedTopics = new Set<string>();
  /** Encoders of open batches, reused across batches (made at the first batch, sized by it). */
  #encoders: EncoderPool | undefined;

  /** Sends the Sender may have in flight: each puts its requests on the wire in call order. */
  readonly maxInFlight: number;

  /** `_log`: the same signature as KafkaProducer's; failures reach the Sender, which logs them. */
  constructor(config: KafkaSinkConfig, _log: Logger) {
    this.#config = config;
    this.maxInFlight = config.max_in_flight_requests;
    this.#context = {
      tls: config.tls?.enabled === true,
      sasl: config.sasl && { mechanism: config.sasl.mechanism, username: config.sasl.username },
    };
    this.#settings = connectionSettings(config);
    this.#idempotent = config.idempotent && config.acks === 'all';
    this.#acks = ACKS[config.acks];
  }

  /** Rejects with the classified LogferryError (one line, with the fix), never a WireError. */
  async connect(): Promise<void> {
    try {
      await this.#connect();
    } catch (err) {
      throw (err as ProducerFailure).classified?.error ?? err;
    }
  }

  async #connect(): Promise<void> {
    this.#cluster ??= new Cluster(this.#config.brokers, this.#settings);
    try {
      // Reaches and authenticates to a broker now, as kafkajs's connect does, rather than at the
      // first batch; the idempotent producer's id likewise.
      await this.#cluster.metadata([], false);
      if (this.#idempotent && this.#producerId === undefined) await this.#initProducerId();
      this.#connected = true;
    } catch (err) {
      throw this.#failure(err, this.#config.topic);
    }
  }

  async #initProducerId(): Promise<void> {
    const cluster = this.#cluster as Cluster;
    // Any broker hands out an id to a producer without a transactional id, once its producer-id
    // manager has loaded (a broker just started answers COORDINATOR_LOAD_IN_PROGRESS for a while).
    for (let attempt = 0; ; attempt++) {
      const m = await cluster.metadata([], false);
      const first = m.brokers.keys().next();
      if (first.done === true) throw new WireError('KafkaJSBrokerNotFound', 'the cluster named no broker');
      const c = await cluster.connectionTo(first.value);
      try {
        const answer = readInitProducerIdResponse(
          await c.request(API.initProducerId, 1, writeInitProducerIdRequest),
        );
        this.#producerId = answer.producerId;
        this.#producerEpoch = answer.epoch;
        return;
      } catch (err) {
        const wait = PRODUCER_ID_WAITS_MS[attempt];
        if (wait === undefined || !COORDINATOR_BUSY.has((err as WireError).type ?? '')) throw err;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
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
    } catch (err) {
      // Leaders move and connections break: the next attempt asks the cluster afresh.
      this.#staleMetadata = true;
      if (producerStateLost(err)) await this.#renewProducerId();
      throw this.#failure(err, batch.topic);
    }
  }

  /** The leader of each partition of `topic`, from the cache unless stale or old. */
  async #leaders(topic: string): Promise<number[]> {
    const cached = this.#topics.get(topic);
    const now = Date.now();
    if (cached !== undefined && !this.#staleMetadata && now - cached.at < METADATA_MAX_AGE_MS)
      return cached.leaders;
    const cluster = this.#cluster as Cluster;
    for (let attempt = 0; ; attempt++) {
      const answer = await cluster.metadata([topic], true);
      const t = answer.topics.get(topic);
      const code = t?.errorCode ?? 3;
      const leaders = t?.meta.leaders ?? [];
      const ready = code === 0 && leaders.length > 0 && leaders.every((l) => l >= 0);
      if (ready) {
        this.#topics.set(topic, { leaders, at: now });
        if (this.#topics.size > 1024) this.#topics.delete(this.#topics.keys().next().value as string);
        this.#staleMetadata = false;
        return leaders;
      }
      const wait = LEADER_WAITS_MS[attempt];
      if (wait === undefined) {
        throw code !== 0
          ? brokerError(code, `metadata of topic ${topic}`)
          : brokerError(5, `metadata of topic ${topic}`, 'a partition has no leader');
      }
      // A topic just created (LEADER_NOT_AVAILABLE) or one the broker has not applied yet
      // (UNKNOWN_TOPIC_OR_PARTITION) gets its leaders within a second; a permanent error does not.
      if (code !== 0 && !STALE_METADATA.has(errorName(code))) {
        throw brokerError(code, `metadata of topic ${topic}`);
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
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
    const leaders = await this.#leaders(batch.topic);
    let encoded = this.#encoded.get(batch);
    if (
      encoded === undefined ||
      encoded.partitionCount !== leaders.length ||
      encoded.producerId !== this.#producerId ||
      encoded.producerEpoch !== this.#producerEpoch
    ) {
      encoded = await this.#encode(batch, leaders.length);
      this.#encoded.set(batch, encoded);
    }
    const byLeader = new Map<number, ProducePartition[]>();
    for (const part of encoded.parts) {
      const leader = leaders[part.partition] as number;
      const list = byLeader.get(leader);
      if (list === undefined) byLeader.set(leader, [part]);
      else list.push(part);
    }
    const cluster = this.#cluster as Cluster;
    const answers: Promise<void>[] = [];
    for (const [leader, parts] of byLeader) {
      const connection = await cluster.connectionTo(leader);
      // The request's own fields; the record batches go out as their pieces, uncopied.
      const w = connection.writer(
        API.produce,
        PRODUCE_VERSION,
        64 + Buffer.byteLength(batch.topic) + 12 * parts.length,
      );
      writeProduceRequest(w, this.#acks, this.#config.request_timeout_ms, batch.topic, parts);
      const answer = connection.send(w.finishPieces(), this.#acks !== 0);
      answers.push(
        this.#acks === 0
          ? answer.then(() => undefined)
          : answer.then((r) => {
              const failure = readProduceResponse(r, batch.topic);
              if (failure !== undefined) throw failure;
            }),
      );
    }
    return answers;
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
    const producerId = this.#producerId;
    // Records without a key go to one partition per batch, the next one each time (Java's
    // sticky partitioner): one record batch, compressed as a whole, instead of one per partition.
    this.#sticky = (this.#sticky + 1) % partitionCount;
    const groups = batch instanceof PreparedBatch ? undefined : this.#groups(batch, partitionCount);
    const idempotent = this.#idempotent && producerId !== undefined;
    const parts: ProducePartition[] = [];
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
      const frame = await this.#recordBatch(batch, indexes, n, {
        producerId: idempotent ? (producerId as bigint) : -1n,
        producerEpoch: idempotent ? (this.#producerEpoch ?? 0) : -1,
        baseSequence,
        timestamp,
      });
      parts.push({ partition, parts: frame });
    }
    return { partitionCount, producerId, producerEpoch: this.#producerEpoch, parts };
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
  ): Promise<Buffer[]> {
    if (batch instanceof PreparedBatch) {
      // Compressed when it closed (lz4, zstd: its pieces go out as they are), or to be compressed
      // now from its own copy of the records.
      if (batch.codec !== 'none')
        return frameRecordBatchParts(batch.payloadParts, count, batch.codec, header);
      return this.#frame(batch.payload, count, header, false);
    }
    // The encoder's buffer is reused: sends encode one after another (send's turn chain), and the
    // view is compressed or copied before the next one starts.
    this.#encoder ??= new RecordsEncoder();
    return this.#frame(this.#encoder.encodeRecords(batch, indexes, count), count, header, true);
  }

  /**
   * Compresses a records section with the sink's codec and frames it as a record batch; a
   * `borrowed` section (the reused encoder's) is copied when it goes uncompressed.
   */
  async #frame(
    section: Buffer,
    count: number,
    header: RecordBatchHeader,
    borrowed: boolean,
  ): Promise<Buffer[]> {
    const codec = this.#config.compression;
    if (codec === 'none')
      return frameRecordBatchParts([borrowed ? Buffer.from(section) : section], count, codec, header);
    const compressed = await codecs[codec].compress(section);
    countCompressed(section.length, compressed.length);
    return frameRecordBatchParts([compressed], count, codec, header);
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
    if (!this.#idempotent || this.#cluster === undefined) return;
    this.#sequences.clear();
    try {
      await this.#initProducerId();
    } catch {
      // The next send finds the old id, fails again and tries again after the Sender's backoff.
    }
  }

  async disconnect(): Promise<void> {
    this.#connected = false;
    const cluster = this.#cluster;
    this.#cluster = undefined;
    this.#topics.clear();
    cluster?.close();
    // The encoders' buffers go back to the byte arena; a batch still compressing keeps its own.
    this.#encoders?.drain();
    this.#encoder?.release();
    this.#encoder = undefined;
  }

  #failure(err: unknown, topic: string): ProducerFailure {
    return new ProducerFailure(classifySendError(err, this.#config.brokers, topic, this.#context));
  }
}
