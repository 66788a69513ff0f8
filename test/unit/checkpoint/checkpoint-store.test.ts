import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type CheckpointEntry, CheckpointStore } from '../../../src/checkpoint/checkpoint-store.ts';
import { silentLogger } from '../../../src/observe/logger.ts';

function entry(fileId: string, offset: number): CheckpointEntry {
  return {
    fileId,
    source: 's',
    path: `/logs/${fileId}.log`,
    dev: 1,
    ino: 42,
    fingerprint: 'fp',
    fingerprintLen: 10,
    offset,
    marker: 'mk',
    markerLen: 5,
    lastSeen: 1000,
  };
}

describe('CheckpointStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logferry-ckpt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips entries through an atomic write', async () => {
    const a = new CheckpointStore(dir, silentLogger());
    assert.equal(await a.load(), 'missing');
    a.set(entry('f1', 123));
    a.set(entry('f2', 7));
    await a.flush();
    assert.equal(a.stats.writes, 1);
    await a.flush(); // not dirty: no write
    assert.equal(a.stats.writes, 1);
    const b = new CheckpointStore(dir, silentLogger());
    assert.equal(await b.load(), 'none');
    assert.deepEqual(b.get('f1'), entry('f1', 123));
    assert.equal(b.findByInode(1, 42).length, 2);
    assert.ok(!readdirSync(dir).some((n) => n.includes('.tmp-')));
  });

  for (const [name, mangle] of [
    ['truncated', (t: string) => t.slice(0, t.length / 2)],
    ['garbage', () => '\x00\x01garbage\xff'],
    ['checksum mismatch', (t: string) => t.replace('"offset":123', '"offset":999')],
    ['foreign JSON', () => '{"hello":"world"}'],
  ] as const) {
    it(`reports a ${name} file, moves it aside, and starts from the previous snapshot or empty`, async () => {
      const a = new CheckpointStore(dir, silentLogger());
      await a.load();
      a.set(entry('f1', 123));
      await a.flush();
      const path = join(dir, 'checkpoints.json');
      writeFileSync(path, mangle(readFileSync(path, 'utf8')));
      const b = new CheckpointStore(dir, silentLogger());
      assert.equal(await b.load(), 'corrupt');
      assert.equal(b.stats.corruptFiles, 1);
      assert.ok(readdirSync(dir).some((n) => n.startsWith('checkpoints.json.corrupt-')));
      assert.equal(existsSync(path), false);
      assert.equal(b.size, 0); // only one snapshot was ever written: no .prev
    });
  }

  it('falls back to the previous snapshot when the newest is corrupt', async () => {
    const a = new CheckpointStore(dir, silentLogger());
    await a.load();
    a.set(entry('f1', 100));
    await a.flush();
    a.set(entry('f1', 200));
    await a.flush();
    writeFileSync(join(dir, 'checkpoints.json'), '{"format":"logferry-checkpoints","vers');
    const b = new CheckpointStore(dir, silentLogger());
    assert.equal(await b.load(), 'corrupt');
    assert.equal(b.get('f1')?.offset, 100);
  });

  it('uses .prev when a crash left no main file', async () => {
    const a = new CheckpointStore(dir, silentLogger());
    await a.load();
    a.set(entry('f1', 100));
    await a.flush();
    a.set(entry('f1', 200));
    await a.flush();
    rmSync(join(dir, 'checkpoints.json'));
    const b = new CheckpointStore(dir, silentLogger());
    assert.equal(await b.load(), 'none');
    assert.equal(b.get('f1')?.offset, 100);
  });
});
