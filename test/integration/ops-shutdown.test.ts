/**
 * SIGTERM against the real broker: the agent is stopped right after it has read every line, while
 * most records are still in open batches or in flight. It exits 0 only after Kafka acknowledged
 * them all: the topic holds every line exactly once and each file's checkpoint equals its size.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { registerCodecs } from '../../src/sink/codecs/index.ts';
import { consumeAll, createTopic, freePorts, testBroker, uniqueTopic } from '../kafka/index.ts';
import { startAgent, waitFor } from '../support/agent-process.ts';
import { parsePrometheusText, sampleValue } from '../unit/observe/prom-text.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-sigterm-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function scrape(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

test('SIGTERM right after reading: every line is acknowledged before exit and checkpoints equal the file sizes', async () => {
  const bootstrap = await testBroker();
  const topic = uniqueTopic('sigterm');
  await createTopic(bootstrap, topic, { partitions: 3 });
  mkdirSync(join(dir, 'logs'));
  const files = ['a.log', 'b.log', 'c.log'].map((f) => join(dir, 'logs', f));
  const perFile = 10_000;
  for (const f of files) {
    let text = '';
    for (let i = 0; i < perFile; i++) text += `${f.slice(-5)} line ${i} ${'x'.repeat(i % 50)}\n`;
    writeFileSync(f, text);
  }
  const total = files.length * perFile;
  const cfg = join(dir, 'c.yaml');
  // A long linger: at SIGTERM most records sit in open batches, which the stop must flush.
  writeFileSync(
    cfg,
    `data_dir: ${join(dir, 'data')}\nsources:\n  - name: app\n    include: ["${dir}/logs/*.log"]\nbatch:\n  linger_ms: 5000\nsink:\n  kafka:\n    brokers: ["${bootstrap}"]\n    topic: ${topic}\n`,
  );
  const [port] = await freePorts(1);
  const agent = startAgent(['run', '--config', cfg], { LOGFERRY_METRICS_LISTEN: `127.0.0.1:${port}` });
  try {
    let sentAtSignal = 0;
    await waitFor(
      async () => {
        const text = await scrape(`http://127.0.0.1:${port}/metrics`).catch(() => '');
        if (text === '') return false;
        const m = parsePrometheusText(text);
        if (sampleValue(m, 'logferry_source_lines_read_total', { source: 'app' }) < total) return false;
        const sent = m.get('logferry_sink_records_sent_total')?.samples ?? [];
        sentAtSignal = sent.reduce((a, s) => a + s.value, 0);
        return true;
      },
      30_000,
      'every line read',
    );
    const code = await agent.stop(30_000);
    assert.equal(code, 0, agent.stderr());
    assert.ok(sentAtSignal < total, `records still unsent at SIGTERM (${sentAtSignal} of ${total} sent)`);
    assert.match(agent.stderr(), /"msg":"agent stopped"/);
    assert.doesNotMatch(agent.stderr(), /shutdown timeout/);

    registerCodecs(); // the agent compresses with zstd by default; kafkajs alone cannot read it
    const msgs = await consumeAll({ bootstrap, topic, expected: total, timeoutMs: 60_000 });
    const lines = new Set(msgs.map((m) => (JSON.parse(m.value ?? '{}') as { message: string }).message));
    assert.equal(lines.size, total, 'every line arrived');
    assert.equal(msgs.length, total, 'and none twice');

    const cp = JSON.parse(readFileSync(join(dir, 'data', 'checkpoints.json'), 'utf8')) as {
      entries: { path: string; offset: number }[];
    };
    const offsets = new Map(cp.entries.map((e) => [e.path, e.offset]));
    for (const f of files) assert.equal(offsets.get(f), statSync(f).size, `checkpoint of ${f}`);
  } finally {
    await agent.stop();
  }
});
