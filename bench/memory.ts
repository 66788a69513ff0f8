/**
 * The agent's real memory: the real CLI (`node bin/logferry.js run`) against a real broker started
 * here, sampled every 100 ms from outside (VmRSS and VmHWM of the agent's pid) and from its own
 * /metrics (V8 heap used and total, external memory, `logferry_buffer_bytes`: what the memory bound
 * counts). Prints the peaks and a one-second timeline, and saves them as JSON under bench/out.
 *
 *   node bench/memory.ts [--scenario catch-up|outage|all] [--size 500MB] [--outage-seconds 30]
 *                        [--rate 40000] [--set spool.enabled=false] [--node-args "--trace-gc"]
 *                        [--snapshot-at 5000]
 *
 * catch-up: the corpus (default 500 MB) is on disk before the agent starts, default settings; the
 *   run ends when the topic holds every line.
 * outage: the agent tails one file that a writer appends to at `--rate` lines/s; after 5 s the
 *   broker is killed, and restarted `--outage-seconds` later; the writer stops 5 s after that and
 *   the run ends when every written line is in the topic. Run it with `--set spool.enabled=false`
 *   to see the memory bound alone hold the agent (the tailer pauses), and with the defaults to see
 *   the spool take the batches.
 * `--set key=value` (repeatable) overrides a config key (dotted path, value parsed as JSON when it
 * parses). `--node-args` go to the agent's node before the script (e.g. `--heapsnapshot-signal=SIGUSR2`,
 * then `--snapshot-at MS` sends SIGUSR2 that long after spawn; the snapshot lands in the agent's
 * work directory, which is kept when a snapshot was asked for).
 */
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { freePorts, startBroker } from '../test/kafka/index.ts';
import { generateCorpus, LineSource, parseSize } from './corpus.ts';
import { linkCorpus, MiB } from './lib/context.ts';
import { BenchKafka } from './lib/kafka.ts';

const repo = path.resolve(import.meta.dirname, '..');
const outDir = path.join(import.meta.dirname, 'out');

interface Sample {
  t: number;
  rss: number;
  heapUsed?: number;
  heapTotal?: number;
  external?: number;
  buffer?: number;
}

interface Peaks {
  rssHwm: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  buffer: number;
  bufferMax: number;
}

function readRss(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(s);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(s);
    if (!rss || !hwm) return undefined;
    return { rss: Number(rss[1]) * 1024, hwm: Number(hwm[1]) * 1024 };
  } catch {
    return undefined;
  }
}

