/**
 * ParsedEvent -> OutRecord: adds where the event came from (host, service, file, Kubernetes), a
 * deterministic event id, static labels, and decides the record's topic and key.
 *
 * Record (ECS names, nested; optional parts only when present):
 *   {"@timestamp","message","host":{"name"},"service":{"name"},
 *    "log":{"file":{"path"},"offset","level"?,"flags"?},"event":{"id"},
 *    "kubernetes":{"namespace","pod":{"name","uid"?},"container":{"name"}}?,"container":{"id"}?,
 *    "labels":{static fields}?,"fields":{parsed fields}?,"schema_version":1}
 *
 * Parsed fields live under "fields" and static fields under "labels", so nothing a log line
 * contains can overwrite the agent's metadata. Everything known per file is encoded once, in
 * forFile(); a record only encodes the timestamp, message, offset and what the parser found.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { EnrichConfigError } from '../model/errors.ts';
import type { LineRoute, LineValueWriter, OutRecord, ParsedEvent } from '../model/record.ts';
import type { EnrichSettings, EnrichSource } from './enrich-config.ts';
import { expandEnv } from './env-expand.ts';
import {
  jsonStringUnitsDelta,
  lineRecordValueBytes,
  writeDecimal,
  writeJsonString,
  writeLineRecord,
} from './json-bytes.ts';
import { kubernetesFromPath } from './path-metadata.ts';
import {
  type BoundTemplate,
  bindTemplate,
  compileTemplate,
  type FileContext,
  fieldValue,
  renderTemplate,
  type TemplatePart,
} from './template.ts';

export interface EnricherStats {
  records: number;
  /** Records keyed by the host name because their key template had a missing field. */
  key_fallback: number;
  /** Records sent to the fallback topic (missing field, or nothing left after sanitising). */
  topic_fallback: number;
}

export interface FileEnricher {
  /** Builds the record; it takes over the event's reference on `event.chunk`. */
  toRecord(event: ParsedEvent, readAt?: number): OutRecord;
  /**
   * For the one-line-per-record fast path: the topic, key and value writer of every record of this
   * file whose event is a bare line (no parsed time, level, fields or flags), or undefined when
   * they depend on more than the line (a templated topic or key, a missing template field).
   * `stream`: the events of a CRI file's lines instead, whose only field is that stream.
   */
  lineRoute(stream?: 'stdout' | 'stderr'): LineRoute | undefined;
  /** Counts `n` records written through `lineRoute()` (toRecord counts its own). */
  countLineRecords(n: number): void;
  readonly context: Readonly<FileContext>;
}

export interface Enricher {
  /** Per-file metadata (path captures, Kubernetes, encoded envelope) is computed here, once. */
  forFile(path: string, fileId: string): FileEnricher;
  readonly hostName: string;
  readonly stats: EnricherStats;
}

const TOPIC_ILLEGAL = /[^a-zA-Z0-9._-]/g;

/** Kafka topic rules: [a-zA-Z0-9._-], at most 249 characters, not "." or "..". */
export function sanitizeTopic(name: string): string | undefined {
  let t = name.replace(TOPIC_ILLEGAL, '_');
  if (t.length > 249) t = t.slice(0, 249);
  if (t === '' || t === '.' || t === '..') return undefined;
  return t;
}

type KeySpec = { mode: 'none' } | { mode: 'template'; parts: TemplatePart[] };

function compileKey(spec: string, what: string): KeySpec {
  const s = spec.trim();
  if (s === 'none') return { mode: 'none' };
  if (s === '' || s === 'host') return { mode: 'template', parts: [{ kind: 'host' }] };
  if (s === 'service') return { mode: 'template', parts: [{ kind: 'service' }] };
  if (s.includes('{')) return { mode: 'template', parts: compileTemplate(s, what) };
  return { mode: 'template', parts: compileTemplate(`{${s}}`, what) };
}

function staticLabels(
  global: Record<string, string | number | boolean> | undefined,
  local: Record<string, string | number | boolean> | undefined,
  env: NodeJS.ProcessEnv,
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const src of [global, local]) {
    if (src === undefined) continue;
    for (const [k, v] of Object.entries(src)) out[k] = typeof v === 'string' ? expandEnv(v, env) : v;
  }
  return out;
}

export function createEnricher(
  source: EnrichSource,
  settings: EnrichSettings,
  env: NodeJS.ProcessEnv = process.env,
): Enricher {
  return new SourceEnricher(source, settings, env);
}

