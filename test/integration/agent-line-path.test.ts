/**
 * The one-line-per-record fast path (records written as bytes from the read buffer, see
 * LineValueWriter) against the path through decode + toRecord: the real agent reads the same files
 * twice, once with a producer that takes encoded batches (the fast path is on) and once with one
 * that does not (it is off), and the records must be the same, byte for byte, with every charge on
 * the memory bound given back.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Agent } from '../../src/agent.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { LineChunk } from '../../src/model/line-chunk.ts';
import type { LineRoute } from '../../src/model/record.ts';
import { createLogger, silentLogger } from '../../src/observe/logger.ts';
import type { Batch, BatchBuilder, ProducerPort } from '../../src/sink/producer-port.ts';
import { EncoderPool, EncodingBuilder, PreparedBatch } from '../../src/sink/record-batch.ts';
import { waitFor } from '../support/agent-process.ts';

interface Sent {
  topic: string;
  key: string | null;
  value: string;
}

/** Collects what is sent; without `encoded` it has no batch builder, so the fast path is off. */
class CollectingPort implements ProducerPort {
  readonly sent: Sent[] = [];
  prepared = 0;
  linesAdded = 0;
  readonly #mixed = new Set<string>();
  readonly batchBuilder?: (topic: string, maxBytes: number) => BatchBuilder | undefined;

  constructor(encoded: boolean) {
    if (encoded) this.batchBuilder = (topic) => this.#builder(topic);
  }

