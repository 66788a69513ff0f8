/**
 * Per-file decoding: lines of LineChunks in, finished ParsedEvents out.
 *
 *   line ─▶ wrapper (cri | docker: unwrap, join partial lines per stream)
 *        ─▶ multiline (join continuation lines into one event)
 *        ─▶ content parsers (json, logfmt, regex, syslog, nginx, apache; a chain applies in order)
 *        ─▶ out[]
 *
 * Acknowledgement: an event owns one reference on the chunk of its first line, taken when the event
 * starts (a CRI partial line or the first line of a multiline event), so a held event keeps its
 * chunk, and so the file's checkpoint, from being acknowledged. A partial line whose reference turns
 * out to be redundant (it was appended to an older multiline event) gives it back through the
 * acknowledger passed to createDecoder.
 *
 * Everything that can be compiled (regexes, the parser chain) is compiled once per source into a
 * DecodePlan and shared by every file of that source.
 */
import { type ChunkAcknowledger, type LineChunk, releaseChunk } from '../model/line-chunk.ts';
import type { ParsedEvent } from '../model/record.ts';
import type { ParseSource } from './parse-config.ts';
import { compilePlan, type DecodePlan } from './plan.ts';
import { parseRfc3339 } from './timestamp.ts';

export type { ParseSource } from './parse-config.ts';

export interface Decoder {
  /**
   * Appends the events this chunk finishes; unfinished ones are held (with a reference on their
   * chunk). Lines `from` (included) to `to` (excluded) only, when given: the others took the byte
   * path.
   */
  decode(chunk: LineChunk, out: ParsedEvent[], from?: number, to?: number): void;
  /** Emits held events idle for longer than their timeout (multiline timeout_ms, partial_timeout_ms). */
  flushExpired(now: number, out: ParsedEvent[]): void;
  /** Emits every held event (shutdown, or the file is released). */
  flushAll(out: ParsedEvent[]): void;
  /** True while an event is held (its start chunk is not yet acknowledgeable). */
  readonly holding: boolean;
  /**
   * True when every line is one event whose message is the line, with nothing parsed (no wrapper,
   * multiline or parser): the pipeline may then skip `decode` for a chunk without flags and call
   * `countPassed` instead (the one-line-per-record fast path).
   */
  readonly passesLines: boolean;
  /**
   * True when every line is a CRI line and nothing else is parsed (wrapper cri, no multiline or
   * parser): a line read by `readCriLine` as final, while the decoder holds nothing, is one event
   * with that message, time and stream, and may skip `decode` (see `countPassed`).
   */
  readonly criLines: boolean;
  /** Counts `n` lines that went past `decode` as events of their own (see `passesLines`). */
  countPassed(n: number): void;
  readonly stats: DecoderStats;
}

/** Counters; pass one object to several decoders to count per source. */
export interface DecoderStats {
  lines: number;
  events: number;
  parse_failed: number;
  multiline_joined_lines: number;
  multiline_split: number;
  multiline_timeout: number;
  partial_joined: number;
  partial_timeout: number;
  partial_split: number;
}

export function newDecoderStats(): DecoderStats {
  return {
    lines: 0,
    events: 0,
    parse_failed: 0,
    multiline_joined_lines: 0,
    multiline_split: 0,
    multiline_timeout: 0,
    partial_joined: 0,
    partial_timeout: 0,
    partial_split: 0,
  };
}

export interface DecoderOptions {
  /** Receives chunks whose last reference the decoder drops (needed with cri/docker + multiline). */
  acknowledger?: ChunkAcknowledger;
  stats?: DecoderStats;
}

const planCache = new WeakMap<ParseSource, DecodePlan>();

/** Compiles (once per source object) and returns the plan; throws ParseConfigError on a bad setting. */
export function planFor(source: ParseSource): DecodePlan {
  let plan = planCache.get(source);
  if (plan === undefined) {
    plan = compilePlan(source);
    planCache.set(source, plan);
  }
  return plan;
}

/** Validates a source's parse settings without decoding anything (for check-config). */
export function validateParseSource(source: ParseSource): void {
  planFor(source);
}

export function createDecoder(source: ParseSource, options: DecoderOptions = {}): Decoder {
  return new FileDecoder(planFor(source), options.acknowledger, options.stats ?? newDecoderStats());
}

/** A CRI/docker line split into pieces by the runtime, being joined. */
interface Partial {
  chunk: LineChunk;
  offset: number;
  text: string;
  flags: string[] | undefined;
  timestamp: number | undefined;
  stream: string;
  lastAt: number;
}

