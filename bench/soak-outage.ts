/**
 * Soak: a long broker outage under steady load. The agent's RSS must stay flat while the spool
 * grows (batches go to disk, not to memory), and every line must reach the topic once the broker
 * is back.
 *
 *   node bench/soak-outage.ts [--outage-seconds 600] [--rate 10000] [--warmup-seconds 10]
 *                             [--flat-mib 32] [--set key=value ...]
 *
 * Starts a broker (test/kafka startBroker), runs the real CLI (`node bin/logferry.js run`) with
 * the spool on (defaults) tailing one file that a writer appends to at `--rate` lines/s. After
 * `--warmup-seconds` the broker is killed and restarted `--outage-seconds` later; the writer keeps
 * writing until the spool has drained, then stops, and the run ends when the topic holds every
 * line written (admin.fetchTopicOffsets: high - low watermark summed over partitions; more than
 * written means duplicates, reported as such). Samples the agent's VmRSS (/proc/<pid>/status) and
 * /status `spool.bytes` every second; prints them summarised per minute (of the outage: min, median,
 * max RSS and spool bytes at the minute's end) and the verdict "RSS flat: max minus median < X MiB"
 * over the outage (X = --flat-mib). Exit code 0 when verified and flat. Saves JSON under bench/out.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { freePorts, startBroker } from '../test/kafka/index.ts';
import { LineSource } from './corpus.ts';
import { BenchKafka } from './lib/kafka.ts';

const repo = path.resolve(import.meta.dirname, '..');
const outDir = path.join(import.meta.dirname, 'out');
const MiB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    'outage-seconds': { type: 'string', default: '600' },
    rate: { type: 'string', default: '10000' },
    'warmup-seconds': { type: 'string', default: '10' },
    'flat-mib': { type: 'string', default: '32' },
    set: { type: 'string', multiple: true, default: [] },
  },
});
const outageSeconds = Number(args['outage-seconds']);
const rate = Number(args.rate);
const warmupSeconds = Number(args['warmup-seconds']);
const flatMiB = Number(args['flat-mib']);

interface Sample {
  /** Seconds since the agent started. */
  t: number;
  phase: 'warmup' | 'outage' | 'drain';
  rss: number;
  spoolBytes: number | undefined;
  /** Age of the oldest spooled batch (0: spool empty). */
  oldestAge: number | undefined;
  lines: number;
}

function readRss(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** /status spool figures: `bytes` is disk use (whole segments), `oldest_age_seconds` is 0 when empty. */
async function spoolStatus(port: number): Promise<{ bytes: number; oldestAge: number } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(2000) });
    const doc = (await res.json()) as { spool?: { bytes?: number; oldest_age_seconds?: number } };
    return { bytes: doc.spool?.bytes ?? 0, oldestAge: doc.spool?.oldest_age_seconds ?? 0 };
  } catch {
    return undefined;
  }
}

function setPath(obj: Record<string, unknown>, dotted: string, raw: string): void {
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // A plain string.
  }
  const keys = dotted.split('.');
  let at = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof at[k] !== 'object' || at[k] === null) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  at[keys[keys.length - 1] as string] = value;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[Math.floor((s.length - 1) / 2)] as number);
}

const mib = (n: number | undefined): string => (n === undefined ? '-' : (n / MiB).toFixed(1));
const log = (m: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

mkdirSync(path.join(outDir, 'work'), { recursive: true });
const dir = mkdtempSync(path.join(outDir, 'work', 'soak-outage-'));
const logDir = path.join(dir, 'logs');
mkdirSync(logDir);
const live = path.join(logDir, 'live.log');
writeFileSync(live, '');

const broker = await startBroker({ startTimeoutMs: 180_000 });
const kafka = await BenchKafka.connect(broker.bootstrap);
let agent: ReturnType<typeof spawn> | undefined;
let sampler: NodeJS.Timeout | undefined;
let writing = true;
let exitCode = 1;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    agent?.kill('SIGKILL'); // the broker's watchdog kills it when this process dies
    process.exit(130);
  });
