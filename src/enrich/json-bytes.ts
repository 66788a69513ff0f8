/**
 * JSON text written as bytes: a line's UTF-8 bytes copied into a buffer as a JSON string, escaped
 * while copied, with the same output as `Buffer.from(JSON.stringify(line))` for valid UTF-8. This is
 * the one-line-per-record fast path's alternative to building the record as a string and encoding it
 * (see `LineValueWriter`): no string per line, no escaping pass of its own, no UTF-8 encoding.
 */

import { byteArena } from '../model/byte-arena.ts';
import { JSON_ESCAPE_WASM } from './json-escape-wasm.ts';

/** Per byte: 0 copied as it is, 1 escaped, 2 the lead or continuation of a UTF-8 sequence. */
const CLASS = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) CLASS[c] = 1;
CLASS[0x22] = 1;
CLASS[0x5c] = 1;
for (let c = 0x80; c < 0x100; c++) CLASS[c] = 2;

const HEX = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);
/** The short escapes JSON.stringify uses: \b \t \n \f \r; 0: \u00XX. */
const SHORT = new Uint8Array(0x20);
SHORT[8] = 0x62;
SHORT[9] = 0x74;
SHORT[10] = 0x6e;
SHORT[12] = 0x66;
SHORT[13] = 0x72;

/** Worst-case bytes of `writeJsonString` for `n` source bytes (every byte a `\u00XX`, plus quotes). */
export function jsonStringMaxBytes(n: number): number {
  return 6 * n + 2;
}

/**
 * UTF-16 units minus bytes of the last `writeJsonString` output (0 or negative): a UTF-8 sequence
 * of 2-3 bytes is one unit, one of 4 bytes is two. Read right after the call.
 */
export let jsonStringUnitsDelta = 0;

interface WasmEscaper {
  escape(i: number, end: number, p: number): number;
  unitsDelta(i: number, end: number): number;
  record(
    p: number,
    delta: number,
    i: number,
    end: number,
    offset: number,
    pieces: number,
    guess: number,
  ): number;
}

/**
 * The WebAssembly escaper (json-escape.wat: 16 bytes at a time), used when the source and the
 * destination are both in the byte arena; undefined without an arena or without WebAssembly SIMD.
 * Its tables (each byte's escape sequence and length) are written into the arena here.
 */
function loadWasmEscaper(): WasmEscaper | undefined {
  if (byteArena === undefined) return undefined;
  try {
    const module = new WebAssembly.Module(Buffer.from(JSON_ESCAPE_WASM, 'base64'));
    const tab = byteArena.reserve(256 * 8 + 256);
    if (tab < 0) return undefined;
    const table = new Uint8Array(byteArena.buffer, tab, 256 * 8 + 256);
    for (let c = 0; c < 256; c++) {
      const seq =
        c < 0x20 || c === 0x22 || c === 0x5c ? JSON.stringify(String.fromCharCode(c)).slice(1, -1) : '';
      for (let k = 0; k < seq.length; k++) table[c * 8 + k] = seq.charCodeAt(k);
      table[256 * 8 + c] = seq.length;
    }
    const instance = new WebAssembly.Instance(module, {
      arena: { memory: byteArena.memory, tab: new WebAssembly.Global({ value: 'i32', mutable: false }, tab) },
    });
    return instance.exports as unknown as WasmEscaper;
  } catch {
    return undefined;
  }
}

const wasm = loadWasmEscaper();
/** Bytes the WebAssembly module may write past the end of what it returns (its 16-byte stores). */
const WASM_OVERRUN = 16;
/**
 * A record's framing around its key and value, at most: the length and value-length varints,
 * attributes, timestamp and offset deltas, the key's length, the header count.
 */
const RECORD_FRAMING = 24;
const arenaBuffer = wasm === undefined ? undefined : byteArena?.buffer;

/** Whether the WebAssembly escaper is in use for buffers of the byte arena (tests, benchmarks). */
export const wasmEscaperLoaded = wasm !== undefined;

// DataViews of the last source and destination: four bytes are checked and copied at a time; and
// their offsets in the byte arena (-1: not in it).
let srcArray: Uint8Array | undefined;
let srcView: DataView = new DataView(new ArrayBuffer(0));
let srcBase = -1;
let dstArray: Uint8Array | undefined;
let dstView: DataView = new DataView(new ArrayBuffer(0));
let dstBase = -1;

function viewOf(a: Uint8Array): DataView {
  return new DataView(a.buffer, a.byteOffset, a.byteLength);
}

function arenaOffset(a: Uint8Array): number {
  return a.buffer === arenaBuffer ? a.byteOffset : -1;
}

