/**
 * JSON text written as bytes: a line's UTF-8 bytes copied into a buffer as a JSON string, escaped
 * while copied, with the same output as `Buffer.from(JSON.stringify(line))` for valid UTF-8. This is
 * the one-line-per-record fast path's alternative to building the record as a string and encoding it
 * (see `LineValueWriter`): no string per line, no escaping pass of its own, no UTF-8 encoding.
 */

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

/**
 * Writes `src[start, end)` (valid UTF-8) at `dst[p]` as a JSON string with its quotes, escaped as
 * JSON.stringify escapes; returns the position after it.
 */
export function writeJsonString(
  dst: Uint8Array,
  p: number,
  src: Uint8Array,
  start: number,
  end: number,
): number {
  let delta = 0;
  dst[p++] = 0x22;
  for (let i = start; i < end; i++) {
    const c = src[i] as number;
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