class SourceEnricher implements Enricher {
  readonly hostName: string;
  readonly stats: EnricherStats = { records: 0, key_fallback: 0, topic_fallback: 0 };
  readonly source: EnrichSource;
  readonly labels: Record<string, string | number | boolean>;
  readonly labelsJson: string;
  readonly servicePath: RegExp | undefined;
  readonly serviceField: readonly string[] | undefined;
  readonly key: KeySpec;
  readonly topic: TemplatePart[];
  readonly fallbackTopic: string;

  constructor(source: EnrichSource, settings: EnrichSettings, env: NodeJS.ProcessEnv) {
    this.source = source;
    this.hostName = settings.host_name || env['NODE_NAME'] || hostname();
    this.labels = staticLabels(settings.fields, source.fields, env);
    this.labelsJson = Object.keys(this.labels).length > 0 ? `,"labels":${JSON.stringify(this.labels)}` : '';
    const sp = source.service_from_path ?? '';
    try {
      this.servicePath = sp !== '' ? new RegExp(sp) : undefined;
    } catch (e) {
      throw new EnrichConfigError(
        `source ${source.name}: service_from_path is not a valid regular expression (${(e as Error).message}): fix the pattern`,
      );
    }
    const sf = source.service_field ?? '';
    this.serviceField = sf !== '' ? sf.split('.') : undefined;
    const keySpec = source.key || settings.key || 'host';
    this.key = compileKey(keySpec, `source ${source.name}: key`);
    const fallback = sanitizeTopic(expandEnv(settings.fallback_topic || 'logferry-unrouted', env));
    if (fallback === undefined) {
      throw new EnrichConfigError('enrich.fallback_topic is empty after sanitising: set a topic name');
    }
    this.fallbackTopic = fallback;
    this.topic = compileTemplate(
      source.topic || settings.default_topic || fallback,
      `source ${source.name}: topic`,
    );
  }

  forFile(path: string, fileId: string): FileEnricher {
    return new PathEnricher(this, path, fileId);
  }
}

const idHashes = new Map<string, string>();

/** A short stable digest of the file identity; event ids are `<digest>-<offset>`. */
function fileDigest(fileId: string): string {
  let d = idHashes.get(fileId);
  if (d === undefined) {
    d = createHash('sha256').update(fileId).digest('hex').slice(0, 16);
    if (idHashes.size > 100_000) idHashes.clear();
    idHashes.set(fileId, d);
  }
  return d;
}

// @timestamp without Date per record: the date part is cached per UTC day, the time of day is
// assembled from a table of two-digit strings.
const TWO = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));
const DAY_MS = 86400000;
let isoDay = Number.NaN;
let isoDate = '';

