import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DataDirLock, LOCK_SOCKET, TAKEOVER_DIR } from '../../../src/checkpoint/data-dir-lock.ts';
import { DataDirLockedError, ExitCode } from '../../../src/model/errors.ts';
import { type Logger, silentLogger } from '../../../src/observe/logger.ts';

/** A logger that keeps the messages of warn calls. */
function recordingLogger(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log = silentLogger();
  log.warn = ((obj: unknown, msg?: string) => {
    warnings.push(typeof obj === 'string' ? obj : (msg ?? ''));
  }) as Logger['warn'];
  return { log, warnings };
}

/** A process that listens on `socketPath` and is then killed with SIGKILL: the file stays behind. */
async function leaveSocketBehind(socketPath: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('ready'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [ready] = (await once(child.stdout, 'data')) as [Buffer];
  assert.equal(ready.toString().trim(), 'ready');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(existsSync(socketPath), 'the killed process left its socket file');
}

describe('DataDirLock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lf-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is taken once: a second agent is refused with the holder named, and it is free again after release', async () => {
    const data = join(dir, 'data'); // created by acquire
    const first = await DataDirLock.acquire(data, { waitMs: 0, log: silentLogger() });
    assert.ok(existsSync(join(data, LOCK_SOCKET)));
    await assert.rejects(
      DataDirLock.acquire(data, { waitMs: 0, log: silentLogger() }),
      (err: unknown) =>
        err instanceof DataDirLockedError &&
        err.exitCode === ExitCode.dataDirLocked &&
        err.message.includes(`"pid":${process.pid}`) &&
        err.message.includes('give each agent its own data_dir'),
    );
    await first.release();
    assert.equal(existsSync(join(data, LOCK_SOCKET)), false, 'release removes the socket file');
    const again = await DataDirLock.acquire(data, { waitMs: 0, log: silentLogger() });
    await again.release();
  });

  it('a lock left by a killed agent is taken over', async () => {
    await leaveSocketBehind(join(dir, LOCK_SOCKET));
    const lock = await DataDirLock.acquire(dir, { waitMs: 0, log: silentLogger() });
    await assert.rejects(DataDirLock.acquire(dir, { waitMs: 0, log: silentLogger() }), DataDirLockedError);
    await lock.release();
  });

  it('two agents taking over the same left-over lock at once: exactly one gets it', async () => {
    await leaveSocketBehind(join(dir, LOCK_SOCKET));
    const results = await Promise.allSettled([
      DataDirLock.acquire(dir, { waitMs: 0, log: silentLogger() }),
      DataDirLock.acquire(dir, { waitMs: 0, log: silentLogger() }),
      DataDirLock.acquire(dir, { waitMs: 0, log: silentLogger() }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
    for (const r of lost) assert.ok(r.reason instanceof DataDirLockedError, String(r.reason));
    await (won[0] as PromiseFulfilledResult<DataDirLock>).value.release();
  });

  it('a left-over lock is replaced only by the agent that made the takeover directory', async () => {
    await leaveSocketBehind(join(dir, LOCK_SOCKET));
    mkdirSync(join(dir, TAKEOVER_DIR)); // another agent is replacing it right now
    let taken = false;
    const pending = DataDirLock.acquire(dir, { waitMs: 0, log: silentLogger() }).then((lock) => {
      taken = true;
      return lock;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(taken, false, 'it waits for the other takeover');
    assert.ok(existsSync(join(dir, LOCK_SOCKET)), 'and leaves the socket file alone meanwhile');
    rmdirSync(join(dir, TAKEOVER_DIR)); // that agent died before binding: the file is still left over
    const lock = await pending;
    await lock.release();
  });

  it('a takeover directory left by an agent that died taking over is removed after 10 s', async () => {
    await leaveSocketBehind(join(dir, LOCK_SOCKET));
    mkdirSync(join(dir, TAKEOVER_DIR));
    const old = (Date.now() - 20_000) / 1000;
    utimesSync(join(dir, TAKEOVER_DIR), old, old);
    const lock = await DataDirLock.acquire(dir, { waitMs: 0, log: silentLogger() });
    assert.equal(existsSync(join(dir, TAKEOVER_DIR)), false);
    await lock.release();
  });

  it('waits for the holder to let go (a rolling update), saying once that it waits', async () => {
    const first = await DataDirLock.acquire(dir, { waitMs: 0, log: silentLogger() });
    const { log, warnings } = recordingLogger();
    const t0 = Date.now();
    const second = DataDirLock.acquire(dir, { waitMs: 10_000, log });
    setTimeout(() => void first.release(), 1200);
    const lock = await second;
    assert.ok(Date.now() - t0 >= 1000, 'it waited');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /in use by another logferry agent: waiting/);
    await lock.release();
  });

  it('a data_dir too long for a Unix socket path: runs unlocked, with a warning', async () => {
    const long = join(dir, 'x'.repeat(120));
    const { log, warnings } = recordingLogger();
    const lock = await DataDirLock.acquire(long, { waitMs: 0, log });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /lock not taken/);
    await lock.release();
  });
});
