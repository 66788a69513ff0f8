// Every compression codec against the real broker, both ways: batches kafkajs compresses through our
// codecs are accepted by the broker (which decompresses v2 batches to validate them) and read back
// intact by Kafka's own Java console consumer and by kafkajs; batches the Java producer compresses
// are read by kafkajs through our codecs. Counting wrappers around the registered codecs prove the
// batches really went through the codec under test in both directions.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import {
  COMPRESSION_NAMES,
  type CompressionName,
  registerCodecs,
  toKafkajsCompression,
} from '../../src/sink/codecs/index.ts';
import {
  consoleConsume,
  consumeAll,
  createTopic,
  runKafkaTool,
  testBroker,
  uniqueTopic,
} from '../kafka/index.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs;
const RECORDS = 1000;

interface Calls {
  compress: number;
  decompress: number;
}
const calls = new Map<number, Calls>();

interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}
// kafkajs types its codec table by literal keys and its entries as returning any.
const codecTable = CompressionCodecs as unknown as Record<number, () => KafkajsCodec>;

/** Wraps kafkajs's codec table entries (ours and its gzip) with call counters. */
function countCodecCalls(): void {
  for (const type of [
    CompressionTypes.GZIP,
    CompressionTypes.Snappy,
    CompressionTypes.LZ4,
    CompressionTypes.ZSTD,
  ]) {
    const counts: Calls = { compress: 0, decompress: 0 };
    calls.set(type, counts);
    const inner = codecTable[type]!();
    const counted: KafkajsCodec = {
      compress: (encoder: { buffer: Buffer }) => {
        counts.compress++;
        return inner.compress(encoder);
      },
      decompress: (buffer: Buffer) => {
        counts.decompress++;
        return inner.decompress(buffer);
      },
    };
    codecTable[type] = () => counted;
  }
}

function callsOf(name: CompressionName): Calls {
  return { ...(calls.get(toKafkajsCompression(name)) ?? { compress: 0, decompress: 0 }) };
}

/** Pseudo-random hex (deterministic), for record parts that compress poorly. */
function noise(seed: number, length: number): string {
  let x = seed * 2654435761 + 1;
  let s = '';
  while (s.length < length) {
    x = (Math.imul(x ^ (x >>> 13), 0x5bd1e995) + 0x9e3779b9) | 0;
    s += (x >>> 0).toString(16).padStart(8, '0');
  }
  return s.slice(0, length);
}

/** 1,000 JSON log records: small ones, non-ASCII text, and every 97th a 20 KB mostly incompressible one. */
function records(codec: string): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (let i = 0; i < RECORDS; i++) {
    out.push({
      key: `host-${i % 7}`,
      value: JSON.stringify({
        '@timestamp': new Date(1_767_225_600_000 + i).toISOString(),
        seq: i,
        codec,
        message: `GET /api/v1/orders/${i} status=${i % 5 === 0 ? 500 : 200} naïve café ✓ 日本語`,
        trace_id: noise(i, 32),
        ...(i % 97 === 3 ? { payload: noise(i + 1_000_000, 20_000) } : {}),
      }),
    });
  }
  return out;
}

describe('compression codecs against the real broker', { timeout: 600_000 }, () => {
  let bootstrap: string;
  let tmp: string;

  before(async () => {
    registerCodecs();
    countCodecCalls();
    bootstrap = await testBroker();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'logferry-codecs-'));
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  for (const name of COMPRESSION_NAMES) {
    it(`${name}: 1,000 records kafkajs produced are read intact by the Java console consumer and by kafkajs`, async () => {
      const topic = uniqueTopic(`codec-${name}`);
      await createTopic(bootstrap, topic, { partitions: 1 });
      const sent = records(name);
      const before = callsOf(name);

      const kafka = new Kafka({
        clientId: 'codecs-test',
        brokers: bootstrap.split(','),
        logLevel: logLevel.NOTHING,
      });
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        for (let i = 0; i < sent.length; i += 250) {
          await producer.send({
            topic,
            acks: -1,
            compression: toKafkajsCompression(name),
            messages: sent.slice(i, i + 250),
          });
        }
      } finally {
        await producer.disconnect();
      }
      if (name !== 'none')
        assert.equal(callsOf(name).compress - before.compress, 4, 'one compressed batch per send');

      const java = await consoleConsume({
        bootstrap,
        topic,
        maxMessages: RECORDS,
        printKey: true,
        timeoutMs: 30_000,
      });
      assert.equal(java.length, RECORDS, 'the Java console consumer read every record');
      assert.deepEqual(
        java,
        sent.map((r) => `${r.key}\t${r.value}`),
      );

      const readBack = await consumeAll({ bootstrap, topic, expected: RECORDS });
      assert.deepEqual(
        readBack.map((m) => ({ key: m.key, value: m.value })),
        sent,
      );
      if (name !== 'none')
        assert.ok(callsOf(name).decompress > before.decompress, 'kafkajs decompressed through the codec');
    });
  }

  for (const name of COMPRESSION_NAMES.filter((n) => n !== 'none')) {
    it(`${name}: batches the Java producer compressed are read by kafkajs through our codec`, async () => {
      const topic = uniqueTopic(`codec-java-${name}`);
      await createTopic(bootstrap, topic, { partitions: 1 });
      const payloads = records(`java-${name}`).map((r) => r.value);
      const payloadFile = path.join(tmp, `${name}.payloads`);
      await writeFile(payloadFile, `${payloads.join('\n')}\n`);
      const before = callsOf(name);

      await runKafkaTool('org.apache.kafka.tools.ProducerPerformance', [
        '--topic',
        topic,
        '--num-records',
        String(RECORDS),
        '--throughput',
        '-1',
        '--payload-file',
        payloadFile,
        '--producer-props',
        `bootstrap.servers=${bootstrap}`,
        `compression.type=${name}`,
        'acks=all',
        'linger.ms=20',
        'batch.size=262144',
      ]);

      const readBack = await consumeAll({ bootstrap, topic, expected: RECORDS });
      assert.equal(readBack.length, RECORDS);
      const known = new Set(payloads);
      for (const m of readBack)
        assert.ok(m.value !== null && known.has(m.value), `unexpected value ${m.value?.slice(0, 80)}`);
      assert.ok(
        callsOf(name).decompress > before.decompress,
        `kafkajs read ${name} batches through our codec`,
      );
    });
  }
});
