/**
 * Issue 6, a full spool against a real broker that goes away: with `block` the tailers pause and
 * nothing is lost; with `drop_oldest` whole segments go and the dropped count is exact.
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
function _mark(what: string): void {
  console.error(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
}

function run(env: SpoolEnv): AgentProcess {
  const a = startAgent(['run', '--config', env.config()], { LOGFERRY_METRICS_LISTEN: '127.0.0.1:0' });
  agents.push(a);
  return a;
}

/** Appends `perTick` lines per key every 20 ms until stopped. */
function _writer(env: SpoolEnv, perTick: number): { stop(): void } {
  const t = setInterval(() => env.write(perTick), 20);
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
  );
}

test('spool full with block: the tailers pause, nothing is lost', async () => {
  const env = await newEnv(['  max_bytes: 1048576', '  segment_bytes: 131072'], ['    compression: none']);
  const agent = run(env);
  env.write(100);
  await waitSent(agent, env, 300);
  await outage();
  env.write(6000); // about 3.5 MB of records: three times the spool
  await waitFor(
    () => agent.stderr().includes('spool full: appends wait'),
    30_000,
    'the spool to fill and block',
  );
  assert.ok((await inspectSpool(env.dataDir)).bytes <= 1_048_576, 'within max_bytes');
  await broker.restart();
  const all = await consumeEvery(env, 40_000);
  checkDelivered(env, all, { allowDuplicates: true });
  assert.equal((await statusOf(agent)).dropped['spool_full'] ?? 0, 0);
  assert.equal(await agent.stop(), 0);
});

test('spool full with drop_oldest: delivered + dropped{spool_full} = written, exactly', async () => {
  const env = await newEnv(
    ['  max_bytes: 1048576', '  segment_bytes: 131072', '  when_full: drop_oldest'],
    ['    compression: none', '    idempotent: true'],
  );
  const agent = run(env);
  env.write(100);
  await waitSent(agent, env, 300);
  await outage();
  env.write(6000);
  await waitFor(async () => ((await statusOf(agent)).dropped['spool_full'] ?? 0) > 0, 30_000, 'drops');
  await waitFor(
    async () =>
      (await spooledRecords(env)) + ((await statusOf(agent)).dropped['spool_full'] ?? 0) >= env.total - 300,
    30_000,
    'every line spooled or dropped',
  );
  await broker.restart();
  await waitFor(async () => (await spooledRecords(env)) === 0, 30_000, 'the spool to empty');
  const dropped = (await statusOf(agent)).dropped['spool_full'] ?? 0;
  // Duplicates count towards `expected`: ask again for as many as are short (bounded).
  let all = await consumeAll({
    bootstrap: broker.bootstrap,
    topic: env.opts.topic as string,
    expected: env.total - dropped,
    timeoutMs: 30_000,
  });
  for (let i = 0; i < 3; i++) {
    const short = env.total - dropped - (env.total - missingCount(env, all));
    if (short <= 0) break;
    all = await consumeAll({
      bootstrap: broker.bootstrap,
      topic: env.opts.topic as string,
      expected: all.length + short,
      timeoutMs: 5000,
    }).catch(() => all);
  }
  const { duplicates } = checkDelivered(env, all, { allowDuplicates: true, missing: missingLines(env, all) });
  assert.equal(
    all.length - duplicates + dropped,
    env.total,
    `delivered ${all.length} - ${duplicates} dup + dropped ${dropped}`,
  );
  assert.equal(await agent.stop(), 0);
});

function missingLines(env: SpoolEnv, all: readonly { value: string | null }[]): Map<string, Set<number>> {
  const got = new Map<string, Set<number>>(env.keys.map((k) => [k, new Set()]));
  for (const m of all) {
    const parts = (JSON.parse(m.value ?? '{}') as { message: string }).message.split(' ');
    got.get(parts[0])?.add(Number(parts[1]));
  }
  const out = new Map<string, Set<number>>();
  for (const k of env.keys) {
    const s = new Set<number>();
    for (let i = 0; i < (env.written.get(k) ?? 0); i++) if (!got.get(k)?.has(i)) s.add(i);
    out.set(k, s);
  }
  return out;
}
