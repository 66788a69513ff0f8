/**
 * Issue 6, a full spool against a real broker that goes away: with `block` the tailers pause and
 * nothing is lost; with `drop_oldest` whole segments go and the dropped count is exact.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inspectSpool } from '../../src/spool/inspect.ts';
import { consumeAll } from '../kafka/index.ts';
import { waitFor } from '../support/agent-process.ts';
import { SpoolBrokerRun } from './spool-broker-run.ts';
import { checkDelivered, missingCount, type SpoolEnv } from './spool-env.ts';

const h = new SpoolBrokerRun();
const { newEnv, run, outage, consumeEvery, spooledRecords, statusOf, waitSent } = h;

before(() => h.start());
after(() => h.stop());

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
  await h.broker.restart();
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
  await h.broker.restart();
  await waitFor(async () => (await spooledRecords(env)) === 0, 30_000, 'the spool to empty');
  const dropped = (await statusOf(agent)).dropped['spool_full'] ?? 0;
  // Duplicates count towards `expected`: ask again for as many as are short (bounded).
  let all = await consumeAll({
    bootstrap: h.broker.bootstrap,
    topic: env.opts.topic as string,
    expected: env.total - dropped,
    timeoutMs: 30_000,
  });
  for (let i = 0; i < 3; i++) {
    const short = env.total - dropped - (env.total - missingCount(env, all));
    if (short <= 0) break;
    all = await consumeAll({
      bootstrap: h.broker.bootstrap,
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
