/**
 * Issue 6 with the real agent, real files and a real spool on disk, against a fake ProducerPort
 * that can be switched off: an outage makes the spool grow (and the checkpoints move), recovery
 * drains it in order; a restart with a non-empty spool drains it first; drop_oldest counts exactly.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Agent } from '../../src/agent.ts';
import { loadConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/observe/logger.ts';
import type { Batch, ProducerPort } from '../../src/sink/producer-port.ts';
import { inspectSpool } from '../../src/spool/inspect.ts';
import { waitFor } from '../support/agent-process.ts';
import { checkDelivered, type Delivered, SpoolEnv } from './spool-env.ts';

/** Delivers into `sent` while up; fails like an unreachable broker while down. */
class SwitchablePort implements ProducerPort {
  up = true;
  readonly sent: Delivered[] = [];
  sends = 0;
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async send(batch: Batch): Promise<void> {
    this.sends++;
    await new Promise((r) => setImmediate(r));
    if (!this.up) {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), {
        name: 'KafkaJSConnectionError',
      });
    }
    for (const r of batch.records) this.sent.push({ key: r.key, value: r.value });
  }
}

const envs: SpoolEnv[] = [];
const agents: Agent[] = [];
after(async () => {
  for (const a of agents) await a.stop(1000).catch(() => undefined);
  for (const e of envs) e.cleanup();
});

function newEnv(extra: string[] = [], kafka: string[] = []): SpoolEnv {
  const env = new SpoolEnv({
    keys: ['alpha', 'beta', 'gamma'],
    kafka,
    extra: ['spool:', '  after_ms: 100', '  segment_bytes: 65536', ...extra],
  });
  envs.push(env);
  return env;
}

async function startAgent(env: SpoolEnv, port: ProducerPort): Promise<Agent> {
  const agent = new Agent(loadConfig(env.config(), {}), { log: silentLogger(), producer: port });
  agents.push(agent);
  await agent.start();
  return agent;
}

test('outage: the spool grows and checkpoints move; recovery drains it in order per key and empties it', async () => {
  const env = newEnv();
  const port = new SwitchablePort();
  const agent = await startAgent(env, port);
  env.write(500);
  await waitFor(() => port.sent.length === env.total, 10_000, 'lines before the outage');

  port.up = false;
  env.write(4000);
  await waitFor(() => agent.senderStats.records_spooled >= 3 * 4000, 20_000, 'lines spooled');
  const during = await inspectSpool(env.dataDir);
  assert.ok(during.records >= 3 * 4000 - 0, `spool holds the outage's records (${during.records})`);
  assert.ok(during.segments.length > 1, 'several segments');
  const status = agent.metrics.status();
  assert.ok(status.spool.bytes > 0 && status.spool.segments > 1, 'spool gauges in the metrics snapshot');
  assert.ok(status.spool.oldest_age_seconds >= 0);
  // Spooled lines count as handled: the buffer is free, the tailers are not paused.
  assert.ok((status.buffer?.bytes ?? 0) < 1024 * 1024, `memory released (${status.buffer?.bytes})`);
  env.write(1000); // still down: these go behind the spool
  await waitFor(() => agent.senderStats.records_spooled >= 3 * 5000, 20_000, 'later lines spooled too');

  port.up = true;
  env.write(500); // arrives while draining: must queue behind the spool
  await waitFor(() => port.sent.length >= env.total, 30_000, 'everything delivered after recovery');
  checkDelivered(env, port.sent);
  assert.equal(port.sent.length, env.total, 'nothing sent twice');
  assert.ok(agent.senderStats.batches_replayed > 0, 'batches replayed from the spool');
  const s = agent.metrics.status();
  assert.equal(s.dropped['spool_full'] ?? 0, 0);
  await agent.stop(5000);
  const left = await inspectSpool(env.dataDir);
  assert.equal(left.records, 0, 'the spool is empty');
  assert.ok(left.segments.length <= 1, `acknowledged segments deleted (${left.segments.length} left)`);
});

test('a restart with a non-empty spool drains it first, then new lines follow in order', async () => {
  const env = newEnv();
  const down = new SwitchablePort();
  down.up = false;
  const first = await startAgent(env, down);
  env.write(3000);
  await waitFor(() => first.senderStats.records_spooled === env.total, 20_000, 'all lines spooled');
  await first.stop(2000);
  const spooled = await inspectSpool(env.dataDir);
  assert.equal(spooled.records, env.total, 'the spool kept every line across the stop');

  env.write(700);
  const up = new SwitchablePort();
  const second = await startAgent(env, up);
  await waitFor(() => up.sent.length >= env.total, 20_000, 'spool and new lines delivered');
  checkDelivered(env, up.sent);
  assert.equal(up.sent.length, env.total, 'the spooled lines were not read again from the files');
  await second.stop(2000);
  assert.equal((await inspectSpool(env.dataDir)).records, 0);
});

test('drop_oldest: a full spool drops whole segments; delivered + dropped{spool_full} = written, exactly', async () => {
  // Uncompressed, so a few MB of lines overflow the 1 MiB spool.
  const env = newEnv(['  max_bytes: 1048576', '  when_full: drop_oldest'], ['    compression: none']);
  const port = new SwitchablePort();
  port.up = false;
  const agent = await startAgent(env, port);
  env.write(12_000);
  await waitFor(
    () => agent.senderStats.records_spooled === env.total,
    30_000,
    'every line spooled or dropped',
  );
  const dropped = agent.metrics.status().dropped['spool_full'] ?? 0;
  assert.ok(dropped > 0, 'something was dropped');
  port.up = true;
  await waitFor(() => port.sent.length + dropped >= env.total, 30_000, 'the rest delivered');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(port.sent.length + dropped, env.total, 'delivered + dropped = written');
  assert.equal(agent.metrics.status().dropped['spool_full'], dropped, 'no more drops after recovery');
  // What arrived is in order per key, and what is missing is a prefix-side run of each key.
  checkDelivered(env, port.sent, { missing: missingOf(env, port.sent) });
  await agent.stop(2000);
});

function missingOf(env: SpoolEnv, sent: readonly Delivered[]): Map<string, Set<number>> {
  const got = new Map<string, Set<number>>(env.keys.map((k) => [k, new Set()]));
  for (const d of sent) {
    const m = (JSON.parse(d.value ?? '{}') as { message: string }).message.split(' ');
    got.get(m[0])?.add(Number(m[1]));
  }
  const out = new Map<string, Set<number>>();
  for (const k of env.keys) {
    const s = new Set<number>();
    for (let i = 0; i < (env.written.get(k) ?? 0); i++) if (!got.get(k)?.has(i)) s.add(i);
    out.set(k, s);
  }
  return out;
}