export function isoTime(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== isoDay) {
    isoDate = new Date(day * DAY_MS).toISOString().slice(0, -13); // "2024-03-12T" (or ±YYYYYY-...)
    isoDay = day;
  }
  let rem = Math.floor(ms - day * DAY_MS);
  const milli = rem % 1000;
  rem = (rem - milli) / 1000;
  const sec = rem % 60;
  rem = (rem - sec) / 60;
  const min = rem % 60;
  const hour = (rem - min) / 60;
  return `${isoDate}${TWO[hour]}:${TWO[min]}:${TWO[sec]}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

// A record's first characters depend only on its time: kept for the last time seen, which lines read
// together (same read time) or logged in the same millisecond share.
let headMs = Number.NaN;
let headText = '';

function recordHead(ms: number): string {
  if (ms !== headMs) {
    headText = `{"@timestamp":"${isoTime(ms)}","message":`;
    headMs = ms;
  }
  return headText;
}

// JSON.stringify copies a string character by character (~1.5 ns each on Node 24); a message with
// nothing to escape is quoted as it is. Surrogates go the slow way too: a lone one is escaped.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters JSON escapes
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** `JSON.stringify(s)` for a string. */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

const LEVEL_JSON = new Map<string, string>();

function levelJson(level: string): string {
  let j = LEVEL_JSON.get(level);
  if (j === undefined) {
    j = `,"level":${JSON.stringify(level)}`;
    if (LEVEL_JSON.size < 256) LEVEL_JSON.set(level, j);
  }
  return j;
}

const MAX_TIME = 8.64e15;

/** `recordHead`'s longest form (a six-digit year) in bytes, and the widest offset (2^53). */
const HEAD_MAX_BYTES = 48;
const OFFSET_MAX_BYTES = 16;

/** UTF-16 units minus UTF-8 bytes of a string (0 for ASCII). */
function unitsMinusBytes(s: string): number {
  return s.length - Buffer.byteLength(s);
}

/**
 * Writes a bare line's record as bytes: the same value as `PathEnricher.toRecord` makes for an event
 * with only a message and an offset, from pieces encoded once per file (the time's head once per
 * millisecond).
 */
class LineWriter implements LineValueWriter {
  readonly fixedBytes: number;
  lastUnits = 0;
  readonly #mid: Buffer;
  readonly #idHead: Buffer;
  readonly #tail: Buffer;
  /** UTF-16 units minus bytes of the constant pieces. */
  readonly #unitsDelta: number;
  #headMs = Number.NaN;
  #head: Buffer = Buffer.alloc(0);

  constructor(mid: string, idHead: string, tail: string) {
    this.#mid = Buffer.from(mid);
    this.#idHead = Buffer.from(idHead);
    this.#tail = Buffer.from(tail);
    this.#unitsDelta = unitsMinusBytes(mid) + unitsMinusBytes(idHead) + unitsMinusBytes(tail);
    this.fixedBytes =
      HEAD_MAX_BYTES + this.#mid.length + this.#idHead.length + this.#tail.length + 2 * OFFSET_MAX_BYTES;
  }

  write(
    dst: Buffer,
    pos: number,
    ts: number,
    raw: Uint8Array,
    start: number,
    end: number,
    offset: number,
  ): number {
    const head = this.#headAt(ts);
    dst.set(head, pos);
    let p = writeJsonString(dst, pos + head.length, raw, start, end);
    const delta = jsonStringUnitsDelta;
    dst.set(this.#mid, p);
    const digits = p + this.#mid.length;
    p = writeDecimal(dst, digits, offset);
    const n = p - digits;
    dst.set(this.#idHead, p);
    p += this.#idHead.length;
    // The event id ends with the offset again: its digits copied, not computed twice.
    for (let k = 0; k < n; k++) dst[p + k] = dst[digits + k] as number;
    p += n;
    dst.set(this.#tail, p);
    p += this.#tail.length;
    this.lastUnits = p - pos + delta + this.#unitsDelta;
    return p;
  }

  writeRecord(
    dst: Buffer,
    at: number,
    offsetDelta: number,
    key: Buffer | null,
    ts: number,
    raw: Uint8Array,
    start: number,
    end: number,
    offset: number,
  ): number {
    const head = this.#headAt(ts);
    const e = writeLineRecord(
      dst,
      at,
      offsetDelta,
      key,
      raw,
      start,
      end,
      offset,
      head,
      this.#mid,
      this.#idHead,
      this.#tail,
      this.fixedBytes,
    );
    if (e >= 0) this.lastUnits = lineRecordValueBytes + jsonStringUnitsDelta + this.#unitsDelta;
    return e;
  }

  /** The record's head for time `ts` (ASCII: the time and constant names), made once per millisecond. */
  #headAt(ts: number): Buffer {
    if (ts !== this.#headMs) {
      this.#head = Buffer.from(recordHead(ts), 'latin1');
      this.#headMs = ts;
    }
    return this.#head;
  }

  toString(ts: number, raw: Uint8Array, start: number, end: number, offset: number): string {
    const buf = Buffer.allocUnsafe(this.fixedBytes + 6 * (end - start) + 2);
    return buf.toString('utf8', 0, this.write(buf, 0, ts, raw, start, end, offset));
  }
}

class PathEnricher implements FileEnricher {
  readonly context: FileContext;
  private readonly owner: SourceEnricher;
  private readonly idPrefix: string;
  private readonly headHost: string;
  private readonly serviceJson: string;
  private readonly headPath: string;
  private readonly tail: string;
  /** tail + the record's closing member, for records without parsed fields. */
  private readonly tailEnd: string;
  /** headHost + serviceJson + headPath, for records whose service is the file's. */
  private readonly headMid: string;
  /** `}` closing "log", then the event id's prefix. */
  private readonly idHead: string;
  private readonly key: BoundTemplate | undefined;
  private readonly topic: BoundTemplate;
  private readonly serviceDynamic: boolean;
  private readonly topicCache = new Map<string, string | undefined>();

  constructor(owner: SourceEnricher, path: string, fileId: string) {
    this.owner = owner;
    const src = owner.source;
    const captures: Record<string, string | undefined> = {};
    if (owner.servicePath !== undefined) {
      const m = owner.servicePath.exec(path);
      if (m?.groups !== undefined) Object.assign(captures, m.groups);
    }
    const k8s = src.kubernetes === false ? undefined : kubernetesFromPath(path);
    const service = src.service || captures['service'] || k8s?.containerName || src.name;
    this.context = {
      host: owner.hostName,
      service,
      filePath: path,
      source: src.name,
      k8s: {
        namespace: k8s?.namespace,
        'pod.name': k8s?.podName,
        'pod.uid': k8s?.podUid,
        'container.name': k8s?.containerName,
      },
      containerId: k8s?.containerId,
      labels: owner.labels,
      captures,
    };
    this.serviceDynamic = !src.service && owner.serviceField !== undefined;
    this.idPrefix = `,"event":{"id":"${fileDigest(fileId)}-`;
    this.headHost = `,"host":{"name":${JSON.stringify(owner.hostName)}},"service":{"name":`;
    this.serviceJson = JSON.stringify(service);
    this.headPath = `},"log":{"file":{"path":${JSON.stringify(path)}},"offset":`;
    let tail = '"}';
    if (k8s !== undefined) {
      const pod = k8s.podUid !== undefined ? { name: k8s.podName, uid: k8s.podUid } : { name: k8s.podName };
      tail += `,"kubernetes":${JSON.stringify({ namespace: k8s.namespace, pod, container: { name: k8s.containerName } })}`;
      if (k8s.containerId !== undefined) tail += `,"container":{"id":${JSON.stringify(k8s.containerId)}}`;
    }
    this.tail = tail + owner.labelsJson;
    this.tailEnd = `${this.tail},"schema_version":1}`;
    this.headMid = this.headHost + this.serviceJson + this.headPath;
    this.idHead = `}${this.idPrefix}`;
    this.key =
      owner.key.mode === 'none'
        ? undefined
        : bindTemplate(owner.key.parts, this.context, this.serviceDynamic);
    const topic = bindTemplate(owner.topic, this.context, this.serviceDynamic);
    this.topic = topic.constant
      ? { constant: true, value: topic.value === undefined ? undefined : sanitizeTopic(topic.value) }
      : topic;
  }

  lineRoute(stream?: 'stdout' | 'stderr'): LineRoute | undefined {
    // The service may come from a field: with the stream as a field, that is per record.
    if (stream !== undefined && this.serviceDynamic) return undefined;
    const t = this.topic;
    if (!t.constant || t.value === undefined) return undefined;
    const k = this.key;
    let key: string | null = null;
    if (k !== undefined) {
      if (!k.constant || k.value === undefined) return undefined;
      key = k.value;
    }
    return {
      topic: t.value,
      key,
      keyBytes: key === null ? null : Buffer.from(key),
      writer: new LineWriter(
        this.headMid,
        this.idHead,
        stream === undefined ? this.tailEnd : this.tailWithFields(`{"stream":"${stream}"}`),
      ),
    };
  }

  /** The record's end after the event id, with parsed fields (already JSON). */
  private tailWithFields(fieldsJson: string): string {
    return `${this.tail},"fields":${fieldsJson},"schema_version":1}`;
  }

  countLineRecords(n: number): void {
    this.owner.stats.records += n;
  }

  toRecord(ev: ParsedEvent, readAt?: number): OutRecord {
    const owner = this.owner;
    owner.stats.records++;
    let ts = ev.timestamp;
    if (ts === undefined || !(ts > -MAX_TIME && ts < MAX_TIME)) ts = readAt ?? ev.chunk.readAt;
    let headMid = this.headMid;
    let service = this.context.service;
    if (this.serviceDynamic) {
      const v = fieldValue(ev.fields, owner.serviceField!);
      if (v !== undefined) {
        service = v;
        headMid = this.headHost + JSON.stringify(v) + this.headPath;
      }
    }
    let log = '';
    if (ev.level !== undefined) log += levelJson(ev.level);
    if (ev.flags !== undefined && ev.flags.length > 0) log += `,"flags":${JSON.stringify(ev.flags)}`;
    // Few pieces: constant parts are joined per file; the offset is converted once.
    const offset = String(ev.offset);
    const end =
      ev.fields === undefined
        ? this.tailEnd
        : this.tailWithFields(ev.fieldsJson ?? JSON.stringify(ev.fields));
    const value = `${recordHead(ts)}${jsonString(ev.message)}${headMid}${offset}${log}${this.idHead}${offset}${end}`;

    let key: string | null = null;
    const k = this.key;
    if (k !== undefined) {
      const v = k.constant ? k.value : renderTemplate(k.parts, ev, service);
      if (v === undefined) {
        owner.stats.key_fallback++;
        key = owner.hostName;
      } else key = v;
    }
    const t = this.topic;
    let topic: string | undefined;
    if (t.constant) topic = t.value;
    else {
      const raw = renderTemplate(t.parts, ev, service);
      if (raw !== undefined) {
        topic = this.topicCache.get(raw);
        if (topic === undefined && !this.topicCache.has(raw)) {
          topic = sanitizeTopic(raw);
          if (this.topicCache.size >= 1024) this.topicCache.clear();
          this.topicCache.set(raw, topic);
        }
      }
    }
    if (topic === undefined) {
      owner.stats.topic_fallback++;
      topic = owner.fallbackTopic;
    }
    return { topic, key, value, chunk: ev.chunk };
  }
}
