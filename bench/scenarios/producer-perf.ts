/**
 * Kafka's own org.apache.kafka.tools.ProducerPerformance from the same jars as the broker: the
 * same record count, payloads drawn from the corpus's own lines (--payload-file, so compression
 * sees the same text), acks=all, the same codec, and batch.size equal to logferry's batch.max_bytes.
 * Its own records/s (from its last line, JVM start-up excluded) is the broker's ceiling here.
 * A second run at --throughput 10000 gives its send → ack latency percentiles.
 *
 * The JVM is started directly (not through runJava, which pins C1-only JIT and a 256 MiB heap).
 */
import { closeSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BatchSchema } from '../../src/batch/batch-config.ts';
import { toolsLog4jConfig } from '../../test/kafka/classpath.ts';
import { checkJava, kafkaClasspath } from '../../test/kafka/index.ts';
import { type BenchContext, GiB, MiB, workDir } from '../lib/context.ts';
import { WatchedProcess } from '../lib/proc.ts';
import type { ScenarioResult } from '../lib/report.ts';

const SUMMARY =
  /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/;

/** The summary line of ProducerPerformance's output. */

/** logferry's default batch.max_bytes, so both send batches of the same size. */
const BATCH_SIZE = BatchSchema.properties.max_bytes.default as number;

export function parseProducerPerf(
  out: string,
): { records: number; recordsPerSec: number; p50: number; p99: number } | undefined {
  const m = SUMMARY.exec(out);
  if (!m) return undefined;
  return { records: Number(m[1]), recordsPerSec: Number(m[2]), p50: Number(m[6]), p99: Number(m[8]) };
}

/** The first `bytes` of the corpus, cut at a line end: payloads for --payload-file. */
function payloadSample(ctx: BenchContext, dir: string, bytes: number): string {
  const buf = Buffer.alloc(bytes);
  const fd = openSync(ctx.corpus.files[0] as string, 'r');
  const n = readSync(fd, buf, 0, bytes, 0);
  closeSync(fd);
  const text = buf.subarray(0, buf.lastIndexOf(10, n - 1)).toString('utf8');
  const file = path.join(dir, 'payloads.txt');
  writeFileSync(file, text);
  return file;
}

async function runPerf(
  args: string[],
  timeoutMs: number,
): Promise<{ out: string; code: number | null; cpu: number; rss: number; seconds: number }> {
  const java = await checkJava();
  const cp = await kafkaClasspath();
  const log4j = await toolsLog4jConfig();
  const started = performance.now();
  const p = new WatchedProcess(java, [
    '-Xmx1g',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4j}`,
    '-cp',
    cp,
    'org.apache.kafka.tools.ProducerPerformance',
    ...args,
  ]);
  let out = '';
  p.child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const t = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(t);
  return {
    out,
    code,
    cpu: p.last.cpuSeconds,
    rss: p.last.peakRssBytes,
    seconds: (performance.now() - started) / 1000,
  };
}

export async function runProducerPerf(ctx: BenchContext, compression: string): Promise<ScenarioResult> {
  const c = ctx.corpus;
  const r: ScenarioResult = {
    id: 'producer-perf',
    title: `Kafka ProducerPerformance (${compression}, acks=all)`,
    status: 'FAILED',
    expectedRecords: c.lines,
    bytes: c.bytes,
    notes: [],
  };
  try {
    await checkJava();
  } catch (err) {
    return { ...r, status: 'unavailable', reason: (err as Error).message };
  }
  const dir = workDir(ctx, 'producer-perf');
  const payloads = payloadSample(ctx, dir, 8 * 1024 * 1024);
  const topic = await ctx.kafka.topic('producer-perf');
  const props = [
    `bootstrap.servers=${ctx.kafka.bootstrap}`,
    'acks=all',
    `compression.type=${compression}`,
    `batch.size=${BATCH_SIZE}`,
    'linger.ms=5',
  ];
  try {
    ctx.log(`  producer-perf: ${c.lines.toLocaleString('en-US')} records, payloads from the corpus`);
    const run = await runPerf(
      [
        '--topic',
        topic,
        '--num-records',
        String(c.lines),
        '--payload-file',
        payloads,
        '--throughput',
        '-1',
        '--producer-props',
        ...props,
      ],
      30 * 60_000,
    );
    const s = parseProducerPerf(run.out);
    if (run.code !== 0 || !s) {
      r.reason = `exit ${run.code}: ${run.out.slice(-300)}`;
      return r;
    }
    const seconds = s.records / s.recordsPerSec;
    Object.assign(r, {
      seconds,
      linesPerSec: s.recordsPerSec,
      mbPerSec: c.bytes / 1e6 / seconds,
      cpuSeconds: run.cpu,
      cpuSecPerGiB: run.cpu / (c.bytes / GiB),
      peakRssMiB: run.rss / MiB,
    });
    r.notes?.push(
      `records/s is the tool's own figure (JVM start excluded); CPU and RSS are the whole JVM's, start-up and JIT included; ${run.seconds.toFixed(1)} s wall from spawn; batch.size=${BATCH_SIZE}, linger.ms=5, random payloads from the first 8 MiB of the corpus (average size of the corpus's lines)`,
    );
    if (ctx.latencySeconds > 0) {
      const latTopic = await ctx.kafka.topic('producer-perf-lat');
      const n = ctx.latencyRate * ctx.latencySeconds;
      const lat = await runPerf(
        [
          '--topic',
          latTopic,
          '--num-records',
          String(n),
          '--payload-file',
          payloads,
          '--throughput',
          String(ctx.latencyRate),
          '--producer-props',
          ...props,
        ],
        10 * 60_000,
      );
      const ls = parseProducerPerf(lat.out);
      if (ls) {
        r.p50Ms = ls.p50;
        r.p99Ms = ls.p99;
        r.notes?.push("latency: the tool's own send → ack percentiles at --throughput 10000");
      }
      await ctx.kafka.drop(latTopic);
    }
    const count = await ctx.kafka.count(topic);
    r.topicRecords = count;
    if (count === c.lines) r.status = 'ok';
    else r.reason = `topic holds ${count} records, expected ${c.lines}`;
    return r;
  } catch (err) {
    r.reason = (err as Error).message;
    return r;
  } finally {
    await ctx.kafka.drop(topic);
    rmSync(dir, { recursive: true, force: true });
  }
}
