/**
 * logferry itself: the real CLI (`node bin/logferry.js run --config ...`) as a child process,
 * measured from outside (/proc of the agent's pid only).
 *
 * live mode (the default): the agent starts on an empty directory; once /readyz says it is
 * connected, the CPU counter is read and the corpus is hard-linked into the directory, and the
 * clock runs until the topic holds every line. Node's start-up is outside the figures.
 * catch-up mode: the corpus is on disk before the agent starts; the clock and CPU run from spawn.
 *
 * A second source in the same process tails lat.log into a LogAppendTime topic for the
 * fixed-rate latency phase, which starts after the bulk phase was measured.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../../test/kafka/index.ts';
import type { Corpus } from '../corpus.ts';
import { type BenchContext, GiB, linkCorpus, MiB, workDir } from '../lib/context.ts';
import { latencyFromTopic, writeAtRate } from '../lib/latency.ts';
import { WatchedProcess } from '../lib/proc.ts';
import type { ScenarioResult } from '../lib/report.ts';

const repo = path.resolve(import.meta.dirname, '..', '..');

export interface LogferrySpec {
  id: string;
  title: string;
  parser: 'none' | 'json' | 'cri';
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  /** sink.kafka.client; the default when absent. */
  client?: 'kafkajs' | 'builtin';
  mode: 'live' | 'catch-up';
  /** Defaults to ctx.corpus. */
  corpus?: Corpus;
  latency?: boolean;
}

async function waitReady(port: number, proc: WatchedProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!proc.running) throw new Error(`agent exited at start: ${proc.stderrTail.slice(-400)}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`agent not ready within ${timeoutMs / 1000} s`);
}

export async function runLogferry(ctx: BenchContext, spec: LogferrySpec): Promise<ScenarioResult> {
  const corpus = spec.corpus ?? ctx.corpus;
  const base: ScenarioResult = {
    id: spec.id,
    title: spec.title,
    status: 'FAILED',
    expectedRecords: corpus.lines,
    bytes: corpus.bytes,
    notes: [
      `parser ${spec.parser}, ${spec.compression}, acks=all, idempotent, default batch/buffer settings${spec.client ? `, sink.kafka.client ${spec.client}` : ''}`,
    ],
  };
  const dir = workDir(ctx, spec.id);
  const bulkDir = path.join(dir, 'bulk');
  const latDir = path.join(dir, 'lat');
  mkdirSync(bulkDir);
  mkdirSync(latDir);
  const latFile = path.join(latDir, 'lat.log');
  writeFileSync(latFile, '');
  const topic = await ctx.kafka.topic(spec.id);
  const latTopic = await ctx.kafka.topic(`${spec.id}-lat`, { logAppendTime: true });
  const [port] = await freePorts(1);
  const config = {
    data_dir: path.join(dir, 'data'),
    sources: [
      { name: 'bulk', include: [path.join(bulkDir, '*.log')], parser: spec.parser },
      { name: 'lat', include: [latFile], parser: spec.parser, topic: latTopic },
    ],
    sink: {
      kafka: {
        brokers: [ctx.kafka.bootstrap],
        topic,
        compression: spec.compression,
        acks: 'all',
        ...(spec.client ? { client: spec.client } : {}),
      },
    },
    metrics: { enabled: true, listen: `127.0.0.1:${port}` },
    log: { level: 'warn' },
  };
  const configFile = path.join(dir, 'logferry.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  if (spec.mode === 'catch-up') linkCorpus(corpus, bulkDir);

  const spawnedAt = performance.now();
  const agent = new WatchedProcess(
    process.execPath,
    [path.join(repo, 'bin/logferry.js'), 'run', '--config', configFile],
    {
      cwd: dir,
    },
  );
  try {
    let t0 = spawnedAt;
    let cpu0 = 0;
    if (spec.mode === 'live') {
      await waitReady(port as number, agent, 60_000);
      cpu0 = agent.sample().cpuSeconds;
      t0 = performance.now();
      linkCorpus(corpus, bulkDir);
    }
    const done = await ctx.kafka.waitForCount({
      topic,
      expected: corpus.lines,
      alive: () => agent.running,
      progress: (n) => {
        const s = (performance.now() - t0) / 1000;
        ctx.log(
          `  ${spec.id}: ${((100 * n) / corpus.lines).toFixed(0)}% (${n.toLocaleString('en-US')} records, ${(((n / corpus.lines) * corpus.bytes) / 1e6 / s).toFixed(1)} MB/s)`,
        );
      },
    });
    const end = agent.sample();
    const seconds = (done.doneAt - t0) / 1000;
    const cpu = end.cpuSeconds - cpu0;
    Object.assign(base, {
      topicRecords: done.count,
      seconds,
      linesPerSec: corpus.lines / seconds,
      mbPerSec: corpus.bytes / 1e6 / seconds,
      cpuSeconds: cpu,
      cpuSecPerGiB: cpu / (corpus.bytes / GiB),
      peakRssMiB: end.peakRssBytes / MiB,
    });
    if (!done.reached) {
      base.reason = `topic holds ${done.count} of ${corpus.lines} records (${done.why})`;
      return base;
    }
    if (spec.latency !== false && ctx.latencySeconds > 0 && spec.mode === 'live') {
      ctx.log(`  ${spec.id}: latency phase, ${ctx.latencyRate} lines/s for ${ctx.latencySeconds} s`);
      const n = await writeAtRate(latFile, ctx.latencyRate, ctx.latencySeconds);
      const got = await ctx.kafka.waitForCount({ topic: latTopic, expected: n, stallMs: 30_000 });
      if (got.reached) {
        const lat = await latencyFromTopic(ctx.kafka.bootstrap, latTopic, n);
        base.p50Ms = lat.p50Ms;
        base.p99Ms = lat.p99Ms;
        base.notes?.push(`latency: ${lat.samples} samples, max ${lat.maxMs.toFixed(0)} ms`);
      } else {
        base.notes?.push(`latency phase: only ${got.count} of ${n} records arrived`);
      }
    }
    // The verification: exactly the corpus's line count (duplicates would fail it too).
    const final = await ctx.kafka.count(topic);
    base.topicRecords = final;
    base.status = final === corpus.lines ? 'ok' : 'FAILED';
    base.notes?.push(`record: ${await ctx.kafka.recordShape(topic)}`);
    if (final !== corpus.lines)
      base.reason = `topic holds ${final} records, corpus has ${corpus.lines} lines`;
    return base;
  } catch (err) {
    base.reason = (err as Error).message;
    return base;
  } finally {
    const code = await agent.stop();
    if (code !== 0 && code !== null)
      base.notes?.push(`agent exit code ${code}: ${agent.stderrTail.slice(-300)}`);
    await ctx.kafka.drop(topic);
    await ctx.kafka.drop(latTopic);
    rmSync(dir, { recursive: true, force: true });
  }
}
