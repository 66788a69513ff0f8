import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BlockReader, readCheckedFrame, SEGMENT_NAME, scanSegment, segmentFileName } from './segment-file.ts';
import type { SpoolBatch } from './spool-batch.ts';
import { decodeFrame, frameKind, KIND_BATCH } from './spool-batch.ts';
import { readSpoolState, type SpoolState } from './spool-state.ts';

export interface SegmentInspection {
  readonly id: number;
  readonly file: string;
  readonly bytes: number;
  /** Unacknowledged batch frames in this segment and their records. */
  readonly frames: number;
  readonly records: number;
  /** Bytes that do not check out (quarantined at the next open). */
  readonly damagedBytes: number;
}

export interface SpoolInspection {
  readonly dir: string;
  readonly segments: SegmentInspection[];
  /** Totals over unacknowledged frames. */
  readonly frames: number;
  readonly records: number;
  /** Segment files' total size on disk. */
  readonly bytes: number;
  /** createdAt (ms) of the oldest and newest unacknowledged batch, or undefined when empty. */
  readonly oldestTime: number | undefined;
  readonly newestTime: number | undefined;
  readonly topics: Record<string, { frames: number; records: number }>;
  readonly damagedRanges: number;
  readonly damagedBytes: number;
  /** Files in spool/quarantine/. */
  readonly quarantineFiles: number;
  /** How the state file read: `ok`, `missing` or `invalid` (then every frame counts as unacknowledged). */
  readonly state: 'ok' | 'missing' | 'invalid';
}

/**
 * Reads the spool under `${dataDir}/spool/` without changing it (safe next to a running agent,
 * which may move on meanwhile): what `logferry spool inspect` prints.
 */
export async function inspectSpool(dataDir: string): Promise<SpoolInspection> {
  const spoolDir = join(dataDir, 'spool');
  const { ids, state, stateKind } = await listSpool(spoolDir);
  const segments: SegmentInspection[] = [];
  const topics: Record<string, { frames: number; records: number }> = {};
  let frames = 0;
  let records = 0;
  let bytes = 0;
  let oldest: number | undefined;
  let newest: number | undefined;
  let damagedRanges = 0;
  let damagedBytes = 0;
  for (const id of ids) {
    const file = join(spoolDir, segmentFileName(id));
    if (state !== undefined && id < state.segment) continue;
    let segFrames = 0;
    let segRecords = 0;
    const scan = await scanSegment(file, (frame, offset) => {
      if (state !== undefined && id === state.segment && offset < state.offset) return;
      let b: SpoolBatch;
      try {
        b = decodeFrame(frame);
      } catch {
        return; // checks out but does not parse: left for the next open to quarantine
      }
      segFrames++;
      segRecords += b.records;
      let t = topics[b.topic];
      if (t === undefined) {
        t = { frames: 0, records: 0 };
        topics[b.topic] = t;
      }
      t.frames++;
      t.records += b.records;
      if (oldest === undefined || b.createdAt < oldest) oldest = b.createdAt;
      if (newest === undefined || b.createdAt > newest) newest = b.createdAt;
    }).catch(() => undefined);
    if (scan === undefined) continue;
    let segDamaged = scan.headerOk ? 0 : scan.size;
    for (const d of scan.damage) segDamaged += d.bytes;
    damagedRanges += scan.damage.length + (scan.headerOk ? 0 : 1);
    damagedBytes += segDamaged;
    frames += segFrames;
    records += segRecords;
    bytes += scan.size;
    segments.push({
      id,
      file,
      bytes: scan.size,
      frames: segFrames,
      records: segRecords,
      damagedBytes: segDamaged,
    });
  }
  let quarantineFiles = 0;
  try {
    quarantineFiles = (await readdir(join(spoolDir, 'quarantine'))).length;
  } catch {
    // no quarantine directory yet
  }
  return {
    dir: spoolDir,
    segments,
    frames,
    records,
    bytes,
    oldestTime: oldest,
    newestTime: newest,
    topics,
    damagedRanges,
    damagedBytes,
    quarantineFiles,
    state: stateKind,
  };
}

/**
 * The unacknowledged batches, FIFO, read without changing the spool (`spool drain --dry-run`).
 * Damaged frames are skipped.
 */
export async function* readSpoolBatches(dataDir: string): AsyncGenerator<SpoolBatch> {
  const spoolDir = join(dataDir, 'spool');
  const { ids, state } = await listSpool(spoolDir);
  for (const id of ids) {
    if (state !== undefined && id < state.segment) continue;
    const file = join(spoolDir, segmentFileName(id));
    const scan = await scanSegment(file).catch(() => undefined);
    if (scan === undefined || !scan.headerOk) continue;
    const fh = await open(file, 'r');
    try {
      const reader = new BlockReader(fh);
      for (const f of scan.frames) {
        if (state !== undefined && id === state.segment && f.offset < state.offset) continue;
        const frame = await readCheckedFrame(reader, f.offset, scan.size);
        if (frame === undefined || frameKind(frame) !== KIND_BATCH) continue;
        yield decodeFrame(frame);
      }
    } finally {
      await fh.close();
    }
  }
}

async function listSpool(
  spoolDir: string,
): Promise<{ ids: number[]; state: SpoolState | undefined; stateKind: 'ok' | 'missing' | 'invalid' }> {
  let names: string[];
  try {
    await stat(spoolDir);
    names = await readdir(spoolDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { ids: [], state: undefined, stateKind: 'missing' };
    throw err;
  }
  const ids: number[] = [];
  for (const name of names) {
    const m = SEGMENT_NAME.exec(name);
    if (m !== null) ids.push(Number(m[1]));
  }
  ids.sort((a, b) => a - b);
  const read = await readSpoolState(spoolDir);
  return { ids, state: read.kind === 'ok' ? read.state : undefined, stateKind: read.kind };
}
