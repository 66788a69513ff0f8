import { hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { CheckpointEntry } from '../checkpoint/checkpoint-store.ts';
import type { MarkedOffset } from '../checkpoint/watermark.ts';

/** Bytes just before an offset that its marker hashes (fewer near the start of the file). */
export const MARKER_BYTES = 64;

/** Short stable hash of `buf[start, end)`. */
export function digest(buf: Buffer, start: number, end: number): string {
  return hash('sha256', buf.subarray(start, end), 'hex').slice(0, 32);
}

/** Reads up to `length` bytes at `position`; shorter only at end of file. */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buf : buf.subarray(0, filled);
}

export async function fingerprintOf(
  fh: FileHandle,
  size: number,
  fingerprintBytes: number,
): Promise<{ fingerprint: string; fingerprintLen: number }> {
  const buf = await readAt(fh, 0, Math.min(size, fingerprintBytes));
  return { fingerprint: digest(buf, 0, buf.length), fingerprintLen: buf.length };
}

export async function markerAt(fh: FileHandle, offset: number): Promise<MarkedOffset> {
  const markerLen = Math.min(MARKER_BYTES, offset);
  const buf = await readAt(fh, offset - markerLen, markerLen);
  return { offset, marker: digest(buf, 0, buf.length), markerLen };
}

/**
 * Whether a checkpoint entry still describes this (open) file: the file is long enough, its first
 * bytes hash to the fingerprint, and the bytes before the saved offset hash to the marker.
 * Returns 'ok' or the reason it does not match (inode reused, truncated or rewritten while stopped).
 */
export async function verifyEntry(fh: FileHandle, size: number, entry: CheckpointEntry): Promise<string> {
  if (size < entry.offset) return 'file is shorter than the checkpoint offset (truncated)';
  if (size < entry.fingerprintLen) return 'file is shorter than its fingerprint (replaced)';
  const fp = await readAt(fh, 0, entry.fingerprintLen);
  if (digest(fp, 0, fp.length) !== entry.fingerprint)
    return 'first bytes differ (inode reused by another file)';
  if (entry.markerLen > entry.offset) return 'marker longer than offset (corrupt entry)';
  const m = await readAt(fh, entry.offset - entry.markerLen, entry.markerLen);
  if (m.length !== entry.markerLen || digest(m, 0, m.length) !== entry.marker)
    return 'bytes before the checkpoint offset differ (rewritten)';
  return 'ok';
}
