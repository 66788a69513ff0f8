/**
 * Issue 6, the last scenario: a 3-broker cluster, acks=all, min.insync.replicas=2; the partition
 * leader is killed mid-stream while the real CLI agent ships lines written continuously. No line is
 * lost, and each key's lines arrive in order (leader election, retries and, if it lasts past
 * spool.after_ms, the spool in between).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { registerCodecs } from '../../src/sink/codecs/index.ts';
import { consumeAll, createTopic, type KafkaCluster, startCluster, uniqueTopic } from '../kafka/index.ts';
import { type AgentProcess, startAgent, waitFor } from '../support/agent-process.ts';
import { checkDelivered, missingCount, SpoolEnv } from './spool-env.ts';

let cluster: KafkaCluster;
let env: SpoolEnv | undefined;
let agent: AgentProcess | undefined;
let timer: NodeJS.Timeout | undefined;

before(async () => {
  registerCodecs();
  cluster = await startCluster(3);
});

after(async () => {
  clearInterval(timer);
  await agent?.stop(5000).catch(() => undefined);
  await cluster?.stop();
  env?.cleanup();
});

async function leaderOf(topic: string, brokers: readonly string[]): Promise<number> {
  const admin = new Kafka({ brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    return md.topics[0].partitions[0].leader;
  } finally {
    await admin.disconnect();
  }
}

test('3 brokers, acks=all: the partition leader is killed mid-stream and no line is lost', async () => {
  const topic = uniqueTopic('spool-cluster');
  await createTopic(cluster.bootstrap, topic, {
    partitions: 1,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2' },
  });
  env = new SpoolEnv({
    keys: ['alpha', 'beta'],
    brokers: cluster.brokers,
    topic,
    kafka: ['    acks: all'],
    extra: ['spool:', '  after_ms: 2000'],
  });
  agent = startAgent(['run', '--config', env.config()]);
  const e = env;
  timer = setInterval(() => e.write(5), 20);
  await waitFor(() => e.total > 3000, 20_000, 'lines written before the kill');
  const leader = await leaderOf(topic, cluster.brokers);
  const index = cluster.nodes.findIndex((n) => n.nodeId === leader);
  assert.ok(index >= 0, `leader ${leader} is one of the nodes`);
  await cluster.kill(index);
  await waitFor(() => e.total > 9000, 30_000, 'lines written after the kill');
  clearInterval(timer);
  const bootstrap = cluster.nodes
    .filter((_, i) => i !== index)
    .map((n) => n.bootstrap)
    .join(',');
  const deadline = Date.now() + 45_000;
  let expected = e.total;
  let all = await consumeAll({ bootstrap, topic, expected, timeoutMs: 45_000 });
  while (missingCount(e, all) > 0 && Date.now() < deadline) {
    expected = all.length + missingCount(e, all);
    all = await consumeAll({ bootstrap, topic, expected, timeoutMs: Math.max(1000, deadline - Date.now()) });
  }
  checkDelivered(e, all, { allowDuplicates: true });
  assert.notEqual(await leaderOf(topic, bootstrap.split(',')), leader, 'a new leader took over');
  assert.equal(await agent.stop(), 0);
});
