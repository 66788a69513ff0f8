import assert from 'node:assert/strict';
import { readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Clock } from '../../../src/model/clock.ts';
import { silentLogger } from '../../../src/observe/logger.ts';
import { resolveTailSettings, resolveTailSource } from '../../../src/tail/tail-config.ts';
import { Tailer } from '../../../src/tail/tailer.ts';
import { fastSettings, numbered, TailEnv, waitFor } from './tail-env.ts';

const readCheckpoint = (env: TailEnv) =>
  JSON.parse(readFileSync(join(env.data, 'checkpoints.json'), 'utf8')) as {
    entries: { offset: number; file_id: string }[];
  };

describe('reading limits and content', () => {
  let env: TailEnv;
  beforeEach(() => {
    env = new TailEnv();
  });
  afterEach(() => env.cleanup());

  it('splits lines over max_line_bytes into flagged, counted pieces', async () => {
    env.write('app.log', ['short', 'L'.repeat(250), 'after']);
    const t = await env.start({ max_line_bytes: 100 });
    await waitFor(() => env.sink.lines().length === 5);
    assert.deepEqual(
      env.sink.lines().map((l) => l.length),
      [5, 100, 100, 50, 5],
    );
    const flags = env.sink.chunks.flatMap((c) => c.lines.map((_, i) => c.flags?.[i]));
    assert.deepEqual(flags, [undefined, ['truncated'], ['truncated'], ['truncated'], undefined]);
    assert.equal(t.stats.truncatedLines, 3);
  });

  it('an unterminated over-long line is emitted in pieces without waiting for its end', async () => {
    env.write('app.log', 'z'.repeat(350));
    await env.start({ max_line_bytes: 100 });
    await waitFor(() => env.sink.lines().length === 3);
    env.write('app.log', 'zz\n');
    await waitFor(() => env.sink.lines().length === 4);
    assert.equal(env.sink.lines().join(''), 'z'.repeat(352));
  });

  it('replaces invalid UTF-8 (flagged, counted) and keeps NUL bytes inside lines', async () => {
    writeFileSync(
      env.path('app.log'),
      Buffer.concat([Buffer.from('ok\nbad\xff'), Buffer.from([0xc3]), Buffer.from('\na\0b\n')]),
    );
    const t = await env.start();
    await waitFor(() => env.sink.lines().length === 3);
    const [c] = env.sink.chunks;
    assert.equal(c.lines[0], 'ok');
    assert.ok(c.lines[1].includes('\ufffd'));
    assert.deepEqual(c.flags?.[1], ['invalid_utf8']);
    assert.equal(c.lines[2], 'a\0b');
    assert.equal(t.stats.invalidUtf8Lines, 1);
  });

  it('start_at: end skips existing content; files appearing later are read from the beginning', async () => {
    env.write('old.log', numbered('old', 0, 10));
    await env.start({ start_at: 'end' });
    env.write('old.log', ['fresh']);
    env.write('new.log', ['n0', 'n1']);
    await waitFor(() => env.sink.lines().length === 3);
    assert.deepEqual(env.sink.lines().sort(), ['fresh', 'n0', 'n1']);
  });

  it('ignore_older skips files not modified recently, but follows their new lines', async () => {
    env.write('stale.log', numbered('s', 0, 10));
    env.write('live.log', ['live']);
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(env.path('stale.log'), past, past);
    const t = await env.start({ ignore_older_ms: 60_000 });
    await waitFor(() => env.sink.lines().length === 1);
    assert.equal(t.stats.ignoredOld, 1);
    env.write('stale.log', ['s-new']);
    await waitFor(() => env.sink.lines().length === 2);
    assert.deepEqual(env.sink.lines().sort(), ['live', 's-new']);
  });

  it('max_open_files: all files are read, and only the limit stays open when idle', async () => {
    for (let f = 0; f < 8; f++) env.write(`f${f}.log`, numbered(`f${f}-`, 0, 200));
    const t = await env.start({}, { max_open_files: 2, read_buffer_bytes: 4096 });
    await waitFor(() => env.sink.lines().length === 1600, 5000);
    for (let f = 0; f < 8; f++) assert.deepEqual(env.sink.linesOf(`f${f}.log`), numbered(`f${f}-`, 0, 200));
    await waitFor(() => t.stats.filesOpen <= 2, 2000, 'idle files closed');
    for (let f = 0; f < 8; f++) env.write(`f${f}.log`, [`more${f}`]);
    await waitFor(() => env.sink.lines().length === 1608, 3000);
  });

  it('fair scheduling: a busy file does not starve a quiet one', async () => {
    const big = 'B'.repeat(200);
    writeFileSync(env.path('big.log'), `${Array.from({ length: 100_000 }, () => big).join('\n')}\n`); // ~20 MB
    await env.start({}, { read_buffer_bytes: 65536, read_concurrency: 1 });
    await waitFor(() => env.sink.chunks.length > 2);
    env.write('quiet.log', ['hello']);
    await waitFor(() => env.sink.lines().includes('hello'), 3000);
    await waitFor(() => env.sink.lines().length === 100_001, 10_000);
    const quietAt = env.sink.chunks.findIndex((c) => c.path.endsWith('quiet.log'));
    assert.ok(
      quietAt < env.sink.chunks.length - 1,
      `quiet file served before the big one finished (${quietAt}/${env.sink.chunks.length})`,
    );
  });

  it('close_inactive closes idle files and reopens them on change', async () => {
    env.write('idle.log', ['one']);
    const t = await env.start({}, { close_inactive_ms: 100, scan_interval_ms: 50 });
    await waitFor(() => env.sink.lines().length === 1);
    await waitFor(() => t.stats.filesOpen === 0, 2000, 'file closed');
    env.write('idle.log', ['two']);
    await waitFor(() => env.sink.lines().length === 2, 2000);
    assert.deepEqual(env.sink.lines(), ['one', 'two']);
  });

  it('a file rotated while closed by close_inactive is found in its directory and drained', async () => {
    env.write('idle.log', ['one']);
    const t = await env.start({}, { close_inactive_ms: 100, scan_interval_ms: 50 });
    await waitFor(() => t.stats.filesOpen === 0, 2000, 'file closed');
    env.write('idle.log', ['two']);
    env.rotate('idle.log', 'idle.log.1');
    await waitFor(() => env.sink.lines().length === 2, 2000);
    assert.deepEqual(env.sink.lines(), ['one', 'two']);
  });
});

