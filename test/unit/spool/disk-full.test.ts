import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { batch, drain, openSpool, range, tempDir, until } from './helpers.ts';

/** A 256 KiB tmpfs: a real ENOSPC. Needs root (CI runs as root); skipped where mounting is not allowed. */
function mountSmallTmpfs(dir: string): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('a real full disk (ENOSPC) blocks appends without crashing; acks free space and the append completes', async (t) => {
  const { dir, cleanup } = await tempDir();
  const mnt = join(dir, 'small');
  await mkdir(mnt);
  if (!mountSmallTmpfs(mnt)) {
    await cleanup();
    t.skip('cannot mount a tmpfs here');
    return;
  }
  t.after(async () => {
    execFileSync('umount', [mnt], { stdio: 'ignore' });
    await cleanup();
  });
  const spool = await openSpool(mnt, {
    maxBytes: 64 * 1024 * 1024,
    segmentBytes: 32 * 1024,
    diskFullRetryMs: 20,
  });
  let n = 0;
  let stuck: Promise<void> | undefined;
  for (; n < 200; n++) {
    let done = false;
    const p = spool.append(batch(n, 4000)).then(() => {
      done = true;
    });
    await until(() => done || spool.stats.diskFull === 1, 'append to finish or hit ENOSPC');
    if (!done) {
      stuck = p;
      break;
    }
  }
  assert.ok(stuck, 'the 256 KiB volume filled up');
  assert.ok(spool.stats.diskFullErrors >= 1);
  const first = await drain(spool); // acks delete whole segments; the waiting append then gets in
  await stuck;
  const rest = await drain(spool);
  assert.deepEqual([...first, ...rest], range(0, n + 1), 'nothing lost, FIFO');
  assert.equal(spool.stats.diskFull, 0);
  await spool.close();
});
