/**
 * Spool benchmark: write (append until durable) and replay (read, check, decode, ack) throughput
 * of the on-disk spool, in MB/s and frames/s. Replay must outrun ingest (>= 2x) so that a backlog
 * built during an outage catches up while new batches keep arriving.
 *
 *   node bench/spool.ts [--mb 256] [--batch-bytes 262144] [--fsync every_batch|<ms>] [--inflight 4] [--dir /tmp]
 *
 * Payloads are random bytes (incompressible, like the sink's compressed batches). Write runs with
 * `--inflight` appends outstanding, as a sink handing batches to the spool does (concurrent appends
 * share an fsync). Two replays, both from the page cache the write left warm:
 * - live: the same Spool that wrote reads everything back (an outage ending while the agent runs);
 *   each frame's checksum is checked once, on read.
 * - reopen: a second spool is written and closed, its segment files' mtimes are set 60 s back (an
 *   agent restarting on a spool written earlier), and a new Spool opens it: recovery's scan checks
 *   every checksum, and reads skip the check for files unchanged since (see Spool recoverSegment). MB are 10^6 bytes of frames. MB/cpu-s divides
 * by this process's CPU time (user + system), a figure less swayed by other load on the machine.
 * Prints a table, then the same figures as one JSON document on the last line. Figures only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
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

const frames = Math.ceil(totalBytes / batchBytes);

async function write(spool: Spool): Promise<{ sec: number; cpu: number }> {
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
  return { sec: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpuSec(process.cpuUsage(c0)) };
}

/** Reads and acks every batch; `open` (re)opens the spool inside the timed span. */
async function replay(
  open: () => Promise<Spool>,
): Promise<{ sec: number; cpu: number; openSec: number; bytes: number }> {
  const c1 = process.cpuUsage();
  const t1 = process.hrtime.bigint();
  const spool = await open();
  const openSec = Number(process.hrtime.bigint() - t1) / 1e9;
  let replayed = 0;
  let bytes = 0;
  for await (const b of spool.batches()) {
    replayed++;
    bytes += b.payload.length;
    await spool.ack();
    if (spool.isEmpty) break;
  }
  const sec = Number(process.hrtime.bigint() - t1) / 1e9;
  const cpu = cpuSec(process.cpuUsage(c1));
  await spool.close();
  if (replayed !== frames) throw new Error(`replayed ${replayed} of ${frames} frames`);
  return { sec, cpu, openSec, bytes };
}

try {
  // ---- write, then live replay by the same Spool
  const spool = await Spool.open(options);
  const w = await write(spool);
  const written = spool.stats.appendedBytes;
  const live = await replay(async () => spool);

  // ---- write again, close, age the files, reopen: recovery scan + read + ack
  const dir2 = await mkdtemp(join(base, 'reopen-'));
  const second = await Spool.open({ ...options, dir: dir2 });
  await write(second);
  await second.close();
  const past = new Date(Date.now() - 60_000);
  for (const name of await readdir(join(dir2, 'spool')))
    if (name.endsWith('.seg')) await utimes(join(dir2, 'spool', name), past, past);
  const re = await replay(() => Spool.open({ ...options, dir: dir2 }));
  const writeSec = w.sec;
  const writeCpu = w.cpu;
  const replaySec = live.sec;
  const replayCpu = live.cpu;
  const openSec = re.openSec;
  const replayBytes = live.bytes;

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
    replayOverWrite: writeSec / replaySec,
    reopenReplayMBps: written / 1e6 / re.sec,
    reopenReplayFramesPerSec: frames / re.sec,
    reopenReplayMBperCpuSec: written / 1e6 / re.cpu,
    openScanSec: openSec,
    reopenReplayOverWrite: writeSec / re.sec,
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
    `replay  ${f(result.replayMBps)}  ${f(result.replayFramesPerSec)}  ${f(result.replayMBperCpuSec)}   (live)`,
  );
  console.log(
    `reopen  ${f(result.reopenReplayMBps)}  ${f(result.reopenReplayFramesPerSec)}  ${f(result.reopenReplayMBperCpuSec)}   (of which open + scan ${openSec.toFixed(2)} s)`,
  );
  console.log(
    `replay / write: ${result.replayOverWrite.toFixed(1)}x live, ${result.reopenReplayOverWrite.toFixed(1)}x after reopen`,
  );
  console.log(JSON.stringify(result));
} finally {
  await rm(base, { recursive: true, force: true });
}
