import { isAscii, isUtf8 } from 'node:buffer';

const NL = 10;
const CR = 13;

const TRUNCATED: readonly string[] = Object.freeze(['truncated']);
const INVALID_UTF8: readonly string[] = Object.freeze(['invalid_utf8']);
const TRUNCATED_INVALID: readonly string[] = Object.freeze(['truncated', 'invalid_utf8']);

/** Lines framed from one read. Offsets are file offsets; `consumed` is a buffer index. */
export interface FramedLines {
  lines: string[];
  offsets: number[];
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
 * Fast path: the complete lines of a read are decoded with ONE string conversion (latin1, a copy,
 * when the bytes are ASCII; UTF-8 otherwise) and each line is a substring of it. For non-ASCII
 * text, line ends are found in the string and in the buffer in lockstep (a `\n` byte is always a
 * `\n` character, since UTF-8 never uses 0x0A inside a sequence), so byte offsets stay exact. Only
 * over-long lines and the rest of a split line take the byte path, which decodes line by line.
 */
export class LineFramer {
  /** The next line is the rest of a line that was split (its pieces are flagged `truncated`). */
  continuing = false;
  readonly maxLineBytes: number;

  constructor(maxLineBytes: number) {
    this.maxLineBytes = maxLineBytes;
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
      if (this.continuing) {
        // The rest of a split line goes through the byte path, which flags it.
        const nl = view.indexOf(NL, pos);
        pos = this.#frameBytes(view, pos, nl + 1, base, true, out);
      }
      if (pos < regionEnd) {
        const region = view.subarray(pos, regionEnd);
        if (isAscii(region)) {
          pos += this.#frameText(view.toString('latin1', pos, regionEnd), view, pos, base, false, false, out);
        } else {
          const valid = isUtf8(region);
          pos += this.#frameText(view.toString('utf8', pos, regionEnd), view, pos, base, true, !valid, out);
        }
        if (pos < regionEnd) pos = this.#frameBytes(view, pos, regionEnd, base, true, out);
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
      for (let k = 0; k < out.lines.length; k++) if (flags[k] === undefined) flags[k] = undefined;
    }
    return out;
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
    // Character index of the next non-ASCII character: lines before it have as many bytes as characters.
    let wide = multiByte ? nextNonAscii(text, 0) : len;
    while (p < len) {
      const nl = text.indexOf('\n', p);
      let nlByte = b + (nl - p);
      if (wide < nl) {
        nlByte = view.indexOf(NL, b);
        wide = nextNonAscii(text, nl + 1);
      }
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
    const i = out.lines.length;
    out.lines.push(view.toString('utf8', start, end));
    out.offsets.push(base + start);
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

const NON_ASCII = /[\u0080-\uffff]/g;

/** Index of the first non-ASCII character at or after `from`, or `text.length`. */
function nextNonAscii(text: string, from: number): number {
  NON_ASCII.lastIndex = from;
  return NON_ASCII.test(text) ? NON_ASCII.lastIndex - 1 : text.length;
}

/** Length of a piece of at most `max` bytes starting at `pos`, not splitting a UTF-8 sequence when avoidable. */
function cutPoint(view: Buffer, pos: number, max: number): number {
  let cut = max;
  // Back off while the first byte after the cut is a continuation byte (10xxxxxx), at most 3 times.
  for (let k = 0; k < 3 && cut > 1 && (view[pos + cut] & 0xc0) === 0x80; k++) cut--;
  if ((view[pos + cut] & 0xc0) === 0x80) return max;
  return cut;
}
