/**
 * The benchmark suite (issue 9): logferry against Kafka's own ProducerPerformance and rsyslog's
 * omkafka (and syslog-ng) on one generated corpus, against one real broker started here.
 *
 *   npm run bench                               # 100 MB corpus, every scenario, writes docs/benchmarks.md
 *   npm run bench -- --size 200MB --scenarios headline,rsyslog,producer-perf
 *   npm run bench -- --quick                    # 20 MB, a few scenarios, docs untouched
 *
 * Flags: --size (corpus, e.g. 100MB .. 2GB), --scenarios a,b,c, --quick, --catchup-size (default
 * 1GB), --files (many-files variant, default 1000), --latency-seconds (default 10, at 10k lines/s),
 * --client-records, --bootstrap HOST:PORT (an existing broker instead of a private one),
 * --no-warm-up (skip the unmeasured logferry run that warms the broker's JIT first),
 * --docs/--no-docs (write docs/benchmarks.md and docs/benchmarks.svg; default on unless --quick).
 *
 * Scenarios: headline, headline-kafkajs (the same with sink.kafka.client: kafkajs), json, codec-none, codec-gzip, codec-snappy, codec-zstd, producer-perf,
 * rsyslog, syslog-ng, many-files, catch-up, clients. Every scenario is verified by the topic's
 * record count (admin fetchTopicOffsets) and marked FAILED when it differs from the corpus's line
 * count. Figures go to stdout as a markdown table and to bench/out/results-<date>.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type KafkaBroker, startBroker } from '../test/kafka/index.ts';
import { generateCorpus, parseSize } from './corpus.ts';
import type { BenchContext } from './lib/context.ts';
import { type RunDoc, renderDocs } from './lib/docs.ts';
import { BenchKafka } from './lib/kafka.ts';
import { machineInfo, sampleProcess } from './lib/proc.ts';
import { judgeTargets, markdownTable, type ScenarioResult, targetsMarkdown } from './lib/report.ts';
import { runClients } from './scenarios/clients.ts';
import { runLogferry } from './scenarios/logferry.ts';
import { runProducerPerf } from './scenarios/producer-perf.ts';
import { runRsyslog, runSyslogNg } from './scenarios/syslog-peers.ts';

const ALL = [
  'headline',
  'headline-kafkajs',
  'producer-perf',
  'rsyslog',
  'rsyslog-record',
  'syslog-ng',
  'json',
  'codec-none',
  'codec-gzip',
  'codec-snappy',
  'codec-zstd',
  'many-files',
  'cri',
  'catch-up',
  'clients',
] as const;
type ScenarioId = (typeof ALL)[number];
const QUICK: readonly ScenarioId[] = ['headline', 'producer-perf', 'rsyslog', 'clients'];

const { values: args } = parseArgs({
  options: {
    size: { type: 'string' },
    scenarios: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'catchup-size': { type: 'string' },
    files: { type: 'string', default: '1000' },
    'latency-seconds': { type: 'string' },
    'client-records': { type: 'string' },
    bootstrap: { type: 'string' },
    docs: { type: 'boolean' },
    'no-docs': { type: 'boolean', default: false },
    'no-warm-up': { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    render: { type: 'string' },
    merge: { type: 'string', multiple: true },
  },
});

// kafkajs (the admin and latency consumer here) schedules negative timeouts under Node 24: harmless noise.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

const repo = path.resolve(import.meta.dirname, '..');
const outDir = path.join(repo, 'bench', 'out');
mkdirSync(outDir, { recursive: true });
if (args.render) {
  // Re-render docs/benchmarks.md and the SVG from a saved run, optionally replacing scenario rows by
  // those of later runs (--merge FILE, repeatable); the doc names every merged row.
  const saved = JSON.parse(readFileSync(args.render, 'utf8')) as RunDoc;
  for (const m of args.merge ?? []) {
    const later = JSON.parse(readFileSync(m, 'utf8')) as RunDoc;
    for (const r of later.results) {
      const i = saved.results.findIndex((x) => x.id === r.id);
      const row = {
        ...r,
        notes: [...(r.notes ?? []), `re-run separately at ${later.date.slice(0, 16)} (merged)`],
      };
      if (i >= 0) saved.results[i] = row;
      else saved.results.push(row);
    }
    saved.merged = [...(saved.merged ?? []), { date: later.date, ids: later.results.map((r) => r.id) }];
  }
  saved.targets = judgeTargets(saved.results);
  renderDocs(repo, saved, saved.argv ?? '');
  process.stdout.write(`${markdownTable(saved.results)}\n${targetsMarkdown(saved.targets)}`);
  process.exit(0);
}
const quick = args.quick;
const size = parseSize(args.size ?? (quick ? '20MB' : '100MB'));
const selected: ScenarioId[] = args.scenarios
  ? args.scenarios.split(',').map((s) => {
      const id = s.trim() as ScenarioId;
      if (!ALL.includes(id)) throw new Error(`unknown scenario "${s}": one of ${ALL.join(', ')}`);
      return id;
    })
  : [...(quick ? QUICK : ALL)];
const writeDocs = args['no-docs'] ? false : (args.docs ?? !quick);
const codec = 'lz4';
const seed = Number(args.seed);
const began = Date.now();
const log = (msg: string) =>
  process.stderr.write(`[bench ${((Date.now() - began) / 1000).toFixed(0)}s] ${msg}\n`);

function version(cmd: string, argv: string[]): string {
  try {
    return (
      execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0] ?? ''
    );
  } catch {
    return 'unknown';
  }
}

function pkgVersion(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(path.join(repo, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return 'unknown';
  }
}

const kafkaVersion = /<kafka\.version>([^<]+)</.exec(
  readFileSync(path.join(repo, 'test/kafka/pom.xml'), 'utf8'),
)?.[1];
function javaVersion(): string {
  try {
    // java -version prints on stderr.
    return execFileSync('sh', ['-c', 'java -version 2>&1 | head -1'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

log(`corpus: ${(size / 1e6).toFixed(0)} MB, seed ${seed}`);
const corpus = generateCorpus({
  out: outDir,
  bytes: size,
  seed,
  onProgress: (w, t) => log(`  corpus ${((100 * w) / t).toFixed(0)}%`),
});
log(`corpus: ${corpus.lines.toLocaleString('en-US')} lines, ${corpus.dir}`);

let broker: KafkaBroker | undefined;
let bootstrap = args.bootstrap;
if (!bootstrap) {
  log('starting a Kafka broker (1 GiB heap)');
  broker = await startBroker({ heapMb: 1024, onProgress: (m) => log(`  broker: ${m}`) });
  bootstrap = broker.bootstrap;
}
const kafka = await BenchKafka.connect(bootstrap);
const ctx: BenchContext = {
  kafka,
  outDir,
  corpus,
  latencySeconds: Number(args['latency-seconds'] ?? (quick ? 3 : 10)),
  latencyRate: 10_000,
  log,
};

const results: ScenarioResult[] = [];
const codecTitle = (c: string) => `logferry, parser none, ${c}`;
try {
  if (!args['no-warm-up']) {
    // A fresh broker's JIT is cold: it spent 61 CPU-s per GiB on the first scenario of a run and
    // 7-9 on the last ones, which made the order of scenarios a handicap. One unmeasured logferry
    // run first, so that every scenario meets a warm broker.
    const warm = generateCorpus({ out: outDir, bytes: Math.min(size, 50_000_000), seed });
    log(`warm-up: ${(warm.bytes / 1e6).toFixed(0)} MB through logferry, not measured`);
    const w = await runLogferry(ctx, {
      id: 'warm-up',
      title: 'warm-up',
      parser: 'none',
      compression: codec,
      mode: 'live',
      corpus: warm,
      latency: false,
    });
    if (w.status !== 'ok') log(`  warm-up did not complete (${w.reason}); going on`);
  }
  for (const id of selected) {
    log(`scenario ${id}`);
    const brokerBefore = broker?.pid === undefined ? undefined : sampleProcess(broker.pid);
    let r: ScenarioResult | ScenarioResult[];
    switch (id) {
      case 'headline':
        r = await runLogferry(ctx, {
          id,
          title: `logferry, parser none, ${codec} (headline)`,
          parser: 'none',
          compression: codec,
          mode: 'live',
        });
        break;
      case 'headline-kafkajs': {
        const client = 'kafkajs';
        r = await runLogferry(ctx, {
          id,
          title: `logferry, parser none, ${codec}, client ${client}`,
          parser: 'none',
          compression: codec,
          client,
          mode: 'live',
        });
        break;
      }
      case 'json':
        r = await runLogferry(ctx, {
          id,
          title: `logferry, parser json, ${codec}`,
          parser: 'json',
          compression: codec,
          mode: 'live',
        });
        break;
      case 'codec-none':
      case 'codec-gzip':
      case 'codec-snappy':
      case 'codec-zstd': {
        const c = id.slice('codec-'.length) as 'none' | 'gzip' | 'snappy' | 'zstd';
        r = await runLogferry(ctx, {
          id,
          title: codecTitle(c),
          parser: 'none',
          compression: c,
          mode: 'live',
        });
        break;
      }
      case 'producer-perf':
        r = await runProducerPerf(ctx, codec);
        break;
      case 'rsyslog':
        r = await runRsyslog(ctx, codec);
        break;
      case 'rsyslog-record':
        r = await runRsyslog(ctx, codec, 'record');
        break;
      case 'syslog-ng':
        r = await runSyslogNg(ctx, codec);
        break;
      case 'cri': {
        const cri = generateCorpus({ out: outDir, bytes: size, files: 1, seed, cri: true });
        r = await runLogferry(ctx, {
          id,
          title: `logferry, CRI lines (parser cri), ${codec}`,
          parser: 'cri',
          compression: codec,
          mode: 'live',
          corpus: cri,
          latency: false,
        });
        break;
      }
      case 'many-files': {
        const files = Number(args.files);
        const many = generateCorpus({ out: outDir, bytes: size, files, seed });
        r = await runLogferry(ctx, {
          id,
          title: `logferry, ${files.toLocaleString('en-US')} files, parser none, ${codec}`,
          parser: 'none',
          compression: codec,
          mode: 'live',
          corpus: many,
          latency: false,
        });
        break;
      }
      case 'catch-up': {
        const cuSize = parseSize(args['catchup-size'] ?? (quick ? String(size) : '1GB'));
        const cu = generateCorpus({
          out: outDir,
          bytes: cuSize,
          seed,
          onProgress: (w, t) => log(`  catch-up corpus ${((100 * w) / t).toFixed(0)}%`),
        });
        r = await runLogferry(ctx, {
          id,
          title: `logferry catch-up, ${(cuSize / 1e9).toFixed(1)} GB on disk at start, ${codec}`,
          parser: 'none',
          compression: codec,
          mode: 'catch-up',
          corpus: cu,
          latency: false,
        });
        if (r.notes) r.notes.push('clock and CPU from spawn: Node start-up and connection included');
        break;
      }
      case 'clients': {
        const n = Number(args['client-records'] ?? Math.min(corpus.lines, quick ? 100_000 : 500_000));
        r = await runClients(ctx, n, codec);
        break;
      }
    }
    // The broker shares the machine's CPUs with the process under test: how much of them it took
    // (over the whole scenario: bulk phase, latency phase, topic set-up) says who was the limit.
    const brokerAfter = broker?.pid === undefined ? undefined : sampleProcess(broker.pid);
    for (const one of Array.isArray(r) ? r : [r]) {
      if (brokerBefore !== undefined && brokerAfter !== undefined && !Array.isArray(r) && one.bytes) {
        const perGiB = (brokerAfter.cpuSeconds - brokerBefore.cpuSeconds) / (one.bytes / 2 ** 30);
        one.notes = [
          ...(one.notes ?? []),
          `broker CPU over the scenario: ${perGiB.toFixed(1)} s per GiB of the corpus`,
        ];
      }
      results.push(one);
      log(
        `  → ${one.title}: ${one.status}${one.reason ? ` (${one.reason})` : ''}` +
          (one.linesPerSec ? `, ${Math.round(one.linesPerSec).toLocaleString('en-US')} lines/s` : '') +
          (one.mbPerSec ? `, ${one.mbPerSec.toFixed(1)} MB/s` : ''),
      );
    }
  }
} finally {
  await kafka.close();
  await broker?.stop();
}

const machine = machineInfo();
const versions = {
  node: process.versions.node,
  kafka: kafkaVersion ?? 'unknown',
  java: javaVersion(),
  kafkajs: pkgVersion('kafkajs'),
  '@platformatic/kafka': pkgVersion('@platformatic/kafka'),
  logferry: version('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']),
};
const date = new Date().toISOString();
const doc: RunDoc = {
  date,
  machine,
  versions,
  corpus: { bytes: corpus.bytes, lines: corpus.lines, kinds: corpus.kinds, seed },
  options: {
    quick,
    size,
    scenarios: selected,
    latencySeconds: ctx.latencySeconds,
    latencyRate: ctx.latencyRate,
  },
  results,
  targets: judgeTargets(results),
};
const jsonFile = path.join(outDir, `results-${date.slice(0, 19).replaceAll(':', '-')}.json`);
writeFileSync(jsonFile, `${JSON.stringify(doc, null, 2)}\n`);

const table = markdownTable(results);
const targets = targetsMarkdown(doc.targets);
process.stdout.write(`\n${table}\n${targets}\nJSON: ${path.relative(repo, jsonFile)}\n`);

if (writeDocs) {
  renderDocs(repo, doc, process.argv.slice(2).join(' '));
  log('wrote docs/benchmarks.md and docs/benchmarks.svg');
}
process.exit(results.some((r) => r.status === 'FAILED') ? 1 : 0);
