import { isAscii, isUtf8 } from 'node:buffer';

const NL = 10;
/** Bytes decoded at a time (whole lines: a block ends at the first line end after this many). */
const BLOCK_BYTES = 32768;
const CR = 13;

const TRUNCATED: readonly string[] = Object.freeze(['truncated']);
const INVALID_UTF8: readonly string[] = Object.freeze(['invalid_utf8']);
const TRUNCATED_INVALID: readonly string[] = Object.freeze(['truncated', 'invalid_utf8']);

/** Lines framed from one read. Offsets are file offsets; `consumed` is a buffer index. */
export interface FramedLines {
  /** The decoded lines; empty when the framer makes no strings (`strings: false`). */
  lines: string[];
  offsets: number[];
  /** File offset just past each line's content (before its `\r\n` or `\n`, if any). */
  ends: number[];
  flags: (readonly string[] | undefined)[] | undefined;
  /** Buffer index just past the last byte that belongs to an emitted line (its `\n` included). */
  consumed: number;
  truncated: number;
  invalidUtf8: number;
}

/**
 * Cuts bytes into lines on `\n`, strips one trailing `\r`, decodes UTF-8 (invalid sequences become
 * U+FFFD and the line is flagged `invalid_utf8`). A line longer than `maxLineBytes` is split into
 * pieces of at most that many bytes (cut on a character boundary), every piece flagged `truncated`:
 * nothing is dropped and a long line never stalls the file. NUL bytes are ordinary bytes.
 *
 * One framer per open file: it remembers whether the next line continues a split one.
 *
 * Fast path: complete lines are decoded a block (~32 KiB of whole lines) at a time with ONE string
 * conversion, latin1 (a copy) when the block is ASCII and UTF-8 otherwise, and each line is a
 * substring of it. In a non-ASCII block, line ends are found in the string and in the buffer in
 * lockstep (a `\n` byte is always a `\n` character: UTF-8 never uses 0x0A inside a sequence), so
 * byte offsets stay exact. Only over-long lines and the rest of a split line take the byte path,
 * which decodes line by line.
 */
export class LineFramer {
  /** The next line is the rest of a line that was split (its pieces are flagged `truncated`). */
  continuing = false;
  readonly maxLineBytes: number;

  readonly #blockBytes: number;
  readonly #strings: boolean;
  /** Average bytes per line framed so far without strings (for sizing the arrays up front). */
  #lineBytes = 64;

  /**
   * `blockBytes`: decoding granularity (tests make it small to cross block ends often).
   * `strings: false`: lines are framed (offsets, ends, flags) but not decoded, for a reader that
   * takes them from the bytes (see `materializeLines` for one that then needs them after all).
   */
  constructor(maxLineBytes: number, blockBytes = BLOCK_BYTES, strings = true) {
    this.maxLineBytes = maxLineBytes;
    this.#blockBytes = blockBytes;
    this.#strings = strings;
  }