function addFlag(ev: ParsedEvent, flag: string): void {
  if (ev.flags === undefined) ev.flags = [flag];
  else if (!ev.flags.includes(flag)) ev.flags.push(flag);
}

function mergeFlags(into: string[] | undefined, from: readonly string[] | undefined): string[] | undefined {
  if (from === undefined) return into;
  if (into === undefined) return from.slice();
  for (const f of from) if (!into.includes(f)) into.push(f);
  return into;
}

class FileDecoder implements Decoder {
  readonly stats: DecoderStats;
  private readonly plan: DecodePlan;
  private readonly acknowledger: ChunkAcknowledger | undefined;

  private partOut: Partial | undefined;
  private partErr: Partial | undefined;

  private held: ParsedEvent | undefined;
  private heldStream: string | undefined;
  private heldLines = 0;
  private heldBytes = 0;
  private heldAt = 0;

  constructor(plan: DecodePlan, acknowledger: ChunkAcknowledger | undefined, stats: DecoderStats) {
    this.plan = plan;
    this.acknowledger = acknowledger;
    this.stats = stats;
  }

  get passesLines(): boolean {
    const plan = this.plan;
    return plan.wrapper === 'none' && plan.multiline === undefined && plan.chain.length === 0;
  }

  get criLines(): boolean {
    const plan = this.plan;
    return plan.wrapper === 'cri' && plan.multiline === undefined && plan.chain.length === 0;
  }

  countPassed(n: number): void {
    this.stats.lines += n;
    this.stats.events += n;
  }

  get holding(): boolean {
    return this.held !== undefined || this.partOut !== undefined || this.partErr !== undefined;
  }

  decode(chunk: LineChunk, out: ParsedEvent[], from = 0, to = chunk.lines.length): void {
    const lines = chunk.lines;
    const offsets = chunk.offsets;
    const flags = chunk.flags;
    const n = to;
    this.stats.lines += n - from;
    const wrapper = this.plan.wrapper;
    if (wrapper === 'none' && this.plan.multiline === undefined) {
      // The common case, kept tight: one line, one event.
      for (let i = from; i < n; i++) {
        chunk.refs++;
        const lf = flags === undefined ? undefined : flags[i];
        this.finish(
          {
            chunk,
            message: lines[i],
            offset: offsets[i],
            timestamp: undefined,
            level: undefined,
            fields: undefined,
            fieldsJson: undefined,
            flags: lf === undefined ? undefined : lf.slice(),
          },
          undefined,
          out,
        );
      }
      return;
    }
    for (let i = from; i < n; i++) {
      const lf = flags === undefined ? undefined : flags[i];
      if (wrapper === 'cri') this.criLine(chunk, offsets[i], lines[i], lf, out);
      else if (wrapper === 'docker') this.dockerLine(chunk, offsets[i], lines[i], lf, out);
      else {
        const fl = lf === undefined ? undefined : lf.slice();
        this.unit(chunk, offsets[i], lines[i], fl, undefined, undefined, false, chunk.readAt, out);
      }
    }
  }

  flushExpired(now: number, out: ParsedEvent[]): void {
    const pt = this.plan.partialTimeoutMs;
    if (this.partOut !== undefined && now - this.partOut.lastAt >= pt)
      this.completePartial('stdout', true, out);
    if (this.partErr !== undefined && now - this.partErr.lastAt >= pt)
      this.completePartial('stderr', true, out);
    const ml = this.plan.multiline;
    if (this.held !== undefined && ml !== undefined && now - this.heldAt >= ml.timeoutMs) {
      this.stats.multiline_timeout++;
      this.finishHeld(out);
    }
  }

  flushAll(out: ParsedEvent[]): void {
    // Oldest partial first, so offsets come out in file order where they can.
    const a = this.partOut;
    const b = this.partErr;
    if (a !== undefined && b !== undefined && b.offset < a.offset) {
      this.completePartial('stderr', false, out);
      this.completePartial('stdout', false, out);
    } else {
      if (a !== undefined) this.completePartial('stdout', false, out);
      if (b !== undefined) this.completePartial('stderr', false, out);
    }
    if (this.held !== undefined) this.finishHeld(out);
  }

  // ── wrappers ─────────────────────────────────────────────────────────────────────────────

