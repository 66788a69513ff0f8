import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../../src/model/clock.ts';
import { silentLogger } from '../../../src/observe/logger.ts';
import { Spool, type SpoolOptions } from '../../../src/spool/spool.ts';
import type { SpoolBatch } from '../../../src/spool/spool-batch.ts';

/** A clock whose time moves only when the test says so. */
export class ManualClock implements Clock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.timers.filter((t) => t.at <= this.t);
    this.timers = this.timers.filter((t) => t.at > this.t);
    for (const t of due) t.fn();
  }
  get pendingTimers(): number {
    return this.timers.length;
  }
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'logferry-spool-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Batch number `i`: its payload starts with the number, so order and identity can be checked. */
export function batch(i: number, payloadBytes = 200, topic = 'logs'): SpoolBatch {
  const payload = Buffer.alloc(Math.max(8, payloadBytes), i & 0xff);
  payload.writeUInt32LE(i, 0);
  payload.writeUInt32LE(0xc0ffee, 4);
  return {
    topic,
    records: (i % 5) + 1,
    codec: 'none',
    keys: i % 2 === 0 ? [`k${i}`, null] : undefined,
    positions: [{ fileId: 'dev1:ino7', startOffset: i * 100, endOffset: i * 100 + 100 }],
    createdAt: 1_000_000 + i,
    payload,
  };
}

export function seqOf(b: SpoolBatch): number {
  return b.payload.readUInt32LE(0);
}

export function openSpool(dir: string, extra: Partial<SpoolOptions> = {}): Promise<Spool> {
  return Spool.open({
    dir,
    maxBytes: 1024 * 1024,
    whenFull: 'block',
    fsync: 'every_batch',
    segmentBytes: 4096,
    log: silentLogger(),
    ackSyncMs: 0,
    ...extra,
  });
}

/** Lets queued I/O callbacks and promise reactions run (several rounds of the event loop). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Reads and acks everything, returning the sequence numbers in order. */
export async function drain(spool: Spool): Promise<number[]> {
  const seen: number[] = [];
  for (;;) {
    const b = await spool.peek();
    if (b === undefined) return seen;
    seen.push(seqOf(b));
    await spool.ack();
  }
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

/** Waits (bounded) for a condition that depends on real file I/O completing. */
export async function until(cond: () => boolean, what = 'condition', timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Appends batches from `from` on until one has to wait for space; returns the waiting append's
 * promise and the sequence number it carries.
 */
export async function fillUntilBlocked(
  spool: import('../../../src/spool/spool.ts').Spool,
  from = 0,
  limit = 1000,
): Promise<{ waiting: Promise<void>; seq: number }> {
  for (let i = from; i < from + limit; i++) {
    let done = false;
    const p = spool.append(batch(i)).then(() => {
      done = true;
    });
    await until(() => done || spool.stats.blockedAppends > 0, 'append to finish or block');
    if (!done) return { waiting: p, seq: i };
  }
  throw new Error('the spool never blocked');
}