  #builder(topic: string): BatchBuilder | undefined {
    if (this.#mixed.has(topic)) return undefined;
    const port = this;
    return new (class extends EncodingBuilder {
      override addLine(
        route: LineRoute,
        chunk: LineChunk,
        ts: number,
        raw: Uint8Array,
        start: number,
        end: number,
        offset: number,
      ): number {
        port.linesAdded++;
        return super.addLine(route, chunk, ts, raw, start, end, offset);
      }
    })(topic, new EncoderPool(256), (t) => this.#mixed.add(t));
  }

  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  /** The chunks of the prepared batches sent. */
  readonly chunks = new Set<LineChunk>();
  async send(batch: Batch): Promise<void> {
    if (batch instanceof PreparedBatch) {
      this.prepared++;
      for (const chunk of batch.runs.chunks) this.chunks.add(chunk);
    }
    for (const r of batch.records) this.sent.push({ topic: r.topic, key: r.key, value: r.value });
  }
}

const dirs: string[] = [];
const agents: Agent[] = [];
after(async () => {
  for (const a of agents) await a.stop(1000).catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Lines that exercise escaping, UTF-8 and varint widths; `i` varies them. */
function trickyLine(i: number): string {
  const pieces = [
    `plain line ${i}`,
    `quotes "q${i}" and \\ backslashes \\\\`,
    `tab\there, cr\rinside, ctrl \u0001\u001f and del \u007f`,
    `grüße ${i}, 日本語, 🙂🙃 and \u2028 line separator`,
    '',
    `${'"'.repeat(i % 90)}${'x'.repeat(i % 300)}`,
    `${'é'.repeat(i % 70)} ${'\\'.repeat(i % 50)}`,
    'long '.repeat(20 + (i % 4000)),
  ];
  return pieces[i % pieces.length] as string;
}

function writeFiles(dir: string): { files: string[]; lines: number } {
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  let text = '';
  let lines = 0;
  for (let i = 0; i < 4000; i++) {
    text += trickyLine(i) + (i % 13 === 0 ? '\r\n' : '\n');
    lines++;
  }
  // Slow-path chunks in between: invalid UTF-8 is flagged, an over-long line is cut and flagged.
  const tail = Buffer.concat([
    Buffer.from('before the invalid bytes\n'),
    Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x0a]),
    Buffer.from(`${'y'.repeat(70_000)}\n`),
    Buffer.from('after\nan unterminated line is not read from an active file'),
  ]);
  const a = join(logDir, 'alpha.log');
  const b = join(logDir, 'beta.log');
  const c = join(logDir, 'gamma.log');
  writeFileSync(a, Buffer.concat([Buffer.from(text), tail]));
  writeFileSync(b, `${text.split('\n').slice(0, 500).join('\n')}\n`);
  writeFileSync(c, Buffer.concat([Buffer.from(text), tail]));
  return { files: [a, b, c], lines };
}

function config(dir: string, run: string, files: string[]): string {
  const p = join(dir, `${run}.yaml`);
  writeFileSync(
    p,
    [
      `data_dir: ${join(dir, `data-${run}`)}`,
      'sources:',
      // Two keys in one topic: the fast path's batches turn into lists when they mix.
      `  - { name: alpha, include: ["${files[0]}"], service: alpha, key: service, max_line_bytes: 65536 }`,
      `  - { name: beta, include: ["${files[1]}"], service: beta, key: service }`,
      // A topic of its own, keyed by host: prepared batches throughout.
      `  - { name: gamma, include: ["${files[2]}"], topic: solo, max_line_bytes: 65536 }`,
      'tail:',
      '  scan_interval_ms: 100',
      '  partial_flush_ms: 200',
      '  read_buffer_bytes: 8192',
      'batch:',
      '  linger_ms: 10',
      '  max_records: 300',
      'sink:',
      '  kafka:',
      '    brokers: ["127.0.0.1:1"]',
      '    topic: logs',
      'metrics:',
      '  enabled: false',
    ].join('\n'),
  );
  return p;
}

async function run(
  dir: string,
  files: string[],
  encoded: boolean,
  expected: number,
  makeConfig: (dir: string, run: string, files: string[]) => string = config,
): Promise<CollectingPort> {
  const port = new CollectingPort(encoded);
  const agent = new Agent(loadConfig(makeConfig(dir, encoded ? 'fast' : 'slow', files), {}), {
    log: process.env.DEBUG_AGENT ? createLogger('debug' as never) : silentLogger(),
    producer: port,
  });
  agents.push(agent);
  await agent.start();
  await waitFor(() => port.sent.length >= expected, 20_000, `${expected} records`).catch((e: Error) => {
    const counts = [...byStream(port.sent)].map(([id, v]) => `${id}: ${v.length}`);
    throw new Error(`${e.message}; got ${counts.join(', ')}`);
  });
  await waitFor(() => (agent.metrics.status().buffer?.bytes ?? -1) === 0, 5_000, 'memory bound back to 0');
  await agent.stop(1000);
  return port;
}

/** Per topic and key (the order within one file), values with the read time taken out. */
function byStream(sent: readonly Sent[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of sent) {
    const id = `${s.topic} ${s.key}`;
    const list = out.get(id) ?? [];
    out.set(id, list);
    list.push(s.value.replace(/^\{"@timestamp":"[^"]+"/, '{"@timestamp":"T"'));
  }
  return out;
}

test('records written as bytes on the fast path equal the decode + toRecord ones, byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logferry-line-path-'));
  dirs.push(dir);
  const { files, lines } = writeFiles(dir);
  // alpha and gamma: the tricky lines, 2 for the invalid bytes, 2 pieces of the long line, 'after'.
  const alpha = lines + 2 + 2 + 1;
  const expected = 2 * alpha + 500;

  const fast = await run(dir, files, true, expected);
  const slow = await run(dir, files, false, expected);
  // gamma's lines at least; the "logs" topic mixes two keys, so its batches soon become lists
  // (the Batcher then makes each record's string with the writer).
  assert.ok(fast.linesAdded >= lines, `fast path taken into encoded batches (${fast.linesAdded} lines)`);
  assert.ok(fast.prepared > 0, 'prepared batches sent');
  // A chunk lives until its records are delivered; past write it keeps only its first offset.
  let fat = 0;
  for (const chunk of fast.chunks)
    if (chunk.flags === undefined && (chunk.offsets.length > 1 || (chunk.ends?.length ?? 0) > 0)) fat++;
  assert.ok(fast.chunks.size > 0);
  assert.equal(fat, 0, 'byte-path chunks keep no per-line arrays once written');
  assert.equal(slow.linesAdded, 0);
  assert.equal(fast.sent.length, expected);
  assert.equal(slow.sent.length, expected);

  const a = byStream(fast.sent);
  const b = byStream(slow.sent);
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  assert.equal(a.size, 3, `three streams: ${[...a.keys()].join(', ')}`);
  for (const [id, values] of b) {
    const got = a.get(id) ?? [];
    assert.equal(got.length, values.length, `${id}: count`);
    for (let i = 0; i < values.length; i++) assert.equal(got[i], values[i], `${id}: record ${i}`);
  }
  // The flagged lines went the slow way in both runs, and say so.
  const flagged = (a.get('logs alpha') ?? []).filter((v) => v.includes('"flags"'));
  assert.equal(flagged.length, 3, 'invalid_utf8 once, truncated twice');
  for (const v of a.get('logs alpha') ?? []) JSON.parse(v);
});

