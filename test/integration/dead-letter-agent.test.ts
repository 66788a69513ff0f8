/**
 * The dead-letter topic through the running agent: a line whose record is larger than
 * `sink.kafka.max_message_bytes` goes to the dead-letter topic with headers naming the error and
 * its origin, the other lines go to their topic, and the file's checkpoint moves past all of them.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { consumeAll, createTopic, testBroker, uniqueTopic } from '../kafka/index.ts';
import { startAgent, waitFor } from '../support/agent-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-dlq-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a record over max_message_bytes goes to the dead-letter topic with its origin; the rest is delivered', async () => {
  const bootstrap = await testBroker();
  const topic = uniqueTopic('dlq-main');
  const deadLetter = uniqueTopic('dlq-dead');
  await createTopic(bootstrap, topic, { partitions: 1 });
  await createTopic(bootstrap, deadLetter, { partitions: 1 });
  mkdirSync(join(dir, 'logs'));
  const big = `big ${'y'.repeat(6000)}`;
  const lines = ['first', 'second', big, 'fourth'];
  const file = join(dir, 'logs', 'app.log');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const bigOffset = Buffer.byteLength('first\nsecond\n');
  const config = join(dir, 'c.yaml');
  writeFileSync(
    config,
    [
      `data_dir: ${join(dir, 'data')}`,
      'sources:',
      '  - name: app',
      `    include: ["${dir}/logs/*.log"]`,
      'sink:',
      '  kafka:',
      `    brokers: ["${bootstrap}"]`,
      `    topic: ${topic}`,
      '    max_message_bytes: 4096',
      `    dead_letter: { topic: ${deadLetter} }`,
      'tail:',
      '  checkpoint_flush_interval_ms: 100',
    ].join('\n'),
  );
  const agent = startAgent(['run', '--config', config]);
  try {
    const delivered = await consumeAll({ bootstrap, topic, expected: 3, timeoutMs: 60_000 });
    assert.deepEqual(
      delivered.map((m) => (JSON.parse(m.value ?? '{}') as { message: string }).message),
      ['first', 'second', 'fourth'],
    );
    const dead = await consumeAll({ bootstrap, topic: deadLetter, expected: 1, timeoutMs: 30_000 });
    assert.equal(dead.length, 1);
    const header = (k: string): string | undefined => dead[0].headers[k];
    assert.equal(header('logferry.origin.topic'), topic);
    assert.equal(header('logferry.origin.path'), file);
    assert.equal(header('logferry.origin.offset'), String(bigOffset));
    assert.match(header('logferry.error.reason') ?? '', /message_too_large/);
    // The checkpoint moves past the dead-lettered line: nothing is stuck behind it.
    await waitFor(
      () => {
        try {
          return readFileSync(join(dir, 'data', 'checkpoints.json'), 'utf8').includes(
            `${Buffer.byteLength(`${lines.join('\n')}\n`)}`,
          );
        } catch {
          return false;
        }
      },
      20_000,
      'checkpoint at the end of the file',
    );
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr().slice(-2000));
  }
});