describe('checkpoints through the tailer', () => {
  let env: TailEnv;
  beforeEach(() => {
    env = new TailEnv();
  });
  afterEach(() => env.cleanup());

  it('never moves a checkpoint ahead of delivery, whatever the ack order', async () => {
    env.write('app.log', numbered('line-', 0, 3000));
    env.sink.autoAck = false;
    const t = await env.start({}, { read_buffer_bytes: 4096 });
    await waitFor(() => env.sink.lines().length === 3000);
    const chunks = [...env.sink.chunks];
    assert.ok(chunks.length > 5);
    const order = chunks.map((_, i) => i).sort((a, b) => ((a * 7919) % 13) - ((b * 7919) % 13) || a - b);
    const acked = new Set<number>();
    for (const i of order) {
      t.ack(chunks[i]);
      acked.add(i);
      let prefix = 0;
      while (acked.has(prefix)) prefix++;
      const expected = prefix === 0 ? 0 : chunks[prefix - 1].endOffset;
      await t.flushCheckpoints();
      assert.equal(readCheckpoint(env).entries[0].offset, expected);
    }
  });

  for (const [kind, content] of [
    ['truncated', (t: string) => t.slice(0, 40)],
    ['garbage', () => 'Ω\u0000not json at all'],
  ] as const) {
    it(`a ${kind} checkpoint file is reported, survived, and files are re-read from the start`, async () => {
      env.write('app.log', numbered('a', 0, 5));
      const t1 = await env.start();
      await waitFor(() => t1.stats.chunksAcked === 1);
      await env.stop();
      const path = join(env.data, 'checkpoints.json');
      writeFileSync(path, content(readFileSync(path, 'utf8')));
      rmSync(`${path}.prev`, { force: true });
      const t = await env.restart({ start_at: 'end' });
      await waitFor(() => env.sink.lines().length === 5);
      assert.equal(t.stats.checkpointCorruptFiles, 1);
      await waitFor(() => t.stats.chunksAcked === 1);
      await t.flushCheckpoints();
      assert.equal(readCheckpoint(env).entries[0].offset, 15);
    });
  }

  it('removes entries of files gone for longer than the retention period', async () => {
    let skew = 0;
    const clock: Clock = {
      now: () => Date.now() + skew,
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    };
    env.write('gone.log', ['x']);
    env.write('stays.log', ['y']);
    const t = new Tailer({
      sources: [resolveTailSource({ name: 't', include: [join(env.logs, '*.log')] })],
      settings: resolveTailSettings({ ...fastSettings, checkpoint_retention_ms: 60_000 }),
      dataDir: env.data,
      sink: env.sink,
      log: silentLogger(),
      clock,
    });
    env.sink.tailer = t;
    env.tailer = t;
    await t.start();
    await waitFor(() => t.stats.chunksAcked === 2);
    env.remove('gone.log');
    await waitFor(() => t.stats.releasedFiles === 1);
    await t.flushCheckpoints();
    assert.equal(readCheckpoint(env).entries.length, 2, 'kept within retention');
    skew = 120_000;
    await new Promise((r) => setTimeout(r, 250)); // a rescan refreshes the live file's last_seen
    await t.flushCheckpoints();
    const entries = readCheckpoint(env).entries;
    assert.equal(entries.length, 1);
  });
});
