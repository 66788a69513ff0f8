/**
 * Random input to every parser (seeded, bounded): decoding never throws, every line comes out
 * (one event per line, or joined into an event whose text still holds it), a failed parse keeps
 * the raw line, every record is valid JSON, and chunk references add up.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEnricher } from '../../../src/enrich/enricher.ts';
import type { LineChunk } from '../../../src/model/line-chunk.ts';
import type { ParsedEvent } from '../../../src/model/record.ts';
import { createDecoder, type ParseSource } from '../../../src/parse/decoder.ts';
import { PARSER_NAMES } from '../../../src/parse/parse-config.ts';
import { makeChunk } from './chunk-helper.ts';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PREFIXES = [
  '',
  '{',
  '{"msg":',
  '{"log":"x',
  '<34>',
  '<165>1 ',
  '<165>1 2003-10-11T22:14:15.003Z h a p m [',
  'Oct 11 22:14:15 ',
  '2024-01-02T03:04:05Z stdout P ',
  '2024-01-02T03:04:05Z stderr F ',
  'a=',
  'k="',
  '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "',
  '\tat ',
  'Caused by: ',
];

function randomLine(rnd: () => number): string {
  const len = Math.floor(rnd() * 120);
  const bytes = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    const r = rnd();
    // Mostly printable ASCII with structure characters, some control and high bytes.
    bytes[i] =
      r < 0.7
        ? 32 + Math.floor(rnd() * 95)
        : r < 0.85
          ? '"=[]{}:\\ <>-'.charCodeAt(Math.floor(rnd() * 12))
          : Math.floor(rnd() * 256);
    if (bytes[i] === 10) bytes[i] = 32; // the tailer frames on \n
  }
  return PREFIXES[Math.floor(rnd() * PREFIXES.length)] + bytes.toString('utf8');
}

const SOURCES: ParseSource[] = [
  ...PARSER_NAMES.map((p): ParseSource => ({ name: p, parser: p, regex: '^(?<level>\\w+) (?<message>.*)$' })),
  { name: 'cri+json', parser: ['cri', 'json'] },
  { name: 'docker+logfmt', parser: ['docker', 'logfmt'] },
  { name: 'syslog+json', parser: ['syslog', 'json'] },
  { name: 'none+java', parser: 'none', multiline: { preset: 'java', max_lines: 5 } },
  { name: 'cri+go', parser: 'cri', multiline: { preset: 'go' }, partial_max_bytes: 64 },
];

const ITERATIONS = 300;

describe('property: random lines through every parser', () => {
  for (const source of SOURCES) {
    it(`${source.name} never throws and never loses a line`, () => {
      const rnd = mulberry32(0xc0ffee ^ (source.name.length * 7919));
      const acked: LineChunk[] = [];
      const decoder = createDecoder(source, { acknowledger: { ack: (c) => acked.push(c) } });
      const fe = createEnricher(
        { name: source.name, key: '{fields.a}', topic: 'x-{level}' },
        { default_topic: 'l' },
        {},
      ).forFile('/var/log/x.log', 'id');
      const joins =
        source.multiline !== undefined ||
        source.parser === 'cri' ||
        (source.parser as string[])[0] === 'cri' ||
        (source.parser as string[])[0] === 'docker';
      let start = 0;
      const chunks: LineChunk[] = [];
      const all: string[] = [];
      const events: ParsedEvent[] = [];
      for (let it = 0; it < ITERATIONS; it++) {
        const lines = Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => randomLine(rnd));
        const chunk = makeChunk(lines, { start, readAt: 1_700_000_000_000 + it });
        start = chunk.endOffset;
        chunks.push(chunk);
        all.push(...lines);
        const before = events.length;
        decoder.decode(chunk, events);
        chunk.refs--; // the pipeline's processing hold
        if (!joins) assert.equal(events.length - before, lines.length);
        decoder.flushExpired(1_700_000_000_000 + it, events);
      }
      decoder.flushAll(events);
      assert.equal(decoder.holding, false);
      for (const ev of events) {
        if (!joins && ev.flags?.includes('parse_failed')) {
          const raw = all[ev.chunk.offsets.indexOf(ev.offset) + allIndexBase(chunks, ev.chunk)];
          // A single parser keeps the raw line; in a chain, a later parser that fails keeps what
          // the earlier one left as the message (e.g. syslog's MSG), which is part of the line.
          if (typeof source.parser === 'string') assert.equal(ev.message, raw);
          else assert.ok(raw.includes(ev.message));
        }
        const r = fe.toRecord(ev);
        const v = JSON.parse(r.value);
        assert.equal(v.log.offset, ev.offset);
        assert.ok(/^[a-zA-Z0-9._-]+$/.test(r.topic));
      }
      if (!joins) assert.equal(events.length, all.length);
      if (source.parser === 'none') {
        // Multiline with parser none: the joined texts are exactly the input, in order.
        assert.equal(events.map((e) => e.message).join('\n'), all.join('\n'));
      }
      // References: each chunk holds exactly one per event that starts in it.
      const perChunk = new Map<LineChunk, number>();
      for (const ev of events) perChunk.set(ev.chunk, (perChunk.get(ev.chunk) ?? 0) + 1);
      for (const c of chunks) assert.equal(c.refs, perChunk.get(c) ?? 0);
      for (const c of acked) assert.equal(perChunk.get(c) ?? 0, 0);
    });
  }
});

function allIndexBase(chunks: LineChunk[], chunk: LineChunk): number {
  let n = 0;
  for (const c of chunks) {
    if (c === chunk) return n;
    n += c.lines.length;
  }
  return -1;
}
