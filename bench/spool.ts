/**
 * Spool benchmark: write (append until durable) and replay (read, check, decode, ack) throughput
 * of the on-disk spool, in MB/s and frames/s. Replay must outrun ingest (>= 2x) so that a backlog
 * built during an outage catches up while new batches keep arriving.
 *
 *   node bench/spool.ts [--mb 256] [--batch-bytes 262144] [--fsync every_batch|<ms>] [--inflight 4] [--dir /tmp]
 *
 * Payloads are random bytes (incompressible, like the sink's compressed batches). Write runs with
 * `--inflight` appends outstanding, as a sink handing batches to the spool does (concurrent appends
 * share an fsync). Replay reopens the spool, so it includes recovery's full scan of every frame,
 * and reads from the page cache the write left warm. MB are 10^6 bytes of frames. MB/cpu-s divides
 * by this process's CPU time (user + system), a figure less swayed by other load on the machine.
 * Prints a table, then the same figures as one JSON document on the last line. Figures only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/observe/logger.ts';
import { Spool, type SpoolOptions } from '../src/spool/spool.ts';
import type { SpoolBatch } from '../src/spool/spool-batch.ts';

const { values: args } = parseArgs({
  options: {
    mb: { type: 'string', default: '256' },
    'batch-bytes': { type: 'string', default: String(256 * 1024) },
    fsync: { type: 'string', default: 'every_batch' },
    inflight: { type: 'string', default: '4' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const totalBytes = Number(args.mb) * 1e6;
const batchBytes = Number(args['batch-bytes']);
const fsync = args.fsync === 'every_batch' ? 'every_batch' : Number(args.fsync);
const inflight = Number(args.inflight);

const base = await mkdtemp(join(args.dir, 'logferry-bench-spool-'));
const options: SpoolOptions = {
  dir: base,
  maxBytes: Math.max(2 * totalBytes, 64 * 1024 * 1024),
  whenFull: 'block',
  fsync,
  segmentBytes: 64 * 1024 * 1024,
  log: silentLogger(),
};

// A few distinct payloads, reused: the spool copies nothing, so this measures the spool, not the RNG.
const payloads = Array.from({ length: 8 }, () => randomBytes(batchBytes));
const batches: SpoolBatch[] = payloads.map((payload, i) => ({
  topic: 'logs',
  records: Math.floor(batchBytes / 200),
  codec: 'zstd',
  keys: undefined,
  positions: [{ fileId: `dev:ino${i}`, startOffset: i * batchBytes, endOffset: (i + 1) * batchBytes }],
  createdAt: Date.now(),
  payload,
}));

function cpuSec(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

try {
  // ---- write
  const spool = await Spool.open(options);
  const frames = Math.ceil(totalBytes / batchBytes);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const running = new Set<Promise<void>>();
  for (let i = 0; i < frames; i++) {
    const p: Promise<void> = spool.append(batches[i % batches.length]).then(() => {
      running.delete(p);
    });
    running.add(p);
    if (running.size >= inflight) await Promise.race(running);
  }
  await Promise.all(running);
  const writeSec = Number(process.hrtime.bigint() - t0) / 1e9;
  const writeCpu = cpuSec(process.cpuUsage(c0));
  const written = spool.stats.appendedBytes;
  await spool.close();

  // ---- replay (reopen: recovery scan + read + ack)
  const c1 = process.cpuUsage();
  const t1 = process.hrtime.bigint();
  const replay = await Spool.open(options);
  const openSec = Number(process.hrtime.bigint() - t1) / 1e9;
  let replayed = 0;
  let replayBytes = 0;
  for await (const b of replay.batches()) {
    replayed++;
    replayBytes += b.payload.length;
    await replay.ack();
  }
  const replaySec = Number(process.hrtime.bigint() - t1) / 1e9;
  const replayCpu = cpuSec(process.cpuUsage(c1));
  await replay.close();
  if (replayed !== frames) throw new Error(`replayed ${replayed} of ${frames} frames`);

  const result = {
    fsync: String(fsync),
    batchBytes,
    inflight,
    frames,
    writeMBps: written / 1e6 / writeSec,
    writeFramesPerSec: frames / writeSec,
    replayMBps: written / 1e6 / replaySec,
    replayFramesPerSec: frames / replaySec,
    writeMBperCpuSec: written / 1e6 / writeCpu,
    replayMBperCpuSec: written / 1e6 / replayCpu,
    openScanSec: openSec,
    replayOverWrite: writeSec / replaySec,
    payloadBytesReplayed: replayBytes,
  };
  const f = (n: number): string => n.toFixed(1).padStart(10);
  console.log(
    `spool bench: ${frames} frames of ${batchBytes} B, fsync=${String(fsync)}, ${inflight} appends in flight`,
  );
  console.log('phase         MB/s    frames/s   MB/cpu-s');
  console.log(
    `write   ${f(result.writeMBps)}  ${f(result.writeFramesPerSec)}  ${f(result.writeMBperCpuSec)}`,
  );
  console.log(
    `replay  ${f(result.replayMBps)}  ${f(result.replayFramesPerSec)}  ${f(result.replayMBperCpuSec)}   (of which open + scan ${openSec.toFixed(2)} s)`,
  );
  console.log(`replay / write: ${result.replayOverWrite.toFixed(1)}x`);
  console.log(JSON.stringify(result));
} finally {
  await rm(base, { recursive: true, force: true });
}
