/** `logferry spool inspect` and `logferry spool drain --dry-run` on a spool written by the delivery stage's encoder. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LineChunk } from '../../src/model/line-chunk.ts';
import { silentLogger } from '../../src/observe/logger.ts';
import { Spool } from '../../src/spool/spool.ts';
import { toSpoolBatch } from '../../src/spool/spool-payload.ts';
import { runCli } from '../support/agent-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'logferry-spool-cli-'));
const config = join(dir, 'logferry.yaml');
const chunk = { fileId: 'f1', offsets: [0], endOffset: 10, readAt: 0 } as unknown as LineChunk;

before(async () => {
  writeFileSync(
    config,
    [
      `data_dir: ${join(dir, 'data')}`,
      'sources:',
      `  - name: app`,
      `    include: ["${dir}/*.log"]`,
      'sink:',
      '  kafka:',
      '    brokers: ["127.0.0.1:1"]',
      '    topic: logs',
    ].join('\n'),
  );
  const spool = await Spool.open({
    dir: join(dir, 'data'),
    maxBytes: 1 << 20,
    whenFull: 'block',
    fsync: 'every_batch',
    segmentBytes: 65536,
    log: silentLogger(),
  });
  let n = 0;
  for (const [topic, count, t] of [
    ['logs', 3, 1_700_000_000_000],
    ['audit', 2, 1_700_000_060_000],
  ] as const) {
    const records = Array.from({ length: count }, () => ({
      topic,
      key: `k${n % 2}`,
      value: JSON.stringify({ message: `line ${n++}` }),
      chunk,
    }));
    await spool.append(await toSpoolBatch({ topic, records, bytes: 10 }, 'zstd', t));
  }
  await spool.close();
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('spool inspect: segments, records, bytes, oldest and newest time, counts per topic', async () => {
  const text = await runCli(['spool', 'inspect', '--config', config]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /segments 1 {2}batches 2 {2}records 5 {2}bytes \d+/);
  assert.match(text.stdout, /oldest 2023-11-14T22:13:20.000Z {2}newest 2023-11-14T22:14:20.000Z/);
  assert.match(text.stdout, /^logs {2}1 {2}3$/m);
  assert.match(text.stdout, /^audit {2}1 {2}2$/m);
  const json = await runCli(['spool', 'inspect', '--config', config, '--json']);
  const doc = JSON.parse(json.stdout) as { records: number; topics: Record<string, { records: number }> };
  assert.equal(doc.records, 5);
  assert.deepEqual(doc.topics['audit'], { frames: 1, records: 2 });
});

test('spool drain --dry-run prints every spooled record as NDJSON, oldest first, and removes nothing', async () => {
  const r = await runCli(['spool', 'drain', '--config', config, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout
    .trim()
    .split('\n')
    .map(
      (l) => JSON.parse(l) as { topic: string; key: string; value: { message: string }; spooled_at: string },
    );
  assert.deepEqual(
    rows.map((x) => [x.topic, x.key, x.value.message]),
    [
      ['logs', 'k0', 'line 0'],
      ['logs', 'k1', 'line 1'],
      ['logs', 'k0', 'line 2'],
      ['audit', 'k1', 'line 3'],
      ['audit', 'k0', 'line 4'],
    ],
  );
  assert.equal(rows[0].spooled_at, '2023-11-14T22:13:20.000Z');
  assert.match(r.stderr, /5 spooled records printed/);
  const again = await runCli(['spool', 'inspect', '--config', config, '--json']);
  assert.equal((JSON.parse(again.stdout) as { records: number }).records, 5, 'nothing removed');
});

test('spool drain without --dry-run refuses with a usage exit code', async () => {
  const r = await runCli(['spool', 'drain', '--config', config]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /the running agent drains the spool/);
});
