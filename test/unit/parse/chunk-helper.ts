import type { LineChunk } from '../../../src/model/line-chunk.ts';

/** A chunk as the tailer would make it: offsets from byte lengths + '\n', refs = 1 (processing hold). */
export function makeChunk(
  lines: string[],
  opts: { start?: number; readAt?: number; path?: string; fileId?: string; flags?: LineChunk['flags'] } = {},
): LineChunk {
  const offsets: number[] = [];
  let off = opts.start ?? 0;
  for (const l of lines) {
    offsets.push(off);
    off += Buffer.byteLength(l) + 1;
  }
  return {
    source: 'app',
    path: opts.path ?? '/var/log/app/app.log',
    fileId: opts.fileId ?? 'dev1:ino42:fp0',
    lines,
    offsets,
    flags: opts.flags,
    endOffset: off,
    bytes: off - (opts.start ?? 0),
    readAt: opts.readAt ?? Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    refs: 1,
  };
}
