import assert from 'node:assert/strict';
import {
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { numbered, TailEnv, waitFor } from './tail-env.ts';

/** Paths this process holds open (Linux), to prove descriptors are released. */
function openPaths(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

describe('rotation while running', () => {
  let env: TailEnv;
  beforeEach(() => {
    env = new TailEnv();
  });
  afterEach(() => env.cleanup());

  it('rename + create: reads the old file to its end, then the new one, and releases the old after rotate_wait', async () => {
    env.write('app.log', numbered('a', 0, 100));
    const t = await env.start();
    await waitFor(() => env.sink.lines().length === 100);
    const oldId = env.sink.chunks[0].fileId;
    env.rotate('app.log'); // app.log -> app.log.1, not matched by *.log
    env.write('app.log.1', numbered('late', 0, 5)); // the writer still had the old file open
    env.write('app.log', numbered('b', 0, 50));
    await waitFor(() => env.sink.lines().length === 155, 3000, 'all lines');
    assert.deepEqual(
      env.sink.chunks.filter((c) => c.fileId === oldId).flatMap((c) => c.lines),
      [...numbered('a', 0, 100), ...numbered('late', 0, 5)],
    );
    assert.deepEqual(env.sink.linesOf('app.log').slice(-50), numbered('b', 0, 50));
    await waitFor(() => env.released.includes(oldId), 3000, 'old file released');
    assert.equal(t.stats.rotations, 1);
    assert.ok(!openPaths().some((p) => p.endsWith('app.log.1')));
  });

  it('rename + create with the rotated name also followed: no duplicates, no release', async () => {
    env.write('app.log', numbered('a', 0, 20));
    await env.start({}, {}, [join(env.logs, 'app.log*')]);
    await waitFor(() => env.sink.lines().length === 20);
    env.rotate('app.log');
    env.write('app.log', numbered('b', 0, 20));
    await waitFor(() => env.sink.lines().length === 40);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(env.sink.lines().length, 40);
    assert.deepEqual(env.released, []);
  });

  it('copytruncate: the shrink is detected and reading restarts at 0 under a new file id', async () => {
    env.write('app.log', numbered('a-long-line-', 0, 100));
    const t = await env.start();
    await waitFor(() => env.sink.lines().length === 100);
    const firstId = env.sink.chunks[0].fileId;
    truncateSync(env.path('app.log'), 0);
    env.write('app.log', numbered('b', 0, 10));
    await waitFor(() => env.sink.lines().length === 110);
    const after = env.sink.chunks.filter((c) => c.fileId !== firstId);
    assert.deepEqual(
      after.flatMap((c) => c.lines),
      numbered('b', 0, 10),
    );
    assert.equal(after[0].offsets[0], 0);
    assert.equal(t.stats.truncations, 1);
    assert.ok(env.released.includes(firstId), 'old incarnation released (pipeline flushes its multiline)');
  });

  it('copytruncate followed by more writes than before is still caught (bytes before the position changed)', async () => {
    env.write('app.log', numbered('a', 0, 10));
    await env.start({}, { watch: false, poll_interval_ms: 300 });
    await waitFor(() => env.sink.lines().length === 10);
    const firstId = env.sink.chunks[0].fileId;
    writeFileSync(
      env.path('app.log'),
      numbered('bbbbbbbbbb', 0, 30)
        .map((l) => `${l}\n`)
        .join(''),
    );
    await waitFor(() => env.sink.lines().length === 40, 3000);
    assert.deepEqual(
      env.sink.chunks.filter((c) => c.fileId !== firstId).flatMap((c) => c.lines),
      numbered('bbbbbbbbbb', 0, 30),
    );
  });

  it('delete: the descriptor is released promptly', async () => {
    env.write('gone.log', numbered('g', 0, 10));
    const t = await env.start({}, { rotate_wait_ms: 5000 });
    await waitFor(() => env.sink.lines().length === 10);
    const id = env.sink.chunks[0].fileId;
    assert.ok(openPaths().some((p) => p.endsWith('gone.log')));
    const t0 = Date.now();
    env.remove('gone.log');
    await waitFor(() => env.released.includes(id), 2000, 'deleted file released');
    assert.ok(Date.now() - t0 < 2000, 'well before rotate_wait');
    assert.ok(!openPaths().some((p) => p.includes('gone.log')));
    assert.equal(t.stats.deletions, 1);
  });

  it('flushes a partial last line of a rotated file after partial_flush', async () => {
    env.write('app.log', 'one\nunterminated');
    const t = await env.start();
    await waitFor(() => env.sink.lines().length === 1);
    env.rotate('app.log');
    env.write('app.log', ['new']);
    await waitFor(() => env.sink.lines().length === 3, 3000);
    assert.deepEqual(env.sink.lines().sort(), ['new', 'one', 'unterminated']);
    assert.equal(t.stats.partialLinesFlushed, 1);
  });

  it('symlink rotation: a link re-pointed to a new file drains the old target and follows the new', async () => {
    const pods = join(env.root, 'pods');
    mkdirSync(pods);
    writeFileSync(
      join(pods, '0.log'),
      numbered('c0-', 0, 10)
        .map((l) => `${l}\n`)
        .join(''),
    );
    const link = join(env.logs, 'pod.log');
    symlinkSync(join(pods, '0.log'), link);
    await env.start();
    await waitFor(() => env.sink.lines().length === 10);
    writeFileSync(
      join(pods, '1.log'),
      numbered('c1-', 0, 10)
        .map((l) => `${l}\n`)
        .join(''),
    );
    writeFileSync(
      join(pods, '0.log'),
      numbered('c0-', 10, 15)
        .map((l) => `${l}\n`)
        .join(''),
      { flag: 'a' },
    );
    unlinkSync(link);
    symlinkSync(join(pods, '1.log'), link);
    await waitFor(() => env.sink.lines().length === 25, 3000);
    assert.deepEqual(
      env.sink.lines().filter((l) => l.startsWith('c0-')),
      numbered('c0-', 0, 15),
    );
    assert.deepEqual(
      env.sink.lines().filter((l) => l.startsWith('c1-')),
      numbered('c1-', 0, 10),
    );
    // Writes to the target are seen through the target directory's watch.
    writeFileSync(join(pods, '1.log'), 'c1-more\n', { flag: 'a' });
    await waitFor(() => env.sink.lines().includes('c1-more'), 1000);
  });
});

describe('rotation while stopped', () => {
  let env: TailEnv;
  beforeEach(() => {
    env = new TailEnv();
  });
  afterEach(() => env.cleanup());

  async function firstRun(lines: string[]): Promise<string> {
    env.write('app.log', lines);
    const t = await env.start();
    await waitFor(() => env.sink.lines().length === lines.length);
    await waitFor(() => t.stats.chunksAcked === t.stats.chunksEmitted);
    await env.stop();
    return env.sink.chunks[0].fileId;
  }

  it('rename: app.log.1 is found by identity and read from its checkpoint, the new app.log from 0', async () => {
    const id = await firstRun(numbered('a', 0, 10));
    env.write('app.log', numbered('a', 10, 20)); // written after the stop, before the rotation
    env.rotate('app.log');
    env.write('app.log', numbered('b', 0, 10));
    await env.restart();
    await waitFor(() => env.sink.lines().length === 20, 3000);
    assert.deepEqual(
      env.sink.chunks.filter((c) => c.fileId === id).flatMap((c) => c.lines),
      numbered('a', 10, 20),
    );
    assert.deepEqual(env.sink.linesOf('/app.log'), numbered('b', 0, 10));
    await waitFor(() => env.released.includes(id), 3000, 'drained rotated file released');
  });

  it('rename with the rotated name followed: resumes app.log.1 without duplicates', async () => {
    env.write('app.log', numbered('a', 0, 10));
    let t = await env.start({}, {}, [join(env.logs, 'app.log*')]);
    await waitFor(() => t.stats.chunksAcked === 1);
    await env.stop();
    env.write('app.log', numbered('a', 10, 12));
    env.rotate('app.log');
    env.write('app.log', ['b0']);
    env.sink = new (env.sink.constructor as new () => typeof env.sink)();
    t = await env.start({}, {}, [join(env.logs, 'app.log*')]);
    await waitFor(() => env.sink.lines().length === 3);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(env.sink.lines().sort(), ['a10', 'a11', 'b0']);
  });

  it('copytruncate: a file truncated and rewritten while stopped is read from 0', async () => {
    await firstRun(numbered('a', 0, 10));
    // Same first line (same fingerprint), longer than before, different bytes before the old offset.
    writeFileSync(env.path('app.log'), ['a0', ...numbered('c', 0, 20)].map((l) => `${l}\n`).join(''));
    const t = await env.restart();
    await waitFor(() => env.sink.lines().length === 21, 3000);
    assert.deepEqual(env.sink.lines(), ['a0', ...numbered('c', 0, 20)]);
    assert.equal(t.stats.checkpointMismatches, 1);
  });

  it('copytruncate: a file truncated to less than the checkpoint is read from 0', async () => {
    await firstRun(numbered('a', 0, 10));
    writeFileSync(env.path('app.log'), 'x\n');
    await env.restart();
    await waitFor(() => env.sink.lines().length === 1);
    assert.deepEqual(env.sink.lines(), ['x']);
  });

  it('delete: a deleted file is skipped and its entry kept until retention', async () => {
    const id = await firstRun(numbered('a', 0, 3));
    env.write('other.log', ['o']); // before the delete, so it cannot take over the inode
    env.remove('app.log');
    const t = await env.restart();
    await waitFor(() => env.sink.lines().length === 1);
    assert.ok(t.committedOffset(id) !== undefined, 'entry retained');
    assert.deepEqual(env.sink.lines(), ['o']);
  });

  it('inode reuse: an entry whose inode now holds another file is not applied', async () => {
    const id = await firstRun(numbered('a', 0, 10));
    const { ino } = statSync(env.path('app.log'));
    // Delete and recreate until the file system hands out the same inode (ext4 and tmpfs usually do at once).
    let reused = false;
    for (let i = 0; i < 50 && !reused; i++) {
      env.remove('app.log');
      env.write('app.log', numbered('n', 0, 12));
      reused = statSync(env.path('app.log')).ino === ino;
    }
    const t = await env.restart();
    await waitFor(() => env.sink.lines().length === 12, 3000);
    assert.deepEqual(env.sink.lines(), numbered('n', 0, 12));
    assert.notEqual(env.sink.chunks[0].fileId, id);
    if (reused) assert.equal(t.stats.checkpointMismatches, 1);
  });
});

describe('identity', () => {
  let env: TailEnv;
  beforeEach(() => {
    env = new TailEnv();
  });
  afterEach(() => env.cleanup());

  it('two files with identical content are different files', async () => {
    env.write('one.log', ['same first line', 'x']);
    env.write('two.log', ['same first line', 'x']);
    const t = await env.start();
    await waitFor(() => env.sink.lines().length === 4);
    assert.equal(new Set(env.sink.chunks.map((c) => c.fileId)).size, 2);
    await waitFor(() => t.stats.chunksAcked === t.stats.chunksEmitted);
    env.write('two.log', ['only two']);
    await env.restart();
    await waitFor(() => env.sink.lines().length === 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(env.sink.lines(), ['only two']);
  });

  it('empty files and files shorter than the fingerprint are followed and resumed', async () => {
    env.create('empty.log');
    env.create('short.log', 'ab\n');
    const t = await env.start();
    await waitFor(() => env.sink.lines().length === 1);
    assert.equal(t.files().length, 2);
    env.write('empty.log', ['now something']);
    await waitFor(() => env.sink.lines().length === 2);
    await waitFor(() => t.stats.chunksAcked === t.stats.chunksEmitted);
    env.write('short.log', numbered('long enough to pass the fingerprint size ', 0, 40));
    await env.restart();
    await waitFor(() => env.sink.lines().length === 40);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(env.sink.lines(), numbered('long enough to pass the fingerprint size ', 0, 40));
    renameSync(env.path('empty.log'), env.path('empty.log.bak'));
  });
});
