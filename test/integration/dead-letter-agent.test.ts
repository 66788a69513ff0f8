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

test('without a dead-letter topic, the record over max_message_bytes is logged with its own file and offset', async () => {
  const bootstrap = await testBroker();
  const topic = uniqueTopic('dlq-none');
  await createTopic(bootstrap, topic, { partitions: 1 });
  const base = join(dir, 'no-dlq');
  mkdirSync(join(base, 'logs'), { recursive: true });
  const lines = ['first', 'second', `big ${'y'.repeat(6000)}`, 'fourth'];
  const file = join(base, 'logs', 'app.log');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const config = join(base, 'c.yaml');
  writeFileSync(
    config,
    [
      `data_dir: ${join(base, 'data')}`,
      'sources:',
      '  - name: app',
      `    include: ["${base}/logs/*.log"]`,
      'sink:',
      '  kafka:',
      `    brokers: ["${bootstrap}"]`,
      `    topic: ${topic}`,
      '    max_message_bytes: 4096',
    ].join('\n'),
  );
  const agent = startAgent(['run', '--config', config]);
  try {
    const delivered = await consumeAll({ bootstrap, topic, expected: 3, timeoutMs: 60_000 });
    assert.equal(delivered.length, 3);
    const dropped = () =>
      agent
        .stderr()
        .split('\n')
        .filter((l) => l.includes('records dropped'));
    await waitFor(() => dropped().length > 0, 20_000, 'the log line of the dropped record');
    const line = JSON.parse(dropped()[0] as string) as {
      reason: string;
      records: number;
      first: { path: string; offset: number };
      last: { path: string; offset: number };
    };
    assert.equal(line.reason, 'message_too_large');
    assert.equal(line.records, 1);
    // The big line's own offset, not that of the first line of the chunk it was read in.
    assert.deepEqual(line.first, { path: file, offset: Buffer.byteLength('first\nsecond\n') });
    assert.deepEqual(line.last, line.first);
  } finally {
    assert.equal(await agent.stop(), 0, agent.stderr().slice(-2000));
  }
});