function metric(text: string, name: string, label?: string): number | undefined {
  let at = 0;
  for (;;) {
    const i = text.indexOf(`\n${name}`, at);
    if (i < 0) return undefined;
    const end = text.indexOf('\n', i + 1);
    const line = text.slice(i + 1, end < 0 ? undefined : end);
    at = i + 1;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (label !== undefined && !line.includes(label)) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
}

/** Samples one process every `everyMs`: /proc now, /metrics when the previous scrape answered. */
class MemorySampler {
  readonly samples: Sample[] = [];
  readonly peaks: Peaks = {
    rssHwm: 0,
    rss: 0,
    heapUsed: 0,
    heapTotal: 0,
    external: 0,
    buffer: 0,
    bufferMax: 0,
  };
  readonly #timer: NodeJS.Timeout;
  readonly #t0 = performance.now();
  #scraping = false;
  #last: Omit<Sample, 't' | 'rss'> = {};

  constructor(pid: number, metricsPort: number, everyMs = 100) {
    this.#timer = setInterval(() => {
      const r = readRss(pid);
      if (r === undefined) return;
      this.peaks.rssHwm = Math.max(this.peaks.rssHwm, r.hwm);
      this.peaks.rss = Math.max(this.peaks.rss, r.rss);
      this.samples.push({ t: performance.now() - this.#t0, rss: r.rss, ...this.#last });
      if (!this.#scraping) void this.#scrape(metricsPort);
    }, everyMs);
  }

  async #scrape(port: number): Promise<void> {
    this.#scraping = true;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
      const text = `\n${await res.text()}`;
      const s = {
        heapUsed: metric(text, 'nodejs_heap_size_used_bytes'),
        heapTotal: metric(text, 'nodejs_heap_size_total_bytes'),
        external: metric(text, 'nodejs_external_memory_bytes'),
        buffer: metric(text, 'logferry_buffer_bytes'),
      };
      const max = metric(text, 'logferry_buffer_max_bytes');
      if (max !== undefined) this.peaks.bufferMax = max;
      this.#last = s;
      this.peaks.heapUsed = Math.max(this.peaks.heapUsed, s.heapUsed ?? 0);
      this.peaks.heapTotal = Math.max(this.peaks.heapTotal, s.heapTotal ?? 0);
      this.peaks.external = Math.max(this.peaks.external, s.external ?? 0);
      this.peaks.buffer = Math.max(this.peaks.buffer, s.buffer ?? 0);
    } catch {
      // Not listening yet, or exiting.
    } finally {
      this.#scraping = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One line per second: the sample with the highest RSS in that second. */
  timeline(): Sample[] {
    const out: Sample[] = [];
    for (const s of this.samples) {
      const sec = Math.floor(s.t / 1000);
      const prev = out[sec];
      if (prev === undefined || s.rss > prev.rss) out[sec] = s;
    }
    return out.filter((s) => s !== undefined);
  }
}

const mib = (n: number | undefined): string => (n === undefined ? '-' : (n / MiB).toFixed(1));

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

async function waitReady(port: number, alive: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!alive()) throw new Error('agent exited at start');
    // /metrics rather than /readyz: with the spool off, readiness waits for a first delivery.
    const ok = await fetch(`http://127.0.0.1:${port}/metrics`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`agent not ready within ${timeoutMs / 1000} s`);
}

async function countOr(kafka: BenchKafka, topic: string): Promise<number | undefined> {
  return kafka.count(topic).catch(() => undefined);
}

interface RunOptions {
  scenario: 'catch-up' | 'outage';
  size: number;
  outageSeconds: number;
  rate: number;
  sets: string[];
  nodeArgs: string[];
  snapshotAt: number;
  /** An already running broker (catch-up only); default: one started here. */
  bootstrap: string;
  /** Where the agent's whole stdout and stderr go (for --trace-gc); '' keeps only a tail. */
  agentOutput: string;
  /** Run this checkout's CLI instead of this one's (to compare trees). */
  repo: string;
}

async function run(opts: RunOptions): Promise<Record<string, unknown>> {
  const { spawn } = await import('node:child_process');
  mkdirSync(path.join(outDir, 'work'), { recursive: true });
  const dir = mkdtempSync(path.join(outDir, 'work', `memory-${opts.scenario}-`));
  const logDir = path.join(dir, 'logs');
  mkdirSync(logDir);
  const log = (m: string) => process.stderr.write(`[${opts.scenario}] ${m}\n`);
  if (opts.bootstrap !== '' && opts.scenario === 'outage') throw new Error('--bootstrap: catch-up only');
  const broker = opts.bootstrap === '' ? await startBroker({ startTimeoutMs: 180_000 }) : undefined;
  const bootstrap = broker?.bootstrap ?? opts.bootstrap;
  const kafka = await BenchKafka.connect(bootstrap);
  let agent: ReturnType<typeof spawn> | undefined;
  let sampler: MemorySampler | undefined;
  try {
    const topic = await kafka.topic(`memory-${opts.scenario}`);
    const [port] = (await freePorts(1)) as [number];
    const config: Record<string, unknown> = {
      data_dir: path.join(dir, 'data'),
      sources: [{ name: 'bulk', include: [path.join(logDir, '*.log')] }],
      sink: { kafka: { brokers: [bootstrap], topic } },
      metrics: { enabled: true, listen: `127.0.0.1:${port}` },
      log: { level: 'warn' },
    };
    for (const s of opts.sets) {
      const eq = s.indexOf('=');
      if (eq < 0) throw new Error(`--set ${s}: use key=value`);
      setPath(config, s.slice(0, eq), s.slice(eq + 1));
    }
    const configFile = path.join(dir, 'logferry.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));

    let expected = 0;
    let bytes = 0;
    if (opts.scenario === 'catch-up') {
      const corpus = generateCorpus({ out: outDir, bytes: opts.size });
      linkCorpus(corpus, logDir);
      expected = corpus.lines;
      bytes = corpus.bytes;
    } else {
      writeFileSync(path.join(logDir, 'live.log'), '');
    }

    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [...opts.nodeArgs, path.join(opts.repo, 'bin/logferry.js'), 'run', '--config', configFile],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    agent = child;
    let stderr = '';
    const keep = (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-20_000);
      if (opts.agentOutput !== '') appendFileSync(opts.agentOutput, d);
    };
    child.stderr?.on('data', keep);
    child.stdout?.on('data', keep);
    const alive = () => child.exitCode === null && child.signalCode === null;
    sampler = new MemorySampler(child.pid as number, port);
    if (opts.snapshotAt > 0)
      setTimeout(() => {
        if (alive()) child.kill('SIGUSR2');
      }, opts.snapshotAt).unref();

    const phases: Record<string, Peaks> = {};
    const peaksNow = (): Peaks => ({ ...(sampler as MemorySampler).peaks });
    let reached = false;
    let count = 0;
    if (opts.scenario === 'catch-up') {
      const done = await kafka.waitForCount({
        topic,
        expected,
        alive,
        pollMs: 250,
        progress: (n) =>
          log(`${((100 * n) / expected).toFixed(0)}% RSS ${mib(sampler?.samples.at(-1)?.rss)} MiB`),
      });
      reached = done.reached;
      count = done.count;
    } else {
      await waitReady(port, alive, 60_000);
      const live = path.join(logDir, 'live.log');
      const source = new LineSource(7);
      let writing = true;
      const writer = (async () => {
        const perTick = Math.max(1, Math.round(opts.rate / 10));
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
      await sleep(5000);
      phases['before outage'] = peaksNow();
      log(`killing the broker for ${opts.outageSeconds} s (${source.lines} lines written so far)`);
      await broker?.kill();
      const outageStart = performance.now();
      while (performance.now() - outageStart < opts.outageSeconds * 1000) {
        await sleep(5000);
        const s = sampler.samples.at(-1);
        log(
          `outage: RSS ${mib(s?.rss)} MiB, heap used ${mib(s?.heapUsed)} MiB, buffer ${mib(s?.buffer)} MiB`,
        );
      }
      phases['during outage'] = peaksNow();
      log('restarting the broker');
      await broker?.restart();
      await sleep(5000);
      writing = false;
      await writer;
      expected = source.lines;
      const done = await kafka.waitForCount({ topic, expected, alive, pollMs: 250, stallMs: 120_000 });
      reached = done.reached;
      count = done.count;
    }
    const seconds = (performance.now() - t0) / 1000;
    sampler.stop();
    const final = (await countOr(kafka, topic)) ?? count;
    if (!alive()) log(`agent exited early: ${stderr.slice(-2000)}`);
    return {
      scenario: opts.scenario,
      sets: opts.sets,
      nodeArgs: opts.nodeArgs,
      bytes,
      expected,
      topicRecords: final,
      verified: reached && final === expected,
      seconds,
      mbPerSec: bytes / 1e6 / seconds,
      peaks: sampler.peaks,
      phases,
      timeline: sampler.timeline(),
      stderrTail: stderr.slice(-1000),
    };
  } finally {
    sampler?.stop();
    if (agent && agent.exitCode === null && agent.signalCode === null) {
      const exited = new Promise((r) => agent?.once('exit', r));
      agent.kill('SIGTERM');
      const t = setTimeout(() => agent?.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    }
    await kafka.close();
    await broker?.stop();
    if (opts.snapshotAt === 0) rmSync(dir, { recursive: true, force: true });
    else log(`work directory kept for the heap snapshot: ${dir}`);
  }
}

function report(r: Record<string, unknown>): void {
  const p = r['peaks'] as Peaks;
  const lines = [
    `scenario ${r['scenario']}${(r['sets'] as string[]).length ? ` (${(r['sets'] as string[]).join(', ')})` : ''}${(r['nodeArgs'] as string[]).length ? ` node ${(r['nodeArgs'] as string[]).join(' ')}` : ''}`,
    `  ${(Number(r['bytes']) / 1e6).toFixed(0)} MB, ${r['expected']} lines, topic ${r['topicRecords']}: ${r['verified'] ? 'verified' : 'NOT VERIFIED'}; ${Number(r['seconds']).toFixed(1)} s, ${Number(r['mbPerSec']).toFixed(1)} MB/s`,
    `  peak RSS ${mib(p.rssHwm)} MiB (VmHWM); peak heap used ${mib(p.heapUsed)} MiB, heap total ${mib(p.heapTotal)} MiB, external ${mib(p.external)} MiB`,
    `  memory bound: peak ${mib(p.buffer)} MiB counted of max ${mib(p.bufferMax)} MiB`,
  ];
  const phases = r['phases'] as Record<string, Peaks>;
  for (const [name, q] of Object.entries(phases))
    lines.push(
      `  up to the end of "${name}": peak RSS ${mib(q.rssHwm)} MiB, heap used ${mib(q.heapUsed)} MiB, buffer ${mib(q.buffer)} MiB`,
    );
  lines.push('  timeline (s: RSS / heap used / heap total / external / buffer, MiB):');
  const tl = r['timeline'] as Sample[];
  const cells = tl.map(
    (s) =>
      `${Math.floor(s.t / 1000)}: ${mib(s.rss)}/${mib(s.heapUsed)}/${mib(s.heapTotal)}/${mib(s.external)}/${mib(s.buffer)}`,
  );
  for (let i = 0; i < cells.length; i += 4) lines.push(`    ${cells.slice(i, i + 4).join('   ')}`);
  console.log(lines.join('\n'));
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: 'all' },
      size: { type: 'string', default: '500MB' },
      'outage-seconds': { type: 'string', default: '30' },
      rate: { type: 'string', default: '40000' },
      set: { type: 'string', multiple: true, default: [] },
      'node-args': { type: 'string', default: '' },
      'snapshot-at': { type: 'string', default: '0' },
      bootstrap: { type: 'string', default: '' },
      repo: { type: 'string', default: repo },
      'agent-output': { type: 'string', default: '' },
    },
  });
  const scenarios = values.scenario === 'all' ? (['catch-up', 'outage'] as const) : [values.scenario];
  const results = [];
  for (const scenario of scenarios) {
    if (scenario !== 'catch-up' && scenario !== 'outage') throw new Error(`unknown scenario ${scenario}`);
    const r = await run({
      scenario,
      size: parseSize(values.size),
      outageSeconds: Number(values['outage-seconds']),
      rate: Number(values.rate),
      sets: values.set,
      nodeArgs: values['node-args'].split(' ').filter((a) => a !== ''),
      snapshotAt: Number(values['snapshot-at']),
      bootstrap: values.bootstrap,
      repo: path.resolve(values.repo),
      agentOutput: values['agent-output'],
    });
    report(r);
    results.push(r);
  }
  const file = path.join(outDir, `memory-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`saved ${file}`);
  process.exit(results.every((r) => r['verified']) ? 0 : 1);
}