/** Points the views and arena offsets above at `src` and `dst`, when they changed. */
function useBuffers(src: Uint8Array, dst: Uint8Array): void {
  if (src !== srcArray) {
    srcArray = src;
    srcView = viewOf(src);
    srcBase = arenaOffset(src);
  }
  if (dst !== dstArray) {
    dstArray = dst;
    dstView = viewOf(dst);
    dstBase = arenaOffset(dst);
  }
}

/**
 * Writes `src[start, end)` (valid UTF-8) at `dst[p]` as a JSON string with its quotes, escaped as
 * JSON.stringify escapes; returns the position after it.
 *
 * When both buffers are in the byte arena, the WebAssembly escaper does it, 16 bytes at a time
 * (it may write up to 16 bytes past the returned position, so it is used only when `dst` has room
 * for the worst case and 16 more). Otherwise JavaScript: four bytes at a time while none of them
 * needs a look (SWAR: a byte below 0x20, a quote, a backslash or a high bit shows as a set 0x80 bit
 * in its lane), byte by byte otherwise: about twice as fast as a byte loop on log lines.
 */
export function writeJsonString(
  dst: Uint8Array,
  p: number,
  src: Uint8Array,
  start: number,
  end: number,
): number {
  useBuffers(src, dst);
  // Both in the arena, and room for the escaper's 16-byte stores past the end: in WebAssembly.
  if (srcBase >= 0 && dstBase >= 0 && dst.length - p >= jsonStringMaxBytes(end - start) + WASM_OVERRUN) {
    const w = wasm as WasmEscaper;
    const r = w.escape(srcBase + start, srcBase + end, dstBase + p);
    jsonStringUnitsDelta = r < 0 ? w.unitsDelta(srcBase + start, srcBase + end) : 0;
    return (r & 0x7fffffff) - dstBase;
  }
  const sv = srcView;
  const dv = dstView;
  let delta = 0;
  dst[p++] = 0x22;
  const end4 = end - 3;
  let i = start;
  while (i < end) {
    // Four bytes at a time until one needs a look. Then the clean bytes before it (the lowest
    // flagged lane is always a true one: a borrow only runs upwards) are written with the same
    // four-byte store, the position moved past them only; the bytes after are overwritten next.
    while (i < end4) {
      const x = sv.getUint32(i, true);
      const q = x ^ 0x22222222;
      const b = x ^ 0x5c5c5c5c;
      // Per lane: x - 0x20 borrows into bit 7 for a byte below 0x20, q - 1 (b - 1) for a zero lane,
      // that is a quote (backslash); `| x` keeps bit 7 of a byte of 0x80 or more.
      const look =
        (((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b) | x) & 0x80808080;
      dv.setUint32(p, x, true);
      if (look !== 0) {
        const clean = (31 - Math.clz32(look & -look)) >> 3;
        p += clean;
        i += clean;
        break;
      }
      p += 4;
      i += 4;
    }
    if (i >= end) break;
    const c = src[i++] as number;
    const k = CLASS[c];
    if (k === 0) {
      dst[p++] = c;
      continue;
    }
    if (k === 2) {
      // 10xxxxxx continues a sequence (no unit of its own); 11110xxx starts a 4-byte one (two).
      if ((c & 0xc0) === 0x80) delta--;
      else if (c >= 0xf0) delta++;
      dst[p++] = c;
      continue;
    }
    dst[p++] = 0x5c;
    if (c >= 0x20) dst[p++] = c;
    else if (SHORT[c] !== 0) dst[p++] = SHORT[c] as number;
    else {
      dst[p++] = 0x75;
      dst[p++] = 0x30;
      dst[p++] = 0x30;
      dst[p++] = HEX[c >> 4] as number;
      dst[p++] = HEX[c & 15] as number;
    }
  }
  dst[p++] = 0x22;
  jsonStringUnitsDelta = delta;
  return p;
}

// The pieces of the last `writeLineRecord` in the arena: twelve i32 (address and
// length of head, mid, id, tail and key (-1: null), then the value length `record` leaves), a slot
// for the head (it changes every millisecond), then mid, id, tail and key.
const PIECE_TABLE = 48;
const HEAD_SLOT = 64;
let piecesBuf: Buffer | undefined;
let piecesTable: Int32Array = new Int32Array(12);
let lastHead: Uint8Array | undefined;
let lastMid: Uint8Array | undefined;
let lastId: Uint8Array | undefined;
let lastTail: Uint8Array | undefined;
/** undefined: none placed yet. */
let lastKey: Uint8Array | null | undefined;

/** Places the pieces in the arena (when they changed); false when the arena has no room. */
function placePieces(
  head: Uint8Array,
  mid: Uint8Array,
  id: Uint8Array,
  tail: Uint8Array,
  key: Uint8Array | null,
): boolean {
  if (mid !== lastMid || id !== lastId || tail !== lastTail || key !== lastKey) {
    const keyLength = key === null ? 0 : key.length;
    // 16 bytes of room after the last piece: nothing reads past it, but a buffer's end is no place
    // to test that.
    const size = PIECE_TABLE + HEAD_SLOT + mid.length + id.length + tail.length + keyLength + 16;
    if (piecesBuf === undefined || piecesBuf.length < size) {
      if (piecesBuf !== undefined) byteArena?.free(piecesBuf);
      piecesBuf = undefined;
      lastMid = undefined;
      const buf = byteArena?.alloc(Math.max(size, 4096));
      if (buf === undefined || buf.buffer !== arenaBuffer) return false;
      piecesBuf = buf;
      piecesTable = new Int32Array(buf.buffer, buf.byteOffset, 12);
    }
    const base = piecesBuf.byteOffset;
    let at = PIECE_TABLE + HEAD_SLOT;
    piecesBuf.set(mid, at);
    piecesTable[2] = base + at;
    piecesTable[3] = mid.length;
    at += mid.length;
    piecesBuf.set(id, at);
    piecesTable[4] = base + at;
    piecesTable[5] = id.length;
    at += id.length;
    piecesBuf.set(tail, at);
    piecesTable[6] = base + at;
    piecesTable[7] = tail.length;
    at += tail.length;
    if (key !== null) piecesBuf.set(key, at);
    piecesTable[8] = base + at;
    piecesTable[9] = key === null ? -1 : key.length;
    lastMid = mid;
    lastId = id;
    lastTail = tail;
    lastKey = key;
    lastHead = undefined;
  }
  if (head !== lastHead) {
    const buf = piecesBuf as Buffer;
    if (head.length > HEAD_SLOT) return false;
    buf.set(head, PIECE_TABLE);
    piecesTable[0] = buf.byteOffset + PIECE_TABLE;
    piecesTable[1] = head.length;
    lastHead = head;
  }
  return true;
}

/** The value length the last `writeLineRecord` wrote (its UTF-8 bytes). */
export let lineRecordValueBytes = 0;

/**
 * Writes a bare line's whole Kafka record at `dst[p]` in WebAssembly, as RecordsEncoder.appendLine
 * writes it (length, attributes, timestamp delta 0, `offsetDelta`, `key` (null: none), the value
 * LineWriter writes: head, `src[start, end)` as a JSON string, `mid`, `offset` in decimal, `id`,
 * `offset` again, `tail`), no headers). Returns the position after it, with `lineRecordValueBytes`
 * and `jsonStringUnitsDelta` (for the line's bytes) set; or -1, having written nothing, when the
 * buffers are not both in the byte arena or `dst` lacks room for the worst case (`room`: the value's
 * bytes beside the line's, at their widest; plus the key, the framing and the module's overrun):
 * the caller then writes it.
 */
export function writeLineRecord(
  dst: Uint8Array,
  p: number,
  offsetDelta: number,
  key: Uint8Array | null,
  src: Uint8Array,
  start: number,
  end: number,
  offset: number,
  head: Uint8Array,
  mid: Uint8Array,
  id: Uint8Array,
  tail: Uint8Array,
  room: number,
): number {
  useBuffers(src, dst);
  const keyLength = key === null ? 0 : key.length;
  const lineMax = jsonStringMaxBytes(end - start);
  if (
    srcBase < 0 ||
    dstBase < 0 ||
    dst.length - p < room + lineMax + keyLength + RECORD_FRAMING + WASM_OVERRUN
  )
    return -1;
  if (!placePieces(head, mid, id, tail, key)) return -1;
  const w = wasm as WasmEscaper;
  const pieces = (piecesBuf as Buffer).byteOffset;
  // The value's length guessed from above (the varints are placed for it, moved when it was wrong).
  const guess = end - start + room;
  const r = w.record(dstBase + p, offsetDelta, srcBase + start, srcBase + end, offset, pieces, guess);
  jsonStringUnitsDelta = r < 0 ? w.unitsDelta(srcBase + start, srcBase + end) : 0;
  lineRecordValueBytes = piecesTable[10] as number;
  return (r & 0x7fffffff) - dstBase;
}

/** Bytes of a non-negative integer below 2^53 in decimal. */
export function decimalBytes(v: number): number {
  let n = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    n++;
  }
  return n;
}

/** Writes a non-negative integer below 2^53 in decimal at `dst[p]`; returns the position after it. */
export function writeDecimal(dst: Uint8Array, p: number, v: number): number {
  const end = p + decimalBytes(v);
  let q = end;
  do {
    const next = Math.floor(v / 10);
    dst[--q] = 48 + (v - next * 10);
    v = next;
  } while (v > 0);
  return end;
}
