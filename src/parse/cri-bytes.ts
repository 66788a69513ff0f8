/**
 * A CRI line (`<RFC 3339 time> <stdout|stderr> <P|F> <message>`) read from its bytes, for the
 * byte path (see LineValueWriter): the same reading as the decoder's `criLine`, for lines whose
 * prefix is ASCII. Anything else answers false, and the line takes the decode path.
 */
import { parseRfc3339 } from './timestamp.ts';

/** What the last `readCriLine` that answered true found. */
export const criLine = {
  /** ms since the epoch. */
  ts: 0,
  stderr: false,
  /** Tagged `P`: a piece of a longer line, which the decoder joins. */
  partial: false,
  /** Index of the message's first byte. */
  content: 0,
};

const SPACE = 0x20;

/** Reads the CRI prefix of `raw[start, end)` into `criLine`; false when the line is not one. */
export function readCriLine(raw: Buffer, start: number, end: number): boolean {
  let s1 = -1;
  for (let i = start; i < end; i++) {
    const c = raw[i] as number;
    if (c >= 0x80) return false;
    if (c === SPACE) {
      s1 = i;
      break;
    }
  }
  if (s1 <= start) return false;
  const ts = parseRfc3339(raw.toString('latin1', start, s1), 0, s1 - start);
  if (ts === undefined) return false;
  // "stdout" or "stderr", then a space and the tag.
  if (
    s1 + 8 > end ||
    raw[s1 + 1] !== 0x73 || // s
    raw[s1 + 2] !== 0x74 || // t
    raw[s1 + 3] !== 0x64 || // d
    raw[s1 + 7] !== SPACE
  )
    return false;
  const a = raw[s1 + 4];
  const b = raw[s1 + 5];
  const c = raw[s1 + 6];
  let stderr: boolean;
  if (a === 0x6f && b === 0x75 && c === 0x74)
    stderr = false; // out
  else if (a === 0x65 && b === 0x72 && c === 0x72)
    stderr = true; // err
  else return false;
  const s2 = s1 + 7;
  if (s2 + 1 >= end) return false;
  const tag = raw[s2 + 1] as number;
  if (tag >= 0x80) return false;
  let s3 = -1;
  for (let i = s2 + 1; i < end; i++) {
    if (raw[i] === SPACE) {
      s3 = i;
      break;
    }
  }
  // Without a third space the line must end right after the tag (an empty message).
  if (s3 < 0 && s2 + 2 !== end) return false;
  for (let i = s2 + 1; i < s3; i++) if ((raw[i] as number) >= 0x80) return false;
  criLine.ts = ts;
  criLine.stderr = stderr;
  criLine.partial = tag === 0x50;
  criLine.content = s3 < 0 ? end : s3 + 1;
  return true;
}
