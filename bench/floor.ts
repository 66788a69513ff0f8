/**
 * Node's own memory floor for the agent's job: what a minimal Node program needs to do the least
 * of what the agent does, measured the way the agent is (VmHWM, peak resident memory, shared file
 * pages of the node binary included), so that the agent's peak RSS can be read against it.
 *
 *   node bench/floor.ts [--size 1GB] [--runs 2]
 *
 * Each variant runs in a fresh process with the agent's Node settings (--max-semi-space-size=4,
 * UV_THREADPOOL_SIZE as bin/logferry.js sets it) and reports its own VmHWM when done:
 * - bare: Node started, nothing loaded, one second idle;
 * - copy: the corpus read in 1 MiB reads, each line's bytes copied into 512 KiB batches, each batch
 *   written to a TCP socket on 127.0.0.1 (this process discards it): no JSON, no Kafka protocol,
 *   no config, metrics, checkpoints or logging;
 * - copy + lz4 on the thread pool: the same, each batch compressed by lz4-napi's asynchronous
 *   `compress` (at most 6 at a time, as the agent does) before it is written;
 * - copy + lz4 on the main thread: `compressSync` instead.
 * Prints a table and saves it as JSON under bench/out.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateCorpus, parseSize } from './corpus.ts';
import type { Measured, Variant } from './floor-child.ts';

const VARIANTS: readonly Variant[] = ['bare', 'copy', 'lz4-pool', 'lz4-main'];
const LABELS: Record<Variant, string> = {
  bare: 'bare Node 24, idle',
  copy: 'read, copy lines into 512 KiB batches, write to a socket',
  'lz4-pool': '… and lz4 each batch on the thread pool (lz4-napi compress)',
  'lz4-main': '… and lz4 each batch on the main thread (lz4-napi compressSync)',
};

/** The `bare` variant: Node started, nothing imported, one second idle, then its VmHWM. */
const BARE = `setTimeout(() => {
  const s = require('node:fs').readFileSync('/proc/self/status', 'utf8');
  const kib = (k) => Number(new RegExp(k + ':\\\\s+(\\\\d+) kB').exec(s)[1]) / 1024;
  const c = process.cpuUsage();
  console.log(JSON.stringify({ hwmMiB: kib('VmHWM'), anonMiB: kib('RssAnon'), fileMiB: kib('RssFile'), cpuSeconds: (c.user + c.system) / 1e6, lines: 0 }));
}, 1000);`;

function runChild(variant: Variant, file: string, port: number): Promise<Measured> {
  const threads = String(Math.min(4, Math.max(2, availableParallelism())));
  // The child is TypeScript too: run from the compile cache, so that Node's type stripper (~20 MiB)
  // is not loaded (the first, warm-up run fills the cache); `bare` is a JavaScript one-liner.
  const script = path.join(import.meta.dirname, 'floor-child.ts');
  const args =
    variant === 'bare' ? ['-e', BARE] : ['--max-semi-space-size=4', script, variant, file, String(port)];
  const p = spawn(process.execPath, args, {
    env: {
      ...process.env,
      UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? threads,
      NODE_COMPILE_CACHE: path.join(import.meta.dirname, 'out', '.floor-compile-cache'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    p.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as Measured);
      else reject(new Error(`floor variant ${variant} exited with ${code}`));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { size: { type: 'string', default: '1GB' }, runs: { type: 'string', default: '2' } },
  });
  const outDir = path.join(import.meta.dirname, 'out');
  const corpus = generateCorpus({ out: outDir, bytes: parseSize(values.size) });
  const file = corpus.files[0] as string;
  const sink = net.createServer((c) => {
    c.resume();
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const port = (sink.address() as net.AddressInfo).port;
  const results = Object.fromEntries(VARIANTS.map((v) => [v, [] as Measured[]])) as Record<
    Variant,
    Measured[]
  >;
  await runChild('copy', file, port); // warm-up: fills the compile cache
  for (let run = 0; run < Number(values.runs); run++) {
    for (const v of VARIANTS) {
      const m = await runChild(v, file, port);
      results[v].push(m);
      console.log(
        `${v}: VmHWM ${m.hwmMiB.toFixed(1)} MiB (anon ${m.anonMiB.toFixed(1)}, file ${m.fileMiB.toFixed(1)}), ${m.cpuSeconds.toFixed(1)} CPU-s, ${m.lines} lines`,
      );
    }
  }
  sink.close();
  const range = (xs: number[]): string => {
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    return lo.toFixed(0) === hi.toFixed(0) ? lo.toFixed(0) : `${lo.toFixed(0)}–${hi.toFixed(0)}`;
  };
  const rows = VARIANTS.map((v) => {
    const ms = results[v];
    return `| ${LABELS[v]} | ${range(ms.map((m) => m.hwmMiB))} | ${range(ms.map((m) => m.anonMiB))} | ${range(ms.map((m) => m.fileMiB))} |`;
  });
  console.log(
    [
      '',
      `Node ${process.versions.node}, ${values.size} corpus (${corpus.files.length} file), ${values.runs} runs each`,
      '',
      '| Program | peak RSS MiB | anonymous MiB | file-backed MiB |',
      '| --- | ---: | ---: | ---: |',
      ...rows,
    ].join('\n'),
  );
  const file_ = path.join(outDir, `floor-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file_, JSON.stringify({ node: process.versions.node, size: values.size, results }, null, 2));
  console.log(`saved ${file_}`);
}

await main();