  /** `<RFC3339 time> <stdout|stderr> <P|F>[:tags] <content>` (the kubelet's CRI log format). */
  private criLine(
    chunk: LineChunk,
    offset: number,
    line: string,
    lf: readonly string[] | undefined,
    out: ParsedEvent[],
  ): void {
    const s1 = line.indexOf(' ');
    const s2 = s1 < 0 ? -1 : line.indexOf(' ', s1 + 1);
    const s3 = s2 < 0 ? -1 : line.indexOf(' ', s2 + 1);
    const ts = s1 > 0 ? parseRfc3339(line, 0, s1) : undefined;
    const stream = s2 > 0 ? line.slice(s1 + 1, s2) : '';
    if (
      ts === undefined ||
      (stream !== 'stdout' && stream !== 'stderr') ||
      (s3 < 0 && s2 + 2 !== line.length)
    ) {
      this.wrapperFailed(chunk, offset, line, lf, out);
      return;
    }
    const tag = line.charCodeAt(s2 + 1);
    const content = s3 < 0 ? '' : line.slice(s3 + 1);
    if (tag === 80 /* P */) this.partialPiece(chunk, offset, content, lf, ts, stream, out);
    else this.finalPiece(chunk, offset, content, lf, ts, stream, out);
  }

  /** Docker json-file: `{"log":"text\n","stream":"stdout","time":"..."}`; a log without `\n` is partial. */
  private dockerLine(
    chunk: LineChunk,
    offset: number,
    line: string,
    lf: readonly string[] | undefined,
    out: ParsedEvent[],
  ): void {
    let obj: unknown;
    try {
      obj = line.charCodeAt(0) === 123 ? JSON.parse(line) : undefined;
    } catch {
      obj = undefined;
    }
    if (obj === null || typeof obj !== 'object' || typeof (obj as { log?: unknown }).log !== 'string') {
      this.wrapperFailed(chunk, offset, line, lf, out);
      return;
    }
    const o = obj as { log: string; stream?: unknown; time?: unknown };
    const stream = o.stream === 'stderr' ? 'stderr' : 'stdout';
    const ts = typeof o.time === 'string' ? parseRfc3339(o.time, 0, o.time.length) : undefined;
    let text = o.log;
    if (text.length > 0 && text.charCodeAt(text.length - 1) === 10) {
      text = text.charCodeAt(text.length - 2) === 13 ? text.slice(0, -2) : text.slice(0, -1);
      this.finalPiece(chunk, offset, text, lf, ts, stream, out);
    } else {
      this.partialPiece(chunk, offset, text, lf, ts, stream, out);
    }
  }

  private wrapperFailed(
    chunk: LineChunk,
    offset: number,
    line: string,
    lf: readonly string[] | undefined,
    out: ParsedEvent[],
  ): void {
    this.stats.parse_failed++;
    const flags = mergeFlags(lf === undefined ? undefined : lf.slice(), ['parse_failed']);
    this.unit(chunk, offset, line, flags, undefined, undefined, false, chunk.readAt, out);
  }

  private partialPiece(
    chunk: LineChunk,
    offset: number,
    text: string,
    lf: readonly string[] | undefined,
    ts: number | undefined,
    stream: string,
    out: ParsedEvent[],
  ): void {
    const isErr = stream === 'stderr';
    const p = isErr ? this.partErr : this.partOut;
    if (p === undefined) {
      chunk.refs++;
      const np: Partial = {
        chunk,
        offset,
        text,
        flags: lf === undefined ? undefined : lf.slice(),
        timestamp: ts,
        stream,
        lastAt: chunk.readAt,
      };
      if (isErr) this.partErr = np;
      else this.partOut = np;
      if (text.length >= this.plan.partialMaxBytes) this.splitPartial(stream, out);
      return;
    }
    p.text += text;
    p.flags = mergeFlags(p.flags, lf);
    p.lastAt = chunk.readAt;
    this.stats.partial_joined++;
    if (p.text.length >= this.plan.partialMaxBytes) this.splitPartial(stream, out);
  }

  private splitPartial(stream: string, out: ParsedEvent[]): void {
    const p = stream === 'stderr' ? this.partErr! : this.partOut!;
    p.flags = mergeFlags(p.flags, ['partial_split']);
    this.stats.partial_split++;
    this.completePartial(stream, false, out);
  }

