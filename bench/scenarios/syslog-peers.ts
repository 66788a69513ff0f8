/**
 * The C peers built on librdkafka, on the same corpus, topic layout, acks and codec:
 * rsyslog (imfile → omkafka) and syslog-ng (wildcard-file → kafka-c). Each runs as a private
 * instance in the foreground with its own config, pid file and work directory; nothing system-wide
 * is touched. Same method as logferry's live mode: start on an empty directory, wait, read the CPU
 * counter, hard-link the corpus in, stop the clock when the topic holds every line. There is no
 * readiness endpoint, so the wait is a fixed 3 s. Each line is shipped as its raw text (%msg% /
 * $MSG), so they do less work per line than logferry, which builds a JSON record for every line.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BenchContext, GiB, linkCorpus, MiB, workDir } from '../lib/context.ts';
import { latencyFromTopic, writeAtRate } from '../lib/latency.ts';
import { findRsyslog, findSyslogNg } from '../lib/peers.ts';
import { WatchedProcess } from '../lib/proc.ts';
import type { ScenarioResult } from '../lib/report.ts';

interface Layout {
  dir: string;
  bulkDir: string;
  latFile: string;
  topic: string;
  latTopic: string;
}

async function runDaemon(
  ctx: BenchContext,
  r: ScenarioResult,
  start: (l: Layout) => { cmd: string; args: string[] },
): Promise<ScenarioResult> {
  const corpus = ctx.corpus;
  const dir = workDir(ctx, r.id);
  const bulkDir = path.join(dir, 'bulk');
  mkdirSync(bulkDir);
  mkdirSync(path.join(dir, 'lat'));
  mkdirSync(path.join(dir, 'work'));
  const latFile = path.join(dir, 'lat', 'lat.log');
  writeFileSync(latFile, '');
  const topic = await ctx.kafka.topic(r.id);
  const latTopic = await ctx.kafka.topic(`${r.id}-lat`, { logAppendTime: true });
  const { cmd, args } = start({ dir, bulkDir, latFile, topic, latTopic });
  const p = new WatchedProcess(cmd, args, { cwd: dir });
  try {
    await sleep(3000);
    if (!p.running) throw new Error(`${r.id} exited at start: ${p.stderrTail.slice(-400)}`);
    const cpu0 = p.sample().cpuSeconds;
    const t0 = performance.now();
    linkCorpus(corpus, bulkDir);
    const done = await ctx.kafka.waitForCount({
      topic,
      expected: corpus.lines,
      alive: () => p.running,
      progress: (n) =>
        ctx.log(
          `  ${r.id}: ${((100 * n) / corpus.lines).toFixed(0)}% (${n.toLocaleString('en-US')} records)`,
        ),
    });
    const end = p.sample();
    const seconds = (done.doneAt - t0) / 1000;
    const cpu = end.cpuSeconds - cpu0;
    Object.assign(r, {
      topicRecords: done.count,
      seconds,
      linesPerSec: corpus.lines / seconds,
      mbPerSec: corpus.bytes / 1e6 / seconds,
      cpuSeconds: cpu,
      cpuSecPerGiB: cpu / (corpus.bytes / GiB),
      peakRssMiB: end.peakRssBytes / MiB,
    });
    if (!done.reached) {
      r.reason = `topic holds ${done.count} of ${corpus.lines} records (${done.why}); ${p.stderrTail.slice(-200)}`;
      return r;
    }
    if (ctx.latencySeconds > 0) {
      ctx.log(`  ${r.id}: latency phase`);
      const n = await writeAtRate(latFile, ctx.latencyRate, ctx.latencySeconds);
      const got = await ctx.kafka.waitForCount({ topic: latTopic, expected: n, stallMs: 30_000 });
      if (got.reached) {
        const lat = await latencyFromTopic(ctx.kafka.bootstrap, latTopic, n);
        r.p50Ms = lat.p50Ms;
        r.p99Ms = lat.p99Ms;
        r.notes?.push(`latency: ${lat.samples} samples, max ${lat.maxMs.toFixed(0)} ms`);
      } else r.notes?.push(`latency phase: only ${got.count} of ${n} records arrived`);
    }
    const final = await ctx.kafka.count(topic);
    r.topicRecords = final;
    r.notes?.push(`record: ${await ctx.kafka.recordShape(topic)}`);
    if (final === corpus.lines) r.status = 'ok';
    else r.reason = `topic holds ${final} records, corpus has ${corpus.lines} lines`;
    return r;
  } catch (err) {
    r.reason = (err as Error).message;
    return r;
  } finally {
    await p.stop(20_000);
    await ctx.kafka.drop(topic);
    await ctx.kafka.drop(latTopic);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * logferry's record for a bare line, as an rsyslog template: the same members in the same order,
 * the message and path JSON-escaped by rsyslog, the offset from imfile's metadata, keyed by host.
 */
const RSYSLOG_RECORD_TEMPLATE = [
  'template(name="record" type="list") {',
  '  constant(value="{\\"@timestamp\\":\\"")',
  '  property(name="timegenerated" dateFormat="rfc3339" date.inUTC="on")',
  '  constant(value="\\",\\"message\\":\\"")',
  '  property(name="msg" format="json")',
  '  constant(value="\\",\\"host\\":{\\"name\\":\\"")',
  '  property(name="hostname" format="json")',
  '  constant(value="\\"},\\"service\\":{\\"name\\":\\"bulk\\"},\\"log\\":{\\"file\\":{\\"path\\":\\"")',
  '  property(name="$!metadata!filename" format="json")',
  '  constant(value="\\"},\\"offset\\":")',
  '  property(name="$!metadata!fileoffset")',
  '  constant(value="},\\"event\\":{\\"id\\":\\"f-")',
  '  property(name="$!metadata!fileoffset")',
  '  constant(value="\\"},\\"schema_version\\":1}")',
  '}',
].join('\n');

