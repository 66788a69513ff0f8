/**
 * One agent per data_dir. Two agents sharing one would both ship every file and overwrite each
 * other's checkpoints and spool segments.
 *
 * The lock is a Unix socket the agent listens on, `<data_dir>/logferry.lock.sock`: while the agent
 * lives, a connect to it succeeds (and reads who holds it); once the agent has ended in any way,
 * SIGKILL and crashes included, the kernel refuses the connect and the next agent replaces the
 * socket file left behind. Like flock (which Node does not offer) the kernel does the checking, so
 * no stale lock outlives its holder, and it holds across containers that mount the same data_dir
 * on one host (a DaemonSet's old and new pod during a rolling update). Replacing a left-over file
 * is itself serialized by a directory created beside it, so that two agents starting at once
 * cannot both replace it.
 */
import { mkdir, rmdir, stat, unlink } from 'node:fs/promises';
import net from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { DataDirLockedError, DataDirLockIoError } from '../model/errors.ts';
import type { Logger } from '../observe/logger.ts';

export const LOCK_SOCKET = 'logferry.lock.sock';
export const TAKEOVER_DIR = 'logferry.lock.takeover';
/** A takeover directory older than this was left by an agent that died while taking over. */
const STALE_TAKEOVER_MS = 10_000;
const PROBE_TIMEOUT_MS = 2_000;
const RETRY_MS = 500;
/** Unix socket paths are limited to 108 bytes with the terminating NUL (Linux sun_path). */
const MAX_SOCKET_PATH = 107;

export interface LockOptions {
  /** How long to wait for another agent to let go before giving up; 0: give up at once. */
  waitMs: number;
  log: Logger;
}

type Probe = { alive: true; holder: string } | { alive: false };

export class DataDirLock {
  readonly #server: net.Server | undefined;
  readonly path: string;

  private constructor(server: net.Server | undefined, socketPath: string) {
    this.#server = server;
    this.path = socketPath;
  }

  /**
   * Takes the lock on `dataDir` (created if missing), waiting up to `waitMs` for another agent to
   * let go. Throws DataDirLockedError when it does not. Where no socket can be made (a path longer
   * than Unix sockets allow), the agent runs unlocked, with a warning.
   */
  static async acquire(dataDir: string, opts: LockOptions): Promise<DataDirLock> {
    await mkdir(dataDir, { recursive: true });
    const socketPath = path.join(path.resolve(dataDir), LOCK_SOCKET);
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      opts.log.warn(
        { path: socketPath },
        'data_dir lock not taken: its path is longer than a Unix socket path may be; make sure no other agent uses this data_dir, or choose a shorter data_dir',
      );
      return new DataDirLock(undefined, socketPath);
    }
    // What an agent that finds the lock taken is told of its holder.
    const holder = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
    const deadline = Date.now() + opts.waitMs;
    let warned = false;
    for (;;) {
      const server = await listen(socketPath, holder);
      if (server !== undefined) return new DataDirLock(server, socketPath);
      const probe = await probeHolder(socketPath);
      if (!probe.alive) {
        await replaceLeftOver(dataDir, socketPath, opts.log);
        continue;
      }
      if (Date.now() >= deadline) throw new DataDirLockedError(dataDir, probe.holder);
      if (!warned) {
        warned = true;
        opts.log.warn(
          { data_dir: dataDir, holder: probe.holder, wait_ms: opts.waitMs },
          'data_dir is in use by another logferry agent: waiting for it to stop',
        );
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  /** Lets go: the socket is closed and its file removed. */
  async release(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    // Closing a listening Unix socket server removes its file (libuv), before another agent can
    // bind a new one there: removing it here afterwards could remove that agent's.
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Listens on `socketPath`, answering each connection with `holder`; undefined when the path is taken. */
function listen(socketPath: string, holder: string): Promise<net.Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((c) => {
      c.on('error', () => undefined);
      c.end(`${holder}\n`);
    });
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(undefined);
      else reject(lockIoError(socketPath, err));
    });
    server.listen(socketPath, () => {
      // The lock must not keep a stopping process alive.
      server.unref();
      resolve(server);
    });
  });
}

/** Connects to the socket: alive (with what the holder says of itself) or left over. */
function probeHolder(socketPath: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    let said = '';
    let connected = false;
    const c = net.connect(socketPath);
    c.setTimeout(PROBE_TIMEOUT_MS, () => {
      // Accepted but silent: something is there; treat it as a live holder.
      c.destroy();
      resolve({ alive: true, holder: said.trim() || 'unknown (no answer)' });
    });
    c.on('connect', () => {
      connected = true;
    });
    c.on('data', (d: Buffer) => {
      said += d.toString();
    });
    c.on('end', () => resolve({ alive: true, holder: said.trim() || 'unknown' }));
    c.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) resolve({ alive: true, holder: said.trim() || 'unknown' });
      else if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve({ alive: false });
      else reject(lockIoError(socketPath, err));
    });
  });
}

/** Removes a socket file nobody listens on, under the takeover directory. */
async function replaceLeftOver(dataDir: string, socketPath: string, log: Logger): Promise<void> {
  const takeover = path.join(dataDir, TAKEOVER_DIR);
  try {
    await mkdir(takeover);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw lockIoError(takeover, err);
    // Another agent is replacing it right now, or one died doing so.
    const age = await stat(takeover).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > STALE_TAKEOVER_MS) await rmdir(takeover).catch(() => undefined);
    else await new Promise((r) => setTimeout(r, 50));
    return;
  }
  try {
    // Looked at again under the takeover directory: it may have been replaced in between.
    if (!(await probeHolder(socketPath)).alive) {
      await unlink(socketPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw lockIoError(socketPath, err);
      });
      log.info(
        { path: socketPath },
        'data_dir lock left by an agent that ended without releasing it: taken over',
      );
    }
  } finally {
    await rmdir(takeover).catch(() => undefined);
  }
}

function lockIoError(file: string, err: unknown): DataDirLockIoError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new DataDirLockIoError(
    `cannot take the data_dir lock at ${file} (${code}): make data_dir writable by the agent, on a local filesystem`,
  );
}
