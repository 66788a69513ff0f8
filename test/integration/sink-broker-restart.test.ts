/**
 * Issue 5: the broker stopped mid-stream and restarted. The real CLI, with a 1 MiB memory bound,
 * the spool off (so backpressure is what holds the memory) and lines written continuously, keeps
 * logferry_buffer_bytes at most the bound plus one read and its records while the broker is away (read from
 * /metrics), and once the broker is back every line arrives (duplicates allowed: at-least-once).
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RECORD_OVERHEAD_BYTES } from '../../src/batch/memory-bound.ts';
import { registerCodecs } from '../../src/sink/codecs/index.ts';
import {
  consumeAll,
  createTopic,
  freePorts,
  type KafkaBroker,
  startBroker,
  uniqueTopic,
} from '../kafka/index.ts';
import { type AgentProcess, startAgent, waitFor } from '../support/agent-process.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
registerCodecs();

const BOUND = 1_048_576;
const READ = 65_536;
/**
 * The bound counts a chunk's raw bytes and each record made from it (value, key, overhead), so one
 * read can carry it past the bound by its bytes plus its records: lines here are ~92 bytes, and a
 * record of such a line stays well under 1 KiB of JSON.
 */
const ONE_READ = READ + Math.ceil(READ / 90) * (1024 + RECORD_OVERHEAD_BYTES);
const dir = mkdtempSync(join(tmpdir(), 'logferry-restart-'));
let broker: KafkaBroker;
let agent: AgentProcess | undefined;

before(async () => {
  // Our own directory: stop() keeps it, so restart() comes back with the same data.
  broker = await startBroker({ logDir: join(dir, 'kafka') });
});

after(async () => {
  await agent?.stop(10_000);
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(port: number): Promise<{ buffer: number; pausedSeconds: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  return {
    buffer: value('logferry_buffer_bytes'),
    pausedSeconds: value('logferry_backpressure_seconds_total'),
  };
}

test('broker stopped and restarted mid-stream: memory stays within the bound through backpressure, no line is lost', async (t) => {
  const phases: string[] = [];
  const topic = uniqueTopic('restart');
  await createTopic(broker.bootstrap, topic, { partitions: 2 });
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const file = join(logs, 'app.log');
  writeFileSync(file, '');
  const config = join(dir, 'logferry.yaml');
  writeFileSync(
    config,
    [
      `data_dir: ${join(dir, 'data')}`,
      'sources:',
      '  - name: app',
      `    include: ["${logs}/*.log"]`,
      'tail:',
      `  read_buffer_bytes: ${READ}`,
      'buffer:',
      `  max_bytes: ${BOUND}`,
      'spool:',
      '  enabled: false',
      'sink:',
      '  kafka:',
      `    brokers: ["${broker.bootstrap}"]`,
      `    topic: ${topic}`,
      '    connection_timeout_ms: 1000',
      '    request_timeout_ms: 5000',
      '    retry: { initial_ms: 100, max_ms: 1000 }',
    ].join('\n'),
  );
  const [metricsPort] = await freePorts(1);
  agent = startAgent(['run', '--config', config], { LOGFERRY_METRICS_LISTEN: `127.0.0.1:${metricsPort}` });

  let written = 0;
  const pad = 'p'.repeat(80);
  const writeSome = (n: number) => {
    let text = '';
    for (let i = 0; i < n; i++) text += `line ${written++} ${pad}\n`;
    appendFileSync(file, text);
  };
  let writing = true;
  // ~0.4 MB/s, continuously, until the broker is back (the outage alone writes ~2 MB, twice the bound).
  const writer = (async () => {
    while (writing) {
      writeSome(400);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  let maxBuffer = 0;
  try {
    const sample = async () => {
      const m = await scrape(metricsPort);
      maxBuffer = Math.max(maxBuffer, m.buffer);
      return m;
    };
    await waitFor(
      async () => (await sample().catch(() => ({ buffer: Number.NaN }))).buffer >= 0,
      20_000,
      'the metrics endpoint',
    );
    await new Promise((r) => setTimeout(r, 1500));

    const t0 = Date.now();
    // Sampled every 100 ms from here on, through the outage, the restart and the catch-up.
    let sampling = true;
    let paused = 0;
    const sampler = (async () => {
      while (sampling) {
        const m = await sample().catch(() => undefined);
        if (m !== undefined) paused = m.pausedSeconds;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      // SIGKILL: the broker goes away mid-request, as in a crash or a node loss.
      await broker.kill();
      await new Promise((r) => setTimeout(r, 5_000));
      assert.ok(
        maxBuffer >= BOUND * 0.9,
        `the bound was reached (max buffer ${maxBuffer}): backpressure was exercised`,
      );
      assert.ok(paused > 0, 'tailers were paused');
      writing = false;
      await writer;
      await broker.restart();
      phases.push(`outage+restart ${Date.now() - t0} ms`);
      await new Promise((r) => setTimeout(r, 3_000));
    } finally {
      sampling = false;
      await sampler;
    }
  } finally {
    writing = false;
    await writer;
  }
  assert.ok(
    maxBuffer <= BOUND + ONE_READ,
    `logferry_buffer_bytes peaked at ${maxBuffer}, above ${BOUND} + one ${READ}-byte read and its records (${ONE_READ})`,
  );

  const t1 = Date.now();
  const got = await consumeAll({ bootstrap: broker.bootstrap, topic, expected: written, timeoutMs: 60_000 });
  const seen = new Set<number>();
  for (const m of got) {
    const message = (JSON.parse(m.value ?? '{}') as { message: string }).message;
    seen.add(Number(message.split(' ')[1]));
  }
  const missing: number[] = [];
  for (let i = 0; i < written && missing.length < 5; i++) if (!seen.has(i)) missing.push(i);
  assert.deepEqual(
    missing,
    [],
    `all ${written} lines arrived (${got.length} records, ${got.length - seen.size} duplicates)`,
  );
  phases.push(`consume ${got.length} ${Date.now() - t1} ms`);
  t.diagnostic(phases.join(', '));
  const code = await agent.stop(20_000);
  assert.equal(code, 0, agent.stderr().slice(-2000));
  agent = undefined;
});