try {
  const topic = await kafka.topic('soak-outage');
  const [port] = (await freePorts(1)) as [number];
  const config: Record<string, unknown> = {
    data_dir: path.join(dir, 'data'),
    sources: [{ name: 'live', include: [path.join(logDir, '*.log')] }],
    sink: { kafka: { brokers: [broker.bootstrap], topic } },
    metrics: { enabled: true, listen: `127.0.0.1:${port}` },
    log: { level: 'warn' },
  };
  for (const s of args.set) {
    const eq = s.indexOf('=');
    if (eq < 0) throw new Error(`--set ${s}: use key=value`);
    setPath(config, s.slice(0, eq), s.slice(eq + 1));
  }
  const configFile = path.join(dir, 'logferry.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(repo, 'bin/logferry.js'), 'run', '--config', configFile], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agent = child;
  let stderr = '';
  const keep = (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  };
  child.stderr?.on('data', keep);
  child.stdout?.on('data', keep);
  const alive = () => child.exitCode === null && child.signalCode === null;

  // Ready when /status answers.
  for (let i = 0; ; i++) {
    if (!alive()) throw new Error(`agent exited at start: ${stderr.slice(-2000)}`);
    if ((await spoolStatus(port)) !== undefined) break;
    if (i > 600) throw new Error('agent not ready within 60 s');
    await sleep(100);
  }

  const source = new LineSource(11);
  let bytes = 0;
  const writer = (async () => {
    const perTick = Math.max(1, Math.round(rate / 10));
    let next = performance.now();
    while (writing) {
      let text = '';
      const before = source.lines;
      while (source.lines - before < perTick) text += source.next();
      appendFileSync(live, text);
      bytes += text.length;
      next += 100;
      await sleep(Math.max(0, next - performance.now()));
    }
  })();

  let phase: Sample['phase'] = 'warmup';
  const samples: Sample[] = [];
  let sampling = false;
  sampler = setInterval(() => {
    if (sampling) return;
    sampling = true;
    const rss = readRss(child.pid as number);
    void spoolStatus(port).then((sb) => {
      sampling = false;
      if (rss !== undefined)
        samples.push({
          t: (performance.now() - t0) / 1000,
          phase,
          rss,
          spoolBytes: sb?.bytes,
          oldestAge: sb?.oldestAge,
          lines: source.lines,
        });
    });
  }, 1000);

  await sleep(warmupSeconds * 1000);
  log(`killing the broker for ${outageSeconds} s at ${rate} lines/s (${source.lines} lines written so far)`);
  await broker.kill();
  phase = 'outage';
  const outageStart = performance.now();
  for (;;) {
    const left = outageSeconds * 1000 - (performance.now() - outageStart);
    if (left <= 100) break;
    await sleep(Math.min(30_000, left));
    if (!alive()) throw new Error(`agent exited during the outage: ${stderr.slice(-2000)}`);
    const s = samples.at(-1);
    log(
      `outage ${((performance.now() - outageStart) / 1000).toFixed(0)} s: RSS ${mib(s?.rss)} MiB, spool ${mib(s?.spoolBytes)} MiB`,
    );
  }
  log('restarting the broker');
  phase = 'drain';
  const drainStart = performance.now(); // the drain time includes the broker's restart
  await broker.restart();
  log(`broker back after ${((performance.now() - drainStart) / 1000).toFixed(0)} s`);
  // Keep writing while the spool drains (replay must outrun ingest), up to 30 min. Drained: the
  // spool's oldest batch is under 2 s old (0 when empty; the disk stays at whole segments).
  let polls = 0;
  for (;;) {
    await sleep(1000);
    const last = samples.at(-1);
    const sb = last?.spoolBytes ?? 0;
    if (last !== undefined && last.phase === 'drain' && (last.oldestAge ?? 99) < 2) break;
    if (!alive()) throw new Error(`agent exited while draining: ${stderr.slice(-2000)}`);
    if (performance.now() - drainStart > 30 * 60_000) throw new Error('spool not drained within 30 min');
    if (++polls % 15 === 0)
      log(`draining: spool ${mib(sb)} MiB, oldest ${last?.oldestAge} s, RSS ${mib(samples.at(-1)?.rss)} MiB`);
  }
  const drainSeconds = (performance.now() - drainStart) / 1000;
  log(`spool drained ${drainSeconds.toFixed(0)} s after the broker was restarted`);
  writing = false;
  await writer;
  const expected = source.lines;
  const done = await kafka.waitForCount({ topic, expected, alive, pollMs: 500, stallMs: 120_000 });
  clearInterval(sampler);
  const count = await kafka.count(topic).catch(() => done.count);

  // ---- report
  const out = samples.filter((s) => s.phase === 'outage');
  const outRss = out.map((s) => s.rss);
  const rssMax = Math.max(...outRss);
  const rssMed = median(outRss);
  const rssMin = Math.min(...outRss);
  const spoolPeak = Math.max(0, ...samples.map((s) => s.spoolBytes ?? 0));
  const flat = rssMax - rssMed < flatMiB * MiB;
  const rows: string[] = [];
  rows.push(
    `soak: ${rate} lines/s, outage ${outageSeconds} s (broker killed), spool defaults${args.set.length ? ` + ${args.set.join(', ')}` : ''}`,
  );
  rows.push('phase   minute   RSS min / median / max MiB   spool MiB at end   oldest s   lines written');
  const byMinute = new Map<string, Sample[]>();
  for (const s of samples) {
    const start = s.phase === 'outage' ? outageStart : s.phase === 'drain' ? drainStart : t0;
    const minute = Math.floor((s.t * 1000 + t0 - start) / 60_000);
    const key = `${s.phase}\t${minute}`;
    const list = byMinute.get(key) ?? [];
    list.push(s);
    byMinute.set(key, list);
  }
  for (const [key, list] of byMinute) {
    const [ph, minute] = key.split('\t') as [string, string];
    const rss = list.map((s) => s.rss);
    const last = list.at(-1) as Sample;
    rows.push(
      `${ph.padEnd(7)} ${minute.padStart(6)}   ${mib(Math.min(...rss)).padStart(7)} / ${mib(median(rss)).padStart(7)} / ${mib(Math.max(...rss)).padStart(7)}   ${mib(last.spoolBytes).padStart(16)}   ${String(last.oldestAge ?? '-').padStart(8)}   ${String(last.lines).padStart(13)}`,
    );
  }
  const dupes = count - expected;
  rows.push(
    `lines written ${expected} (${(bytes / 1e6).toFixed(0)} MB); topic holds ${count}: ${count >= expected ? 'every line' : `MISSING ${expected - count}`}${dupes > 0 ? `, ${dupes} duplicates` : ''}`,
  );
  // Backlog B = outage x ingest I, drained at replay rate R while I continues: T = B / (R - I),
  // so R / I = 1 + outage / T (>= 2 when the backlog drains within the outage's length).
  rows.push(
    `spool peak ${mib(spoolPeak)} MiB; drained ${drainSeconds.toFixed(0)} s after the broker restart began (while still writing ${rate} lines/s): replay ~${(1 + outageSeconds / drainSeconds).toFixed(1)}x ingest (broker restart included)`,
  );
  rows.push(
    `RSS during the outage: min ${mib(rssMin)}, median ${mib(rssMed)}, max ${mib(rssMax)} MiB; RSS flat: max minus median ${mib(rssMax - rssMed)} MiB ${flat ? '<' : '>='} ${flatMiB} MiB${flat ? '' : ' (NOT FLAT)'}`,
  );
  console.log(rows.join('\n'));
  const file = path.join(outDir, `soak-outage-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        rate,
        outageSeconds,
        expected,
        count,
        duplicates: Math.max(0, dupes),
        spoolPeak,
        drainSeconds,
        rssMin,
        rssMed,
        rssMax,
        flat,
        samples,
      },
      null,
      1,
    ),
  );
  console.log(`saved ${file}`);
  if (!alive()) log(`agent exited early: ${stderr.slice(-2000)}`);
  exitCode = count >= expected && flat ? 0 : 1;
} finally {
  writing = false;
  if (sampler) clearInterval(sampler);
  if (agent && agent.exitCode === null && agent.signalCode === null) {
    const a = agent;
    const exited = new Promise((r) => a.once('exit', r));
    a.kill('SIGTERM');
    const t = setTimeout(() => a.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(t);
  }
  await kafka.close();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
