/**
 * Parse + enrich + JSON-encode throughput on one core, for 300-byte lines.
 * Targets (issue 4): parser none >= 500k lines/s, json >= 250k lines/s. Prints figures; asserts nothing.
 *
 *   node bench/parse.ts [--lines 1000000] [--rounds 5]
 */
import { parseArgs } from 'node:util';
import { createEnricher } from '../src/enrich/enricher.ts';
import type { LineChunk } from '../src/model/line-chunk.ts';
import type { ParsedEvent } from '../src/model/record.ts';
import { createDecoder, type ParseSource } from '../src/parse/decoder.ts';

const { values } = parseArgs({
  options: { lines: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' } },
});
const TOTAL = Number(values.lines);
const ROUNDS = Number(values.rounds);
const CHUNK_LINES = 512;
const LINE_BYTES = 300;

function pad(s: string, to: number, filler: string): string {
  while (s.length < to) s += filler;
  return s.slice(0, to);
}

function plainLine(i: number): string {
  return pad(
    `2024-03-12 06:25:${String(i % 60).padStart(2, '0')},123 INFO [worker-${i % 8}] com.example.Service - processed request id=${i} user=u${i % 1000} took=${i % 97}ms `,
    LINE_BYTES,
    'lorem ipsum dolor sit amet ',
  );
}

function jsonLine(i: number): string {
  const head = `{"time":"2024-03-12T06:25:${String(i % 60).padStart(2, '0')}.123Z","level":"info","msg":"processed request","req_id":"${i}","user":{"id":${i % 1000},"name":"user${i % 1000}"},"took_ms":${i % 97},"path":"/api/v1/orders/${i}","note":"`;
  return `${pad(head, LINE_BYTES - 2, 'x')}"}`;
}

function makeChunks(make: (i: number) => string): LineChunk[] {
  const chunks: LineChunk[] = [];
  let off = 0;
  for (let c = 0; c < TOTAL / CHUNK_LINES; c++) {
    const lines: string[] = [];
    const offsets: number[] = [];
    const start = off;
    for (let j = 0; j < CHUNK_LINES; j++) {
      // Flat strings, as the tailer's UTF-8 decoding makes them (pad() builds ropes).
      const l = Buffer.from(make(c * CHUNK_LINES + j)).toString('utf8');
      lines.push(l);
      offsets.push(off);
      off += l.length + 1;
    }
    chunks.push({
      source: 'bench',
      path: '/var/log/bench/app.log',
      fileId: '64768:1234567:abcdef',
      lines,
      offsets,
      flags: undefined,
      endOffset: off,
      bytes: off - start,
      readAt: Date.now(),
      refs: 1,
    });
  }
  return chunks;
}

function run(name: string, source: ParseSource, make: (i: number) => string): void {
  const chunks = makeChunks(make);
  const lines = chunks.length * CHUNK_LINES;
  const enricher = createEnricher({ name: 'bench', service: 'bench' }, { default_topic: 'logs' });
  const rates: number[] = [];
  const cpuRates: number[] = [];
  let bytesOut = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const decoder = createDecoder(source);
    const fe = enricher.forFile('/var/log/bench/app.log', '64768:1234567:abcdef');
    const events: ParsedEvent[] = [];
    bytesOut = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const chunk of chunks) {
      chunk.refs = 1;
      events.length = 0;
      decoder.decode(chunk, events);
      for (let i = 0; i < events.length; i++) bytesOut += fe.toRecord(events[i]).value.length;
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    rates.push(lines / secs);
    cpuRates.push(lines / ((cpu.user + cpu.system) / 1e6));
  }
  rates.sort((a, b) => a - b);
  cpuRates.sort((a, b) => a - b);
  const best = rates[rates.length - 1];
  const median = rates[Math.floor(rates.length / 2)];
  const cpuMedian = cpuRates[Math.floor(cpuRates.length / 2)];
  console.log(
    `${name.padEnd(8)} ${lines} lines of ${LINE_BYTES} B: median ${Math.round(median).toLocaleString('en')} lines/s, ` +
      `best ${Math.round(best).toLocaleString('en')} lines/s, median ${Math.round(cpuMedian).toLocaleString('en')} lines per CPU-second, ` +
      `${(bytesOut / lines).toFixed(0)} B/record`,
  );
}

console.log(`parse + enrich + JSON-encode, one core, node ${process.version}, ${ROUNDS} rounds`);
run('none', { name: 'bench', parser: 'none' }, plainLine);
run('json', { name: 'bench', parser: 'json' }, jsonLine);
run('logfmt', { name: 'bench', parser: 'logfmt' }, (i) =>
  pad(
    `ts=2024-03-12T06:25:24Z level=info msg="processed request" req_id=${i} user=${i % 1000} took=${i % 97} note=`,
    LINE_BYTES,
    'x',
  ),
);
run(
  'nginx',
  { name: 'bench', parser: 'nginx' },
  (i) =>
    `${pad(
      `10.0.${i % 256}.${i % 200} - - [12/Mar/2024:06:25:24 +0000] "GET /api/v1/orders/${i} HTTP/1.1" 200 ${i % 5000} "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) `,
      LINE_BYTES - 1,
      'x',
    )}"`,
);
