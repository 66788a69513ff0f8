/**
 * `logferry lag` against a real broker and a real kafkajs consumer group that has read part of a
 * topic: the table shows committed offset, end offset and lag per partition.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { createTopic, testBroker, uniqueTopic } from '../kafka/index.ts';
import { runCli } from '../support/agent-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-lag-'));
const topic = uniqueTopic('lag');
const group = `lag-group-${process.pid}`;
let cfg = '';

function config(brokers: string): string {
  const p = join(dir, `c-${brokers.replace(/\W/g, '_')}.yaml`);
  writeFileSync(
    p,
    `sources:\n  - name: x\n    include: ["${dir}/*.log"]\nsink:\n  kafka:\n    brokers: ["${brokers}"]\n    topic: ${topic}\n    connection_timeout_ms: 500\n`,
  );
  return p;
}

before(async () => {
  const bootstrap = await testBroker();
  cfg = config(bootstrap);
  await createTopic(bootstrap, topic, { partitions: 2 });
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const send = (partition: number, n: number) =>
    producer.send({
      topic,
      messages: Array.from({ length: n }, (_, i) => ({ partition, value: `p${partition}-${i}` })),
    });
  await send(0, 10);
  await send(1, 6);
  // The group reads everything there is now and commits; what is produced afterwards is its lag.
  const consumer = kafka.consumer({ groupId: group });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('consumer did not read 16 messages in 30 s')), 30_000);
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
        if (++seen === 16) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await done;
  await consumer.disconnect();
  await send(0, 4);
  await producer.disconnect();
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('lag shows committed, end and lag per partition of a group that consumed part of a topic', async () => {
  const r = await runCli(['lag', '--config', cfg, '--group', group]);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith(topic))
    .map((l) => l.split(/\s+/));
  assert.deepEqual(rows, [
    [topic, '0', '10', '14', '4'],
    [topic, '1', '6', '6', '0'],
  ]);
  assert.match(r.stdout, /^TOPIC\s+PARTITION\s+COMMITTED\s+END\s+LAG$/m);
  assert.match(r.stdout, new RegExp(`group ${group}: 4 messages behind in 2 partitions`));

  const j = await runCli(['lag', '-c', cfg, '-g', group, '-t', topic, '--format', 'json']);
  assert.equal(j.code, 0, j.stderr);
  const doc = JSON.parse(j.stdout) as { partitions: { partition: number; lag: number; committed: number }[] };
  assert.deepEqual(
    doc.partitions.map((p) => [p.partition, p.committed, p.lag]),
    [
      [0, 10, 4],
      [1, 6, 0],
    ],
  );
});

test('a group that never committed shows no committed offset and the whole topic as lag', async () => {
  const r = await runCli(['lag', '-c', cfg, '-g', `${group}-new`, '-t', topic]);
  assert.equal(r.code, 0, r.stderr);
  const p0 = r.stdout.split('\n').find((l) => l.startsWith(`${topic}  `) && /\s0\s/.test(l)) ?? '';
  assert.deepEqual(p0.split(/\s+/), [topic, '0', '-', '14', '14']);
});

test('a missing topic exits 6 and an unreachable broker exits 4, each with one line', async () => {
  const missing = await runCli(['lag', '-c', cfg, '-g', group, '-t', `${topic}-nope`]);
  assert.equal(missing.code, 6, missing.stderr);
  assert.match(missing.stderr, /does not exist/);
  assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  const down = await runCli(['lag', '-c', config('127.0.0.1:1'), '-g', group]);
  assert.equal(down.code, 4, down.stderr);
  assert.match(down.stderr, /no Kafka broker reachable/);
});
