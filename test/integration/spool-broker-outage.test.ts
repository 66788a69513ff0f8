/**
 * Issue 6 against a real broker that goes away: the real CLI agent tails files written
 * continuously; the broker is killed mid-stream, the spool grows, the source files are rotated away,
 * the broker comes back, and every line arrives in order per key while the spool empties. Then:
 * kill -9 of the agent during an outage, and the two full-spool policies.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { registerCodecs } from '../../src/sink/codecs/index.ts';
import { inspectSpool } from '../../src/spool/inspect.ts';
import { consumeAll, createTopic, type KafkaBroker, startBroker, uniqueTopic } from '../kafka/index.ts';
import { type AgentProcess, startAgent, waitFor } from '../support/agent-process.ts';
import { checkDelivered, missingCount, SpoolEnv } from './spool-env.ts';

let broker: KafkaBroker;
const envs: SpoolEnv[] = [];
const agents: AgentProcess[] = [];

before(async () => {
  registerCodecs(); // the test's consumer reads zstd batches
  broker = await startBroker();
});

after(async () => {
  for (const t of timers) clearInterval(t);
  for (const a of agents) await a.stop(5000).catch(() => undefined);
  await broker?.stop();
  for (const e of envs) e.cleanup();
});

async function newEnv(spool: string[], kafka: string[] = []): Promise<SpoolEnv> {
  const topic = uniqueTopic('spool');
  await createTopic(broker.bootstrap, topic, { partitions: 3 });
  const env = new SpoolEnv({
    keys: ['alpha', 'beta', 'gamma'],
    brokers: [broker.bootstrap],
    topic,
    kafka,
    metrics: true,
    extra: ['spool:', '  after_ms: 500', ...spool],
  });
  envs.push(env);
  return env;
}

const t0 = Date.now();
function mark(what: string): void {
  console.error(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
}

function run(env: SpoolEnv): AgentProcess {
  const a = startAgent(['run', '--config', env.config()], { LOGFERRY_METRICS_LISTEN: '127.0.0.1:0' });
  agents.push(a);
  return a;
}

/** Appends `perTick` lines per key every 20 ms until stopped. */
const timers: NodeJS.Timeout[] = [];
function writer(env: SpoolEnv, perTick: number): { stop(): void } {
  const t = setInterval(() => env.write(perTick), 20);
  timers.push(t);
  return { stop: () => clearInterval(t) };
}

/**
 * The broker goes away by a controlled shutdown (SIGTERM), keeping its data; restart() brings it
 * back on the same port. (kill() works too, but its unclean log recovery makes restart slow.)
 */
async function outage(): Promise<void> {
  if (broker.pid !== undefined) process.kill(broker.pid, 'SIGTERM');
  await waitFor(() => !broker.isRunning(), 30_000, 'the broker to stop');
}

/**
 * Consumes the topic until every written line is there: duplicates (at-least-once) count towards
 * consumeAll's `expected`, so it is asked again for as many more as are missing.
 */
async function consumeEvery(env: SpoolEnv, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let expected = env.total;
  for (;;) {
    const all = await consumeAll({
      bootstrap: broker.bootstrap,
      topic: env.opts.topic as string,
      expected,
      timeoutMs: Math.max(1000, deadline - Date.now()),
    });
    const missing = missingCount(env, all);
    if (missing === 0 || Date.now() > deadline) return all;
    expected = all.length + missing;
  }
}

async function spooledRecords(env: SpoolEnv): Promise<number> {
  return (await inspectSpool(env.dataDir)).records;
}

interface Status {
  dropped: Record<string, number>;
  spool: { bytes: number };
  topics: { name: string; records_sent: number }[];
}

async function statusOf(agent: AgentProcess): Promise<Status> {
  const line = agent
    .stderr()
    .split('\n')
    .find((l) => l.includes('metrics and health endpoint listening'));
  assert.ok(line, 'the agent logged its metrics port');
  const { port } = JSON.parse(line) as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}/status`);
  return (await res.json()) as Status;
}

/** Waits until the agent reports `n` records acknowledged by Kafka (cheaper than a consumer group join). */
async function waitSent(agent: AgentProcess, env: SpoolEnv, n: number): Promise<void> {
  await waitFor(
    async () => {
      const line = agent.stderr().includes('metrics and health endpoint listening');
      if (!line) return false;
      const s = await statusOf(agent);
      return (s.topics.find((t) => t.name === env.opts.topic)?.records_sent ?? 0) >= n;
    },
    30_000,
    `${n} records sent`,
  ).catch(async (err: unknown) => {
    console.error(JSON.stringify(await statusOf(agent).catch(() => undefined)), agent.stderr().slice(-3000));
    throw err;
  });
}

test('broker killed mid-stream: the spool grows, files rotate away, the broker returns, every line arrives in order and the spool empties', async () => {
  const env = await newEnv([]);
  const agent = run(env);
  const w = writer(env, 2);
  await waitSent(agent, env, 600);
  mark('pre-outage lines arrived');
  await outage();
  mark('broker killed');
  const atKill = env.total;
  await waitFor(async () => (await spooledRecords(env)) > 0, 20_000, 'lines spooled during the outage');
  await waitFor(() => env.total > atKill + 1500, 10_000, 'more lines written');
  env.rotateAway(); // renamed and deleted: only the spool still has their lines
  await waitFor(async () => (await spooledRecords(env)) > 1500, 20_000, 'the spool grows');
  mark('spool grew');
  await broker.restart();
  mark('broker restarted');
  await new Promise((r) => setTimeout(r, 1000));
  w.stop();
  const all = await consumeEvery(env, 40_000);
  mark(`all ${env.total} lines consumed`);
  checkDelivered(env, all, { allowDuplicates: true });
  await waitFor(async () => (await spooledRecords(env)) === 0, 10_000, 'the spool to empty');
  assert.equal(await agent.stop(), 0);
  assert.match(agent.stderr(), /brokers unavailable: batches go to the spool/);
  assert.match(agent.stderr(), /spool drained: sending directly again/);
});

test('kill -9 of the agent during an outage with a non-empty spool, then restart: every line arrives', async () => {
  const env = await newEnv([]);
  let agent = run(env);
  env.write(300);
  await waitSent(agent, env, 900);
  await outage();
  env.write(2000);
  await waitFor(async () => (await spooledRecords(env)) >= 6000, 20_000, 'the outage lines spooled');
  agent.child.kill('SIGKILL');
  await agent.stop();
  env.write(300);
  agent = run(env); // starts with the broker still away: keeps spooling behind the old spool
  await waitFor(
    async () => (await spooledRecords(env)) >= 6900,
    20_000,
    'new lines spooled after the restart',
  );
  await broker.restart();
  const all = await consumeEvery(env, 40_000);
  checkDelivered(env, all, { allowDuplicates: true });
  await waitFor(async () => (await spooledRecords(env)) === 0, 10_000, 'the spool to empty');
  assert.equal(await agent.stop(), 0);
});