  /**
   * Frames `buf[from, end)`, whose byte `i` is at file offset `base + i`. Complete lines are
   * emitted; the unterminated rest is left unconsumed unless it exceeds `maxLineBytes` (a piece is
   * cut) or `final` is set (it is emitted as the last line).
   */
  frame(buf: Buffer, from: number, end: number, base: number, final: boolean): FramedLines {
    const out: FramedLines = {
      lines: [],
      offsets: [],
      ends: [],
      flags: undefined,
      consumed: from,
      truncated: 0,
      invalidUtf8: 0,
    };
    const view = end === buf.length ? buf : buf.subarray(0, end);
    const lastNl = from < end ? view.lastIndexOf(NL, end - 1) : -1;
    let pos = from;
    if (lastNl >= from) {
      const regionEnd = lastNl + 1;
      while (pos < regionEnd) {
        if (this.continuing) {
          // The rest of a split line goes through the byte path, which flags it.
          pos = this.#frameBytes(view, pos, view.indexOf(NL, pos) + 1, base, true, out);
          continue;
        }
        // Blocks of whole lines, so that one non-ASCII character costs only its block the slower
        // UTF-8 decoding and lockstep search.
        // Without strings the region goes in one block: blocks bound what one decode costs.
        let blockEnd = regionEnd;
        if (this.#strings && regionEnd - pos > this.#blockBytes)
          blockEnd = view.indexOf(NL, pos + this.#blockBytes - 1) + 1;
        const block = view.subarray(pos, blockEnd);
        if (!this.#strings) {
          pos += this.#frameRaw(view, pos, blockEnd, base, !isAscii(block) && !isUtf8(block), out);
        } else if (isAscii(block)) {
          pos += this.#frameText(view.toString('latin1', pos, blockEnd), view, pos, base, false, false, out);
        } else {
          const valid = isUtf8(block);
          pos += this.#frameText(view.toString('utf8', pos, blockEnd), view, pos, base, true, !valid, out);
        }
        // An over-long line stopped the block: the byte path splits it, then blocks go on.
        if (pos < blockEnd) pos = this.#frameBytes(view, pos, view.indexOf(NL, pos) + 1, base, true, out);
      }
    }
    // The unterminated rest: pieces of over-long lines, then (when final) the remainder.
    while (end - pos > this.maxLineBytes) {
      const cut = cutPoint(view, pos, this.maxLineBytes);
      this.#push(out, view, pos, pos + cut, base, TRUNCATED, true);
      pos += cut;
      this.continuing = true;
    }
    if (final && pos < end) {
      let contentEnd = end;
      if (view[end - 1] === CR) contentEnd--;
      this.#push(out, view, pos, contentEnd, base, this.continuing ? TRUNCATED : undefined, true);
      this.continuing = false;
      pos = end;
    }
    out.consumed = pos;
    if (out.flags !== undefined) {
      // Dense, so consumers may iterate it with map/forEach.
      const flags = out.flags;
      for (let k = 0; k < out.offsets.length; k++) if (flags[k] === undefined) flags[k] = undefined;
    }
    return out;
  }

  /**
   * `#frameText` without strings: `view[from, to)` ends in `\n`; returns the bytes consumed (all,
   * or up to the first line longer than `maxLineBytes`). `checkUtf8`: the region holds invalid
   * UTF-8, so each line is checked and flagged.
   */
  #frameRaw(
    view: Buffer,
    from: number,
    to: number,
    base: number,
    checkUtf8: boolean,
    out: FramedLines,
  ): number {
    const { offsets, ends } = out;
    const max = this.maxLineBytes;
    // Room for the lines expected (at the average length so far) in one allocation per array, then
    // the length set to what was written: growing them by push copied each about three times over
    // (a third of the line path's allocation).
    const first = offsets.length;
    const expected = first + Math.ceil((to - from) / this.#lineBytes) + 16;
    offsets.length = expected;
    ends.length = expected;
    let n = first;
    let b = from;
    while (b < to) {
      const nl = view.indexOf(NL, b);
      let e = nl;
      if (e > b && view[e - 1] === CR) e--;
      if (e - b > max) break;
      if (checkUtf8 && !isUtf8(view.subarray(b, e))) {
        out.invalidUtf8++;
        if (out.flags === undefined) out.flags = [];
        out.flags[n] = INVALID_UTF8;
      }
      offsets[n] = base + b;
      ends[n] = base + e;
      n++;
      b = nl + 1;
    }
    offsets.length = n;
    ends.length = n;
    if (n > first) this.#lineBytes = Math.max(8, (b - from) / (n - first));
    return b - from;
  }

  /**
   * `text` is `view[from, ...)` decoded, ending in `\n`. Returns how many bytes were consumed: all
   * of them, or up to the first line longer than `maxLineBytes` (left to the byte path).
   * `multiByte`: character and byte positions differ, so the buffer is searched alongside.
   * `checkUtf8`: the region holds invalid UTF-8; a line holding U+FFFD is checked and flagged.
   */
  #frameText(
    text: string,
    view: Buffer,
    from: number,
    base: number,
    multiByte: boolean,
    checkUtf8: boolean,
    out: FramedLines,
  ): number {
    const { lines, offsets } = out;
    const max = this.maxLineBytes;
    const len = text.length;
    let p = 0; // character index in text
    let b = from; // byte index in view
    while (p < len) {
      const nl = text.indexOf('\n', p);
      const nlByte = multiByte ? view.indexOf(NL, b) : b + (nl - p);
      let e = nl;
      let byteLen = nlByte - b;
      if (e > p && text.charCodeAt(e - 1) === CR) {
        e--;
        byteLen--;
      }
      // Rare: hand the rest (from this line on) to the byte path, which knows how to split.
      if (byteLen > max) break;
      const line = text.slice(p, e);
      if (checkUtf8 && line.indexOf('\ufffd') >= 0 && !isUtf8(view.subarray(b, b + byteLen))) {
        out.invalidUtf8++;
        if (out.flags === undefined) out.flags = [];
        out.flags[lines.length] = INVALID_UTF8;
      }
      lines.push(line);
      offsets.push(base + b);
      out.ends.push(base + b + byteLen);
      p = nl + 1;
      b = nlByte + 1;
    }
    return b - from;
  }

  #frameBytes(
    view: Buffer,
    pos: number,
    end: number,
    base: number,
    checkUtf8: boolean,
    out: FramedLines,
  ): number {
    const max = this.maxLineBytes;
    while (pos < end) {
      const nl = view.indexOf(NL, pos);
      let contentEnd = nl;
      if (contentEnd > pos && view[contentEnd - 1] === CR) contentEnd--;
      if (contentEnd - pos > max) {
        const cut = cutPoint(view, pos, max);
        this.#push(out, view, pos, pos + cut, base, TRUNCATED, checkUtf8);
        pos += cut;
        this.continuing = true;
        continue;
      }
      this.#push(out, view, pos, contentEnd, base, this.continuing ? TRUNCATED : undefined, checkUtf8);
      this.continuing = false;
      pos = nl + 1;
    }
    return pos;
  }

  #push(
    out: FramedLines,
    view: Buffer,
    start: number,
    end: number,
    base: number,
    flag: readonly string[] | undefined,
    checkUtf8: boolean,
  ): void {
    const i = out.offsets.length;
    if (this.#strings) out.lines.push(view.toString('utf8', start, end));
    out.offsets.push(base + start);
    out.ends.push(base + end);
    if (flag !== undefined) out.truncated++;
    if (checkUtf8 && !isUtf8(view.subarray(start, end))) {
      out.invalidUtf8++;
      flag = flag === undefined ? INVALID_UTF8 : TRUNCATED_INVALID;
    }
    if (flag !== undefined) {
      if (out.flags === undefined) out.flags = [];
      out.flags[i] = flag;
    }
  }
}

/** Length of a piece of at most `max` bytes starting at `pos`, not splitting a UTF-8 sequence when avoidable. */
function cutPoint(view: Buffer, pos: number, max: number): number {
  let cut = max;
  // Back off while the first byte after the cut is a continuation byte (10xxxxxx), at most 3 times.
  for (let k = 0; k < 3 && cut > 1 && (view[pos + cut] & 0xc0) === 0x80; k++) cut--;
  if ((view[pos + cut] & 0xc0) === 0x80) return max;
  return cut;
}
