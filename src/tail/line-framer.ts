import { isUtf8 } from 'node:buffer';

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
 * Fast path: a region that is valid ASCII is decoded with one string conversion and split on the
 * string, so the per-line cost is a substring; other text is decoded line by line.
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
      const valid = isUtf8(view.subarray(from, regionEnd));
      if (valid && !this.continuing) {
        const text = view.toString('utf8', from, regionEnd);
        if (text.length === regionEnd - from) {
          pos = this.#frameAscii(text, base + from, out) + from;
        }
      }
      if (pos < regionEnd) pos = this.#frameBytes(view, pos, regionEnd, base, !valid, out);
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

  /** ASCII text ending in `\n`: returns how many characters (= bytes) were consumed. */
  #frameAscii(text: string, baseOffset: number, out: FramedLines): number {
    const { lines, offsets } = out;
    const max = this.maxLineBytes;
    const len = text.length;
    let p = 0;
    while (p < len) {
      const nl = text.indexOf('\n', p);
      let e = nl;
      if (e > p && text.charCodeAt(e - 1) === CR) e--;
      if (e - p > max) {
        // Rare: hand the rest (from this line on) to the byte path, which knows how to split.
        return p;
      }
      lines.push(text.slice(p, e));
      offsets.push(baseOffset + p);
      p = nl + 1;
    }
    return p;
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

/** Length of a piece of at most `max` bytes starting at `pos`, not splitting a UTF-8 sequence when avoidable. */
function cutPoint(view: Buffer, pos: number, max: number): number {
  let cut = max;
  // Back off while the first byte after the cut is a continuation byte (10xxxxxx), at most 3 times.
  for (let k = 0; k < 3 && cut > 1 && (view[pos + cut] & 0xc0) === 0x80; k++) cut--;
  if ((view[pos + cut] & 0xc0) === 0x80) return max;
  return cut;
}