/**
 * rsyslog imfile → omkafka. `shape` raw: the line as it is (%msg%), the peer's cheapest form;
 * record: a JSON record shaped like logferry's (RSYSLOG_RECORD_TEMPLATE), the same work per line.
 */
export async function runRsyslog(
  ctx: BenchContext,
  codec: string,
  shape: 'raw' | 'record' = 'raw',
): Promise<ScenarioResult> {
  const record = shape === 'record';
  const r: ScenarioResult = {
    id: record ? 'rsyslog-record' : 'rsyslog',
    title: record
      ? `rsyslog imfile → omkafka, logferry's JSON record (${codec}, acks=all)`
      : `rsyslog imfile → omkafka (${codec}, acks=all)`,
    status: 'FAILED',
    expectedRecords: ctx.corpus.lines,
    bytes: ctx.corpus.bytes,
    notes: [],
  };
  const found = findRsyslog(ctx.outDir);
  if (typeof found === 'string') return { ...r, status: 'unavailable', reason: found };
  r.notes?.push(
    record
      ? `${found.version}; a JSON record per line shaped like logferry's (time, escaped message, host, file path and offset from imfile's metadata, event id), keyed by host; inotify imfile, default queues, not idempotent`
      : `${found.version}; raw line per record (%msg%), inotify imfile, default queues, not idempotent`,
  );
  const keyed = record ? ` key="${hostname()}"` : '';
  const omkafka = (topic: string) =>
    `action(type="omkafka" broker=["${ctx.kafka.bootstrap}"] topic="${topic}" template="${record ? 'record' : 'raw'}"${keyed} ` +
    `confParam=["compression.codec=${codec}"] topicConfParam=["request.required.acks=-1"])`;
  const metadata = record ? 'on' : 'off';
  return runDaemon(ctx, r, (l) => {
    const conf = path.join(l.dir, 'rsyslog.conf');
    writeFileSync(
      conf,
      [
        `global(workDirectory="${path.join(l.dir, 'work')}" maxMessageSize="64k")`,
        'module(load="imfile" mode="inotify")',
        'module(load="omkafka")',
        'template(name="raw" type="string" string="%msg%")',
        RSYSLOG_RECORD_TEMPLATE,
        `input(type="imfile" file="${l.bulkDir}/*.log" tag="bulk" ruleset="bulk" addMetadata="${metadata}")`,
        `input(type="imfile" file="${l.latFile}" tag="lat" ruleset="lat" addMetadata="${metadata}")`,
        `ruleset(name="bulk") { ${omkafka(l.topic)} }`,
        `ruleset(name="lat") { ${omkafka(l.latTopic)} }`,
        '',
      ].join('\n'),
    );
    return {
      cmd: found.binary,
      args: ['-n', '-f', conf, '-i', path.join(l.dir, 'rsyslogd.pid'), '-M', found.moduleDir],
    };
  });
}

export async function runSyslogNg(ctx: BenchContext, codec: string): Promise<ScenarioResult> {
  const r: ScenarioResult = {
    id: 'syslog-ng',
    title: `syslog-ng file → kafka-c (${codec}, acks=all)`,
    status: 'FAILED',
    expectedRecords: ctx.corpus.lines,
    bytes: ctx.corpus.bytes,
    notes: [],
  };
  const found = findSyslogNg();
  if (typeof found === 'string') return { ...r, status: 'unavailable', reason: found };
  r.notes?.push(
    `${found.version}; raw line per record ($MSG), wildcard-file, flags(flow-control) so that nothing is dropped`,
  );
  const dest = (name: string, topic: string) =>
    `destination ${name} { kafka-c(bootstrap-servers("${ctx.kafka.bootstrap}") topic("${topic}") message("$MSG") ` +
    `config("acks" => "all" "compression.codec" => "${codec}")); };`;
  return runDaemon(ctx, r, (l) => {
    const conf = path.join(l.dir, 'syslog-ng.conf');
    writeFileSync(
      conf,
      [
        '@version: 3.38',
        'options { stats_freq(0); };',
        `source s_bulk { wildcard-file(base-dir("${l.bulkDir}") filename-pattern("*.log") flags(no-parse) follow-freq(1)); };`,
        `source s_lat { wildcard-file(base-dir("${path.dirname(l.latFile)}") filename-pattern("*.log") flags(no-parse) follow-freq(1)); };`,
        dest('d_bulk', l.topic),
        dest('d_lat', l.latTopic),
        // Without flow-control syslog-ng drops what overflows the destination queue (seen: 58% arrived).
        'log { source(s_bulk); destination(d_bulk); flags(flow-control); };',
        'log { source(s_lat); destination(d_lat); flags(flow-control); };',
        '',
      ].join('\n'),
    );
    return {
      cmd: found.binary,
      args: [
        '-F',
        '--no-caps',
        '-f',
        conf,
        '-p',
        path.join(l.dir, 'syslog-ng.pid'),
        '-R',
        path.join(l.dir, 'work', 'syslog-ng.persist'),
        '-c',
        path.join(l.dir, 'work', 'syslog-ng.ctl'),
      ],
    };
  });
}
