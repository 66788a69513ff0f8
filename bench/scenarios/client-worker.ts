/**
 * One Kafka client producing pre-encoded records, in its own process so its CPU is its own:
 *
 *   node bench/scenarios/client-worker.ts --client kafkajs|platformatic --bootstrap H:P --topic T
 *     --payloads FILE --records N --compression lz4
 *
 * Records are JSON documents shaped like logferry's (message = a corpus line), encoded to Buffers
 * before the clock starts. Batches of up to 10,000 records or 786,432 bytes (logferry's defaults),
 * one batch in flight at a time, acks=all, idempotent: what logferry's sender asks of a client.
 * Prints one JSON line: { records, bytes (of record values), warmup, seconds, cpuSeconds, maxRssMiB }.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    bootstrap: { type: 'string' },
    topic: { type: 'string' },
    payloads: { type: 'string' },
    records: { type: 'string' },
    compression: { type: 'string', default: 'lz4' },
  },
});
const topic = values.topic as string;
const total = Number(values.records);
const lines = readFileSync(values.payloads as string, 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .slice(0, 50_000);
const values_: Buffer[] = lines.map((message, i) =>
  Buffer.from(
    JSON.stringify({
      '@timestamp': '2026-11-26T13:00:00.123Z',
      message,
      host: { name: 'bench-host' },
      service: { name: 'bench' },
      log: { file: { path: '/var/log/app/app.log' }, offset: i * 200 },
      event: { id: `e${i}` },
      schema_version: 1,
    }),
  ),
);
const key = Buffer.from('bench-host');
const MAX_RECORDS = 10_000;
const MAX_BYTES = 786_432;

/** Batches of indexes into values_, built before timing. */
function batches(): Buffer[][] {
  const out: Buffer[][] = [];
  let cur: Buffer[] = [];
  let bytes = 0;
  for (let i = 0; i < total; i++) {
    const v = values_[i % values_.length] as Buffer;
    if (cur.length === MAX_RECORDS || bytes + v.length > MAX_BYTES) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(v);
    bytes += v.length;
  }
  if (cur.length) out.push(cur);
  return out;
}

const all = batches();
let valueBytes = 0;
for (const b of all) for (const v of b) valueBytes += v.length;
let send: (batch: Buffer[]) => Promise<unknown>;
let close: () => Promise<unknown>;

if (values.client === 'kafkajs') {
  const { Kafka, logLevel } = await import('kafkajs');
  const { registerCodecs, toKafkajsCompression } = await import('../../src/sink/codecs/index.ts');
  registerCodecs();
  const compression = toKafkajsCompression(values.compression as 'lz4');
  const producer = new Kafka({
    clientId: 'bench-kafkajs',
    brokers: [values.bootstrap as string],
    logLevel: logLevel.NOTHING,
  }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  send = (batch) =>
    producer.send({ topic, acks: -1, compression, messages: batch.map((value) => ({ key, value })) });
  close = () => producer.disconnect();
} else {
  const { Producer, ProduceAcks } = await import('@platformatic/kafka');
  const producer = new Producer({
    clientId: 'bench-platformatic',
    bootstrapBrokers: [values.bootstrap as string],
    idempotent: true,
    acks: ProduceAcks.ALL,
    compression: values.compression as 'lz4',
  });
  send = (batch) => producer.send({ messages: batch.map((value) => ({ topic, key, value })) });
  close = () => producer.close();
}

// One warm-up batch (connection, metadata, producer id), not counted: it is sent for real, so the
// topic holds total + its size; the caller expects that.
const warm = all[0] as Buffer[];
await send(warm);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (const b of all) await send(b);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await close();
process.stdout.write(
  `${JSON.stringify({ records: total, bytes: valueBytes, warmup: warm.length, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
);
