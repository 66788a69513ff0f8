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
import { checkDelivered, SpoolEnv } from './spool-env.ts';

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
function mark(what: string): void {
  console.error(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
}

function run(env: SpoolEnv): AgentProcess {
  const a = startAgent(['run', '--config', env.config()], { LOGFERRY_METRICS_LISTEN: '127.0.0.1:0' });
  agents.push(a);
  return a;
}

/** Appends `perTick` lines per key every 20 ms until stopped. */
function writer(env: SpoolEnv, perTick: number): { stop(): void } {
  const t = setInterval(() => env.write(perTick), 20);
  return { stop: () => clearInterval(t) };
}

async function spooledRecords(env: SpoolEnv): Promise<number> {
  return (await inspectSpool(env.dataDir)).records;
}

async function statusOf(
  agent: AgentProcess,
): Promise<{ dropped: Record<string, number>; spool: { bytes: number } }> {
  const line = agent
    .stderr()
    .split('\n')
    .find((l) => l.includes('metrics and health endpoint listening'));
  assert.ok(line, 'the agent logged its metrics port');
  const { port } = JSON.parse(line) as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}/status`);
  return (await res.json()) as { dropped: Record<string, number>; spool: { bytes: number } };
}

test('spool full with block: the tailers pause, nothing is lost', async () => {
  const env = await newEnv(['  max_bytes: 1048576', '  segment_bytes: 131072'], ['    compression: none']);
  const agent = run(env);
  env.write(100);
  await consumeAll({ bootstrap: broker.bootstrap, topic: env.opts.topic!, expected: 300, timeoutMs: 30_000 });
  await broker.kill();
  env.write(15_000); // about 3 MB of records: three times the spool
  await waitFor(
    () => agent.stderr().includes('spool full: appends wait'),
    30_000,
    'the spool to fill and block',
  );
  assert.ok((await inspectSpool(env.dataDir)).bytes <= 1_048_576, 'within max_bytes');
  await broker.restart();
  const all = await consumeAll({
    bootstrap: broker.bootstrap,
    topic: env.opts.topic!,
    expected: env.total,
    timeoutMs: 40_000,
  });
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
  await consumeAll({ bootstrap: broker.bootstrap, topic: env.opts.topic!, expected: 300, timeoutMs: 30_000 });
  await broker.kill();
  env.write(15_000);
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
  const all = await consumeAll({
    bootstrap: broker.bootstrap,
    topic: env.opts.topic!,
    expected: env.total - dropped,
    timeoutMs: 30_000,
  });
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
