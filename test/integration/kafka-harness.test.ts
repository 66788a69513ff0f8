// The real-broker harness itself: kafkajs 2.2.4 against Kafka 4.1, the console consumer from the
// jars, a 3-node KRaft cluster that survives losing a node, and no broker outliving its process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { repoRoot } from '../kafka/classpath.ts';
import {
  checkJava,
  consoleConsume,
  consumeAll,
  createTopic,
  startCluster,
  testBroker,
  uniqueTopic,
} from '../kafka/index.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

function producerFor(bootstrap: string): Producer {
  const kafka = new Kafka({
    clientId: 'harness-test',
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  });
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 3000 },
  });
}

async function produceRange(producer: Producer, topic: string, from: number, count: number): Promise<void> {
  const messages = [];
  for (let i = from; i < from + count; i++) {
    messages.push({ key: `k${i % 17}`, value: `message-${i}`, headers: { seq: String(i) } });
  }
  for (let i = 0; i < messages.length; i += 250) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 250) });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('kafkajs produces idempotently with acks=all; consumeAll and the console consumer read every message back', async () => {
  const bootstrap = await testBroker();
  const topic = uniqueTopic('harness');
  await createTopic(bootstrap, topic, { partitions: 3 });
  const producer = producerFor(bootstrap);
  await producer.connect();
  try {
    await produceRange(producer, topic, 0, 1000);
  } finally {
    await producer.disconnect();
  }

  const got = await consumeAll({ bootstrap, topic, expected: 1000, timeoutMs: 30_000 });
  assert.equal(got.length, 1000);
  assert.deepEqual(new Set(got.map((m) => m.partition)), new Set([0, 1, 2]), 'spread over 3 partitions');
  const values = new Set(got.map((m) => m.value));
  assert.equal(values.size, 1000, 'no duplicates');
  for (const m of got) {
    const seq = Number(m.headers['seq']);
    assert.equal(m.value, `message-${seq}`);
    assert.equal(m.key, `k${seq % 17}`);
  }
  // Same key, same partition, in production order.
  const k3 = got.filter((m) => m.key === 'k3').map((m) => Number(m.headers['seq']));
  assert.deepEqual(
    k3,
    [...k3].sort((a, b) => a - b),
  );

  const lines = await consoleConsume({
    bootstrap,
    topic,
    maxMessages: 1000,
    timeoutMs: 20_000,
    printKey: true,
  });
  assert.equal(lines.length, 1000);
  const viaJava = new Set(lines);
  for (const m of got) assert.ok(viaJava.has(`${m.key}\t${m.value}`), `console consumer saw ${m.value}`);
});

test('a 3-node cluster keeps accepting acks=all writes after a node is killed, and takes it back', async () => {
  const started = Date.now();
  const cluster = await startCluster(3);
  const startMs = Date.now() - started;
  try {
    assert.equal(cluster.nodes.length, 3);
    assert.equal(cluster.bootstrap.split(',').length, 3);
    const topic = uniqueTopic('failover');
    await createTopic(cluster.bootstrap, topic, { partitions: 3, replicationFactor: 3 });
    const producer = producerFor(cluster.bootstrap);
    await producer.connect();
    try {
      await produceRange(producer, topic, 0, 500);
      await cluster.kill(0);
      assert.equal(cluster.nodes[0].isRunning(), false);
      await produceRange(producer, topic, 500, 500);
    } finally {
      await producer.disconnect();
    }
    const got = await consumeAll({ bootstrap: cluster.bootstrap, topic, expected: 1000, timeoutMs: 60_000 });
    assert.deepEqual(
      got.map((m) => Number(m.headers['seq'])).sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i),
    );

    await cluster.restart(0);
    const admin = new Kafka({ brokers: [cluster.nodes[0].bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const { brokers } = await admin.describeCluster();
      assert.deepEqual(brokers.map((b) => b.nodeId).sort(), [1, 2, 3]);
    } finally {
      await admin.disconnect();
    }
  } finally {
    await cluster.stop();
  }
  assert.ok(cluster.nodes.every((n) => !n.isRunning()));
  console.log(`cluster of 3 started in ${startMs} ms`);
});

test('a broker dies with the process that started it, even when that process is SIGKILLed', async () => {
  const script = `
    import { startBroker } from ${JSON.stringify(path.join(repoRoot, 'test/kafka/broker.ts'))};
    const b = await startBroker({ heapMb: 256 });
    console.log(JSON.stringify({ pid: b.pid, logDir: b.logDir }));
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  const info = await new Promise<{ pid: number; logDir: string }>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    child.once('exit', (code) =>
      reject(new Error(`starter exited with ${code} before the broker was ready`)),
    );
  });
  assert.ok(alive(info.pid), 'broker runs while its starter does');
  child.kill('SIGKILL');
  const deadline = Date.now() + 15_000;
  while (alive(info.pid) && Date.now() < deadline) await sleep(100);
  assert.equal(alive(info.pid), false, `broker ${info.pid} outlived its starter`);
  await rm(info.logDir, { recursive: true, force: true });
});

test('a missing Java is reported in one line that says what to install', async () => {
  const script = `
    import { checkJava } from ${JSON.stringify(path.join(repoRoot, 'test/kafka/classpath.ts'))};
    try { await checkJava(); console.log('found'); } catch (e) { console.log(e.code + ' ' + e.message); }
  `;
  const out = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, JAVA_HOME: '/nonexistent-java-home' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let s = '';
    child.stdout.on('data', (d) => {
      s += d;
    });
    child.once('exit', () => resolve(s.trim()));
  });
  assert.match(out, /^LOGFERRY_ERR_TEST_KAFKA Java 17\+ not found .*install it \(apt-get install openjdk-17/);
  assert.equal(out.split('\n').length, 1);
  assert.match(await checkJava(), /java$/, 'the real Java is found');
});