  private finalPiece(
    chunk: LineChunk,
    offset: number,
    text: string,
    lf: readonly string[] | undefined,
    ts: number | undefined,
    stream: string,
    out: ParsedEvent[],
  ): void {
    const p = stream === 'stderr' ? this.partErr : this.partOut;
    if (p === undefined) {
      this.unit(
        chunk,
        offset,
        text,
        lf === undefined ? undefined : lf.slice(),
        ts,
        stream,
        false,
        chunk.readAt,
        out,
      );
      return;
    }
    p.text += text;
    p.flags = mergeFlags(p.flags, lf);
    p.lastAt = chunk.readAt;
    this.stats.partial_joined++;
    this.completePartial(stream, false, out);
  }

  private completePartial(stream: string, timedOut: boolean, out: ParsedEvent[]): void {
    const p = stream === 'stderr' ? this.partErr! : this.partOut!;
    if (stream === 'stderr') this.partErr = undefined;
    else this.partOut = undefined;
    let flags = p.flags;
    if (timedOut) {
      this.stats.partial_timeout++;
      flags = mergeFlags(flags, ['partial_timeout']);
    }
    this.unit(p.chunk, p.offset, p.text, flags, p.timestamp, p.stream, true, p.lastAt, out);
  }

  // ── multiline ────────────────────────────────────────────────────────────────────────────

  /**
   * One logical line (after unwrapping). `owned` says whether it already holds a reference on
   * `chunk` (joined partials do); `flags` is a fresh array the callee may keep.
   */
  private unit(
    chunk: LineChunk,
    offset: number,
    text: string,
    flags: string[] | undefined,
    ts: number | undefined,
    stream: string | undefined,
    owned: boolean,
    at: number,
    out: ParsedEvent[],
  ): void {
    const ml = this.plan.multiline;
    if (ml === undefined) {
      if (!owned) chunk.refs++;
      this.finish(
        {
          chunk,
          message: text,
          offset,
          timestamp: ts,
          level: undefined,
          fields: undefined,
          fieldsJson: undefined,
          flags,
        },
        stream,
        out,
      );
      return;
    }
    const held = this.held;
    if (held !== undefined) {
      const starts =
        ml.start !== undefined ? ml.start.test(text) !== ml.negate : ml.cont!.test(text) === ml.negate;
      if (!starts) {
        if (this.heldLines >= ml.maxLines || this.heldBytes + text.length + 1 > ml.maxBytes) {
          addFlag(held, 'multiline_split');
          this.stats.multiline_split++;
          this.finishHeld(out);
        } else {
          held.message += `\n${text}`;
          held.flags = mergeFlags(held.flags, flags);
          this.heldLines++;
          this.heldBytes += text.length + 1;
          this.heldAt = at;
          this.stats.multiline_joined_lines++;
          if (owned) this.release(chunk);
          return;
        }
      } else {
        this.finishHeld(out);
      }
    }
    if (!owned) chunk.refs++;
    this.held = {
      chunk,
      message: text,
      offset,
      timestamp: ts,
      level: undefined,
      fields: undefined,
      fieldsJson: undefined,
      flags,
    };
    this.heldStream = stream;
    this.heldLines = 1;
    this.heldBytes = text.length;
    this.heldAt = at;
  }

  private finishHeld(out: ParsedEvent[]): void {
    const ev = this.held!;
    const stream = this.heldStream;
    this.held = undefined;
    this.heldStream = undefined;
    this.finish(ev, stream, out);
  }

  private release(chunk: LineChunk): void {
    if (this.acknowledger !== undefined) releaseChunk(chunk, this.acknowledger);
    // Without an acknowledger we may only drop a reference that is not the last one; keeping the
    // last one delays the checkpoint but never loses a line.
    else if (chunk.refs > 1) chunk.refs--;
  }

  // ── content parsers ──────────────────────────────────────────────────────────────────────

  private finish(ev: ParsedEvent, stream: string | undefined, out: ParsedEvent[]): void {
    const chain = this.plan.chain;
    for (let i = 0; i < chain.length; i++) {
      if (!chain[i].parse(ev)) {
        // A line the wrapper could not unwrap was counted already.
        if (ev.flags === undefined || !ev.flags.includes('parse_failed')) this.stats.parse_failed++;
        addFlag(ev, 'parse_failed');
        break;
      }
    }
    if (stream !== undefined) {
      if (ev.fields === undefined) ev.fields = { stream };
      else if (ev.fields['stream'] === undefined) {
        ev.fields['stream'] = stream;
        ev.fieldsJson = undefined;
      }
    }
    this.stats.events++;
    out.push(ev);
  }
}
