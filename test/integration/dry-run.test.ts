import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataDirLock } from '../../src/checkpoint/data-dir-lock.ts';
import { silentLogger } from '../../src/observe/logger.ts';
import { startAgent, waitFor } from '../support/agent-process.ts';

test('--dry-run writes one NDJSON record per line to stdout and exits 0 after flushing on SIGTERM; it leaves data_dir alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logferry-dry-'));
  try {
    mkdirSync(join(dir, 'logs'));
    const lines = Array.from({ length: 5000 }, (_, i) => `dry line ${i}`);
    writeFileSync(join(dir, 'logs', 'x.log'), `${lines.join('\n')}\n`);
    const cfg = join(dir, 'c.yaml');
    writeFileSync(
      cfg,
      `data_dir: ${join(dir, 'data')}\nsources:\n  - name: x\n    include: ["${dir}/logs/*.log"]\n    service: svc\nsink:\n  kafka:\n    brokers: ["127.0.0.1:1"]\n    topic: t\n`,
    );
    // An agent holds data_dir: the dry run neither waits for it nor touches its checkpoints.
    const held = await DataDirLock.acquire(join(dir, 'data'), { waitMs: 0, log: silentLogger() });
    const agent = startAgent(['run', '--config', cfg, '--dry-run']);
    await waitFor(() => agent.stdout().split('\n').length > lines.length, 30_000, 'all records on stdout');
    assert.equal(await agent.stop(), 0, agent.stderr());
    assert.equal(
      existsSync(join(dir, 'data', 'checkpoints.json')),
      false,
      'no checkpoints written in data_dir',
    );
    await held.release();
    const records = agent
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { message: string; service: { name: string }; log: { offset: number } });
    assert.deepEqual(
      records.map((r) => r.message),
      lines,
    );
    assert.equal(records[1].log.offset, Buffer.byteLength(`${lines[0]}\n`));
    assert.equal(records[0].service.name, 'svc');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