/** CRI lines: final and partial pieces on both streams, and lines the byte reader must leave alone. */
function criText(n: number): { text: string; events: number } {
  let text = '';
  let events = 0;
  for (let i = 0; i < n; i++) {
    const ts = `2026-11-26T10:${String(i % 60).padStart(2, '0')}:0${i % 10}.${String(i).padStart(9, '0')}Z`;
    const stream = i % 5 === 0 ? 'stderr' : 'stdout';
    switch (i % 11) {
      case 3: // a line in two pieces
        text += `${ts} ${stream} P first half "${i}" \\ \n${ts} ${stream} F second half ü\n`;
        break;
      case 5: // not CRI: flagged by the decoder
        text += `not a cri line ${i}\n`;
        break;
      case 6: // an empty message, and a zone offset
        text += `2026-11-26T10:00:00.5+02:00 ${stream} F\n`;
        break;
      case 7: // a tag other than P or F is final; non-ASCII right after it
        text += `${ts} ${stream} Fé message ${i}\n`;
        break;
      case 8: // streams that are neither
        text += i % 2 === 0 ? `${ts} stdin F ${i}\n` : `${ts} stdbad F ${i}\n`;
        break;
      case 9: // a piece at the very end of a line, then its end on the other stream first
        text += `${ts} stdout P end piece ${i}\n${ts} stderr F between\n${ts} stdout F tail\n`;
        break;
      default:
        text += `${ts} ${stream} F ${trickyLine(i)}\n`;
    }
    events += i % 11 === 9 ? 2 : 1;
  }
  return { text, events };
}

function criConfig(dir: string, run: string, files: string[]): string {
  const p = join(dir, `${run}.yaml`);
  writeFileSync(
    p,
    [
      `data_dir: ${join(dir, `data-${run}`)}`,
      'sources:',
      `  - { name: pods, include: ["${files[0]}"], parser: cri }`,
      'tail:',
      '  scan_interval_ms: 100',
      '  read_buffer_bytes: 4096',
      'batch:',
      '  linger_ms: 10',
      '  max_records: 200',
      'sink:',
      '  kafka:',
      '    brokers: ["127.0.0.1:1"]',
      '    topic: pods',
      'metrics:',
      '  enabled: false',
    ].join('\n'),
  );
  return p;
}

test('CRI lines on the byte path equal the decoded ones, pieces, unreadable lines and all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logferry-line-path-cri-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'logs'));
  const file = join(dir, 'logs', 'pod.log');
  const { text, events } = criText(3000);
  writeFileSync(file, text);

  const fast = await run(dir, [file], true, events, criConfig);
  const slow = await run(dir, [file], false, events, criConfig);
  assert.ok(fast.linesAdded > events / 2, `byte path taken (${fast.linesAdded} of ${events})`);
  assert.equal(slow.linesAdded, 0);
  assert.equal(fast.sent.length, events);
  assert.equal(slow.sent.length, events);
  // The times come from the lines, so records are compared whole; a line the decoder could not
  // read gets the read time, which differs between the runs.
  const readTime = (v: string) =>
    v.includes('"parse_failed"') ? v.replace(/^\{"@timestamp":"[^"]+"/, '{"@timestamp":"T"') : v;
  for (let i = 0; i < events; i++) {
    const a = fast.sent[i] as Sent;
    const b = slow.sent[i] as Sent;
    assert.deepEqual([a.topic, a.key], [b.topic, b.key]);
    assert.equal(readTime(a.value), readTime(b.value), `record ${i}`);
  }
  const parsed = fast.sent.map((s) => JSON.parse(s.value));
  assert.ok(parsed.some((v) => v.fields?.stream === 'stderr'));
  assert.ok(
    parsed.some((v) => v.message === 'first half "3" \\ second half ü'),
    'pieces joined',
  );
  assert.ok(
    parsed.some((v) => (v.log.flags ?? []).includes('parse_failed')),
    'unreadable lines flagged',
  );
  assert.ok(
    parsed.some((v) => v['@timestamp'] === '2026-11-26T08:00:00.500Z'),
    'zone offset applied',
  );
});
