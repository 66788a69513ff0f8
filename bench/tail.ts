/**
 * Tailing benchmark: prints figures, asserts nothing.
 *   node bench/tail.ts [--mb 512] [--idle-seconds 10]
 * 1. LineFramer alone over in-memory buffers (the per-line hot path).
 * 2. Tailer end to end (read + frame + chunk + ack) over a file already in the page cache.
 * 3. CPU of a Tailer following 1,000 idle files (watch + periodic rescan).
 * "One core": the process is single-threaded JS; CPU seconds are reported next to wall time.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LineChunk } from '../src/model/line-chunk.ts';
import { silentLogger } from '../src/observe/logger.ts';
import { LineFramer } from '../src/tail/line-framer.ts';
import { resolveTailSettings, resolveTailSource } from '../src/tail/tail-config.ts';
import { Tailer } from '../src/tail/tailer.ts';

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '512' }, 'idle-seconds': { type: 'string', default: '10' } },
});
const totalMb = Number(values.mb);
const idleSeconds = Number(values['idle-seconds']);
const root = mkdtempSync(join(tmpdir(), 'logferry-bench-tail-'));

/** ~95-byte lines; with `nonAsciiEvery` > 0, one line in that many holds a non-ASCII name. */
function sampleLines(bytes: number, nonAsciiEvery = 0): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const user = nonAsciiEvery > 0 && i % nonAsciiEvery === 0 ? ' user=zoë' : '';
    const l = `2026-11-26T12:00:00.${String(i % 1000).padStart(3, '0')}Z INFO request id=${i} path=/api/v1/items/${i % 977} status=200 duration_ms=${i % 113}${user}`;
    lines.push(l);
    size += Buffer.byteLength(l) + 1;
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

function cpuSeconds(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
}

// 1. Framer alone, on ASCII text and on text with one non-ASCII line in 1,000.
for (const nonAsciiEvery of [0, 1000]) {
  const block = sampleLines(1 << 20, nonAsciiEvery);
  const framer = new LineFramer(1 << 20);
  const rounds = Math.max(1, Math.round(totalMb));
  let lines = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) lines += framer.frame(block, 0, block.length, 0, false).lines.length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(cpu0);
  const mb = (block.length * rounds) / 1e6;
  console.log(
    `framer only${nonAsciiEvery > 0 ? `, 1 in ${nonAsciiEvery} lines non-ASCII` : ' (ASCII)'}: ${(mb / s).toFixed(0)} MB/s wall, ${(mb / cpu).toFixed(0)} MB/s per CPU-second, ${(lines / s / 1e6).toFixed(2)} M lines/s (${mb.toFixed(0)} MB, ~${Math.round((block.length * rounds) / lines)} B lines)`,
  );
}

// 2. Tailer over a page-cached file.
{
  const dir = join(root, 'big');
  const file = join(dir, 'big.log');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  const block = sampleLines(4 << 20);
  const fd = openSync(file, 'w');
  let written = 0;
  while (written < totalMb * 1e6) written += writeSync(fd, block);
  closeSync(fd);
  readFileSync(file); // warm the page cache
  for (const readBuffer of [262144, 1048576]) {
    let bytes = 0;
    let lines = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const tailer: Tailer = new Tailer({
      sources: [resolveTailSource({ name: 'bench', include: [join(dir, '*.log')] })],
      settings: resolveTailSettings({ read_buffer_bytes: readBuffer, checkpoint_flush_interval_ms: 1000 }),
      dataDir: join(root, `data-${readBuffer}`),
      log: silentLogger(),
      sink: {
        write(chunk: LineChunk) {
          bytes += chunk.bytes;
          lines += chunk.lines.length;
          tailer.ack(chunk);
          if (bytes >= written) done();
          return undefined;
        },
      },
    });
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await tailer.start();
    await finished;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSeconds(cpu0);
    await tailer.stop();
    console.log(
      `tailer, ${readBuffer / 1024} KiB reads: ${(bytes / 1e6 / s).toFixed(0)} MB/s wall, ${(bytes / 1e6 / cpu).toFixed(0)} MB/s per CPU-second, ${(lines / s / 1e6).toFixed(2)} M lines/s (${(bytes / 1e6).toFixed(0)} MB)`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

// 3. 1,000 idle watched files.
{
  const dir = join(root, 'idle');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  for (let f = 0; f < 1000; f++) writeFileSync(join(dir, `f${f}.log`), 'one line\n');
  let lines = 0;
  const tailer: Tailer = new Tailer({
    sources: [resolveTailSource({ name: 'idle', include: [join(dir, '*.log')] })],
    settings: resolveTailSettings(),
    dataDir: join(root, 'data-idle'),
    log: silentLogger(),
    sink: {
      write(chunk: LineChunk) {
        lines += chunk.lines.length;
        tailer.ack(chunk);
        return undefined;
      },
    },
  });
  await tailer.start();
  while (lines < 1000) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 1000));
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const cpu = cpuSeconds(cpu0);
  const wall = (Date.now() - t0) / 1000;
  console.log(
    `1,000 idle files: ${((cpu / wall) * 100).toFixed(2)} % of one core over ${wall.toFixed(0)} s (default settings: rescan every ${resolveTailSettings().scan_interval_ms} ms, ${tailer.stats.filesOpen} open)`,
  );
  await tailer.stop();
}
rmSync(root, { recursive: true, force: true });
