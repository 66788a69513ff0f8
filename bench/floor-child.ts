/**
 * The measured program of bench/floor.ts (which see): one variant over a log file, its batches sent
 * to a TCP port on 127.0.0.1; prints its VmHWM, resident memory and CPU as JSON when done. Imports
 * nothing but Node's own modules and lz4-napi.
 *
 *   node --max-semi-space-size=4 bench/floor-child.ts copy|lz4-pool|lz4-main FILE PORT
 */
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';

export type Variant = 'bare' | 'copy' | 'lz4-pool' | 'lz4-main';

export interface Measured {
  hwmMiB: number;
  anonMiB: number;
  fileMiB: number;
  cpuSeconds: number;
  lines: number;
}

const READ_BYTES = 1 << 20;
const BATCH_BYTES = 512 * 1024;
const MAX_COMPRESSING = 6;

function status(): Measured {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kib = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0);
  const cpu = process.cpuUsage();
  return {
    hwmMiB: kib('VmHWM') / 1024,
    anonMiB: kib('RssAnon') / 1024,
    fileMiB: kib('RssFile') / 1024,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    lines: 0,
  };
}

async function run(variant: Variant, file: string, port: number): Promise<void> {
  const lz4 = createRequire(import.meta.url)('lz4-napi') as typeof import('lz4-napi');
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const write = async (b: Uint8Array): Promise<void> => {
    if (!sock.write(b)) await new Promise((r) => sock.once('drain', r));
  };
  const compressing = new Set<Promise<void>>();
  const send = async (batch: Buffer): Promise<void> => {
    if (variant === 'copy') return write(batch);
    if (variant === 'lz4-main') return write(lz4.compressSync(batch));
    if (compressing.size >= MAX_COMPRESSING) await Promise.race(compressing);
    const p: Promise<void> = lz4
      .compress(batch)
      .then(write)
      .finally(() => compressing.delete(p));
    compressing.add(p);
  };
  const fh = await open(file);
  const read = Buffer.allocUnsafe(READ_BYTES);
  let batch = Buffer.allocUnsafe(BATCH_BYTES + READ_BYTES);
  let pos = 0;
  let lines = 0;
  let carry = 0;
  for (;;) {
    const { bytesRead } = await fh.read(read, carry, READ_BYTES - carry, null);
    const end = carry + bytesRead;
    if (bytesRead === 0) break;
    let start = 0;
    for (let nl = read.indexOf(10, 0); nl >= 0 && nl < end; nl = read.indexOf(10, start)) {
      batch.set(read.subarray(start, nl + 1), pos);
      pos += nl + 1 - start;
      lines++;
      start = nl + 1;
      if (pos >= BATCH_BYTES) {
        await send(batch.subarray(0, pos));
        batch = Buffer.allocUnsafe(BATCH_BYTES + READ_BYTES);
        pos = 0;
      }
    }
    read.copy(read, 0, start, end);
    carry = end - start;
  }
  await fh.close();
  if (pos > 0) await send(batch.subarray(0, pos));
  await Promise.all(compressing);
  await new Promise<void>((r) => sock.end(r));
  process.stdout.write(`${JSON.stringify({ ...status(), lines })}\n`);
}

if (import.meta.main)
  await run(process.argv[2] as Variant, process.argv[3] as string, Number(process.argv[4]));
