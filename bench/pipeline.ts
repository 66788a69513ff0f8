/**
 * The whole per-line path without Kafka: file → Tailer → Decoder → Enricher → Batcher → Sender →
 * a null ProducerPort that acknowledges every batch at once. The real Agent is wired, so chunk
 * references, the memory bound and checkpoints all run as in production. Prints figures; asserts
 * nothing.
 *
 *   node bench/pipeline.ts [--mb 500] [--scenarios none,json,nginx] [--encode] [--non-ascii 1000]
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/pipeline.ts --scenarios json
 *
 * Corpus: 300-byte lines, written once per size to $TMPDIR/logferry-bench-corpus-<mb>/ and reused:
 *   web.log  nginx combined access lines (half the bytes)
 *   app.log  JSON application lines (the other half); one in `--non-ascii` has a non-ASCII name
 * Scenarios:
 *   none   both files, parser none (the headline: ship lines as they are)
 *   json   app.log, parser json
 *   nginx  web.log, parser nginx
 * `--encode` makes the null producer copy each record's key and value into one reused Buffer, as
 * a Kafka client must, to show what that costs on top.
 *
 * Issue 9's target is ≤ 10 CPU-seconds per GiB of raw log (≥ 100 MiB/s per core), end to end.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent } from '../src/agent.ts';
import { validateConfig } from '../src/config/load.ts';
import { silentLogger } from '../src/observe/logger.ts';
import type { Batch, ProducerPort } from '../src/sink/producer-port.ts';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '500' },
    scenarios: { type: 'string', default: 'none,json' },
    encode: { type: 'boolean', default: false },
    'non-ascii': { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '1' },
  },
});
const totalMb = Number(values.mb);
const nonAsciiEvery = Number(values['non-ascii']);
const rounds = Number(values.rounds);
const LINE = 300;
const MiB = 1 << 20;
const GiB = 1 << 30;

// ── corpus ───────────────────────────────────────────────────────────────────────────────────

const PATHS = ['/api/v1/orders/', '/api/v1/items/', '/static/js/app.', '/checkout/cart/', '/search?q='];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'curl/8.5.0',
];
const LEVELS = ['info', 'info', 'info', 'info', 'debug', 'warn', 'error'];
const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin'];

function pad(s: string, to: number, filler: string): string {
  while (s.length < to) s += filler;
  return s.slice(0, to);
}

function nginxLine(i: number): string {
  const t = `${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:${String((i >> 3) % 60).padStart(2, '0')}`;
  const head =
    `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} - - [12/Mar/2024:${t} +0000] ` +
    `"GET ${PATHS[i % PATHS.length]}${i % 100003} HTTP/1.1" ${i % 50 === 0 ? 404 : 200} ${(i * 7919) % 50000} ` +
    `"https://shop.example.com/" "${AGENTS[i % AGENTS.length]}" rt=0.${String(i % 1000).padStart(3, '0')} `;
  return pad(head, LINE, 'x');
}

function jsonLine(i: number): string {
  const name = nonAsciiEvery > 0 && i % nonAsciiEvery === 0 ? 'zoë-müller' : NAMES[i % NAMES.length];
  const head =
    `{"time":"2024-03-12T06:25:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z",` +
    `"level":"${LEVELS[i % LEVELS.length]}","msg":"processed request ${i % 17}","req_id":"r-${i}",` +
    `"user":{"id":${i % 1000},"name":"${name}"},"took_ms":${i % 97},"path":"${PATHS[i % PATHS.length]}${i}","note":"`;
  // Pad to LINE bytes (not characters), then close the string and the object.
  const bytes = Buffer.byteLength(head);
  return `${head}${'x'.repeat(Math.max(0, LINE - 2 - bytes))}"}`;
}

function writeCorpus(file: string, bytes: number, make: (i: number) => string): void {
  if (existsSync(file) && statSync(file).size >= bytes) return;
  const parts: string[] = [];
  let size = 0;
  let part = 0;
  const blocks: Buffer[] = [];
  for (let i = 0; size < bytes; i++) {
    const l = make(i);
    parts.push(l);
    part += Buffer.byteLength(l) + 1;
    if (part >= 4 * MiB) {
      blocks.push(Buffer.from(`${parts.join('\n')}\n`));
      size += part;
      parts.length = 0;
      part = 0;
    }
  }
  if (parts.length > 0) blocks.push(Buffer.from(`${parts.join('\n')}\n`));
  writeFileSync(file, Buffer.concat(blocks));
}

const corpusDir = join(tmpdir(), `logferry-bench-corpus-${totalMb}-${nonAsciiEvery}`);
mkdirSync(corpusDir, { recursive: true });
const webLog = join(corpusDir, 'web', 'web.log');
const appLog = join(corpusDir, 'app', 'app.log');
mkdirSync(join(corpusDir, 'web'), { recursive: true });
mkdirSync(join(corpusDir, 'app'), { recursive: true });
writeCorpus(webLog, (totalMb * 1e6) / 2, nginxLine);
writeCorpus(appLog, (totalMb * 1e6) / 2, jsonLine);
// Warm the page cache: the figure is about CPU, not the disk.
for (const f of [webLog, appLog]) {
  const fh = await open(f, 'r');
  const b = Buffer.allocUnsafe(8 * MiB);
  let pos = 0;
  for (;;) {
    const { bytesRead } = await fh.read(b, 0, b.length, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
  }
  await fh.close();
}

// ── null producer ────────────────────────────────────────────────────────────────────────────

class NullProducer implements ProducerPort {
  records = 0;
  onBatch: () => void = () => {};
  readonly #encode: boolean;
  #buf = Buffer.allocUnsafe(2 * MiB);

  constructor(encode: boolean) {
    this.#encode = encode;
  }

  async connect(): Promise<void> {}

  send(batch: Batch): Promise<void> {
    const { records } = batch;
    if (this.#encode) {
      let at = 0;
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        const need = (r.value.length + (r.key?.length ?? 0)) * 3 + at;
        if (need > this.#buf.length) this.#buf = Buffer.allocUnsafe(need * 2);
        if (r.key !== null) at += this.#buf.write(r.key, at);
        at += this.#buf.write(r.value, at);
      }
    }
    this.records += records.length;
    this.onBatch();
    return Promise.resolve();
  }

  async disconnect(): Promise<void> {}
}

// ── scenarios ────────────────────────────────────────────────────────────────────────────────

interface Scenario {
  name: string;
  sources: { name: string; include: string[]; parser: string }[];
}

const SCENARIOS: Record<string, Scenario> = {
  none: {
    name: 'none',
    sources: [
      { name: 'web', include: [webLog], parser: 'none' },
      { name: 'app', include: [appLog], parser: 'none' },
    ],
  },
  json: { name: 'json', sources: [{ name: 'app', include: [appLog], parser: 'json' }] },
  nginx: { name: 'nginx', sources: [{ name: 'web', include: [webLog], parser: 'nginx' }] },
};

function countLines(file: string): number {
  return Math.round(statSync(file).size / (LINE + 1));
}

async function run(s: Scenario): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'logferry-bench-pipeline-'));
  const bytes = s.sources.reduce((n, src) => n + statSync(src.include[0]).size, 0);
  // Lines are LINE bytes + '\n' except the few non-ASCII ones (padded to bytes, so the same).
  const expected = s.sources.reduce((n, src) => n + countLines(src.include[0]), 0);
  const config = validateConfig({
    data_dir: dataDir,
    sources: s.sources.map((src) => ({ ...src, service: src.name })),
    metrics: { enabled: false },
    sink: { kafka: { brokers: ['127.0.0.1:9'], topic: 'logs' } },
  });
  const producer = new NullProducer(values.encode === true);
  const agent = new Agent(config, { log: silentLogger(), producer });
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  producer.onBatch = () => {
    if (producer.records >= expected) done();
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await agent.start();
  await finished;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const u = process.cpuUsage(cpu0);
  const cpu = (u.user + u.system) / 1e6;
  await agent.stop(5000);
  rmSync(dataDir, { recursive: true, force: true });
  const lines = producer.records;
  console.log(
    `${s.name.padEnd(6)} ${(bytes / 1e6).toFixed(0)} MB, ${lines.toLocaleString('en')} lines: ` +
      `${(bytes / MiB / wall).toFixed(1)} MiB/s wall, ${Math.round(lines / wall).toLocaleString('en')} lines/s, ` +
      `${(cpu / (bytes / GiB)).toFixed(2)} CPU-s/GiB (${(bytes / MiB / cpu).toFixed(1)} MiB per CPU-second; ` +
      `user ${(u.user / 1e6).toFixed(2)} s, sys ${(u.system / 1e6).toFixed(2)} s, wall ${wall.toFixed(2)} s; ` +
      `peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB)`,
  );
}

console.log(
  `pipeline (tail → parse → enrich → batch → null producer${values.encode ? ' + encode' : ''}), ` +
    `node ${process.version}, 300 B lines, non-ASCII 1 in ${nonAsciiEvery} JSON lines`,
);
for (let r = 0; r < rounds; r++) {
  for (const name of String(values.scenarios).split(',')) {
    const s = SCENARIOS[name.trim()];
    if (s === undefined)
      throw new Error(`unknown scenario ${name}: use ${Object.keys(SCENARIOS).join(', ')}`);
    await run(s);
  }
}
