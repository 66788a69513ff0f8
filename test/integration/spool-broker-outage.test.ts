/**
 * Issue 6 against a real broker that goes away: the real CLI agent tails files written
 * continuously; the broker is killed mid-stream, the spool grows, the source files are rotated away,
 * the broker comes back, and every line arrives in order per key while the spool empties. Then:
 * kill -9 of the agent during an outage, and the two full-spool policies.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '../support/agent-process.ts';
import { SpoolBrokerRun } from './spool-broker-run.ts';
import { checkDelivered } from './spool-env.ts';

const h = new SpoolBrokerRun();
const { newEnv, mark, run, writer, outage, consumeEvery, spooledRecords, waitSent } = h;

before(() => h.start());
after(() => h.stop());

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
  await h.broker.restart();
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
  await h.broker.restart();
  const all = await consumeEvery(env, 40_000);
  checkDelivered(env, all, { allowDuplicates: true });
  await waitFor(async () => (await spooledRecords(env)) === 0, 10_000, 'the spool to empty');
  assert.equal(await agent.stop(), 0);
});
