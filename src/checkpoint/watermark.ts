import type { LineChunk } from '../model/line-chunk.ts';

/** A position in a file together with the hash of the bytes just before it (see CheckpointStore). */
export interface MarkedOffset {
  offset: number;
  marker: string;
  markerLen: number;
}

/**
 * No reference to the chunk: entries the head has passed stay in `#queue` until it is compacted
 * (up to thousands of chunks at full speed), and a chunk holds its lines' text.
 */
interface Pending {
  readonly end: MarkedOffset;
  acked: boolean;
}

/**
 * The ordered, contiguous acknowledgement watermark of one file: chunks are registered in file
 * order as they are emitted, may be acknowledged in any order, and `committed` moves only to the
 * end of the longest acknowledged prefix. So a checkpoint taken from `committed` never passes a
 * line whose record was not yet delivered.
 */
export class FileWatermark {
  #queue: Pending[] = [];
  #head = 0;
  readonly #byChunk = new Map<LineChunk, Pending>();
  committed: MarkedOffset;

  constructor(start: MarkedOffset) {
    this.committed = start;
  }

  /** Chunks emitted and not yet covered by `committed`. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Registers an emitted chunk; must be called in file order. */
  add(chunk: LineChunk, end: MarkedOffset): void {
    const p: Pending = { end, acked: false };
    this.#queue.push(p);
    this.#byChunk.set(chunk, p);
  }

  /** Records an acknowledgement; returns true when `committed` moved. Unknown chunks return false. */
  ack(chunk: LineChunk): boolean {
    const p = this.#byChunk.get(chunk);
    if (p === undefined) return false;
    this.#byChunk.delete(chunk);
    p.acked = true;
    let moved = false;
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head].acked) {
      this.committed = q[this.#head].end;
      this.#head++;
      moved = true;
    }
    if (this.#head === q.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
    return moved;
  }
}
