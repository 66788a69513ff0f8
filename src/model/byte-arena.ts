/**
 * The byte arena: the long-lived byte buffers of the line path (the tailer's read buffers and the
 * record encoders' buffers) taken from one WebAssembly memory, so that the WebAssembly escaper
 * (enrich/json-bytes.ts) can read a line and write its record in place, with no copy in or out.
 *
 * The memory is reserved once and never grows (growing would detach every view of it); pages count
 * in RSS only once written. A buffer is taken with `alloc` and given back with `free`, which only
 * the owner that reuses it anyway calls (a read buffer back to the tailer's pool, an encoder whose
 * batch is compressed). When the arena is full, or WebAssembly memory cannot be had, `alloc`
 * returns an ordinary Buffer: the JavaScript escaper handles those, and nothing else changes.
 */

const PAGE = 65536;
/** Room after the last buffer: the escaper reads up to 15 bytes past a line's end. */
const TAIL_PAD = PAGE;
const ALIGN = 16;

export class ByteArena {
  readonly memory: WebAssembly.Memory;
  /** The memory's ArrayBuffer: a Buffer whose `.buffer` is this one is in the arena. */
  readonly buffer: ArrayBuffer;
  /** Free buffers by size (a multiple of ALIGN): their offsets. */
  readonly #free = new Map<number, number[]>();
  #top = 0;
  readonly #limit: number;
  /** Bytes handed out and not given back, for tests and metrics. */
  inUse = 0;

  constructor(bytes: number) {
    const pages = Math.ceil((bytes + TAIL_PAD) / PAGE);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    this.buffer = this.memory.buffer;
    this.#limit = pages * PAGE - TAIL_PAD;
  }

  /** Whether `a` is a view of the arena. */
  contains(a: Uint8Array): boolean {
    return a.buffer === this.buffer;
  }

  /** A buffer of `size` bytes (contents undefined): in the arena when there is room. */
  alloc(size: number): Buffer {
    const rounded = roundUp(size);
    const offset = this.#take(rounded);
    if (offset < 0) return Buffer.allocUnsafeSlow(size);
    this.inUse += rounded;
    return Buffer.from(this.buffer, offset, size);
  }

  /** Gives `buf` (as `alloc` returned it) back; an ordinary Buffer is left to the GC. */
  free(buf: Buffer): void {
    if (buf.buffer !== this.buffer) return;
    const rounded = roundUp(buf.length);
    let list = this.#free.get(rounded);
    if (list === undefined) {
      list = [];
      this.#free.set(rounded, list);
    }
    list.push(buf.byteOffset);
    this.inUse -= rounded;
  }

  /** Bytes set aside for good (e.g. a lookup table), or -1 when there is no room. */
  reserve(size: number): number {
    return this.#take(roundUp(size));
  }

  #take(rounded: number): number {
    const list = this.#free.get(rounded);
    if (list !== undefined && list.length > 0) return list.pop() as number;
    if (this.#top + rounded > this.#limit) return -1;
    const offset = this.#top;
    this.#top += rounded;
    return offset;
  }
}

function roundUp(size: number): number {
  return Math.max(ALIGN, Math.ceil(size / ALIGN) * ALIGN);
}

/**
 * 64 MiB: the default settings use at most about 20 (read buffers of 1 MiB, up to read_concurrency
 * of them, and encoders of up to 1 MiB for 512 KiB batches, up to 8 idle plus the open and
 * compressing ones); 4.9 MiB at the end of the 1 GB single-file benchmark.
 */
const ARENA_BYTES = 64 << 20;

function createArena(): ByteArena | undefined {
  try {
    return new ByteArena(ARENA_BYTES);
  } catch {
    // No WebAssembly memory (e.g. an address-space limit): ordinary Buffers, the JavaScript escaper.
    return undefined;
  }
}

/** The process's arena; undefined when WebAssembly memory could not be reserved. */
export const byteArena: ByteArena | undefined = createArena();

/** `byteArena.alloc(size)`, or an ordinary Buffer without an arena. */
export function allocBytes(size: number): Buffer {
  return byteArena === undefined ? Buffer.allocUnsafeSlow(size) : byteArena.alloc(size);
}

/** `byteArena.free(buf)` when there is an arena. */
export function freeBytes(buf: Buffer): void {
  byteArena?.free(buf);
}
