/**
 * kafkajs (logferry's client today) and @platformatic/kafka side by side: the same pre-encoded
 * records, the same broker, codec and acks, each client in its own process (client-worker.ts).
 * Measurement only: nothing in src/ changes with it. Bytes and MB/s count the JSON record values.
 */
import { execFile } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { type BenchContext, GiB, workDir } from '../lib/context.ts';
import type { ScenarioResult } from '../lib/report.ts';

const execFileP = promisify(execFile);

export async function runClients(
  ctx: BenchContext,
  records: number,
  compression: string,
): Promise<ScenarioResult[]> {
  const dir = workDir(ctx, 'clients');
  const buf = Buffer.alloc(8 << 20);
  const fd = openSync(ctx.corpus.files[0] as string, 'r');
  const n = readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  const payloads = path.join(dir, 'payloads.txt');
  writeFileSync(payloads, buf.subarray(0, buf.lastIndexOf(10, n - 1)));
  const out: ScenarioResult[] = [];
  for (const client of ['kafkajs', 'platformatic'] as const) {
    const r: ScenarioResult = {
      id: `client-${client}`,
      title: `client only: ${client === 'kafkajs' ? 'kafkajs' : '@platformatic/kafka'} (${compression})`,
      status: 'FAILED',
      expectedRecords: records,
      bytes: 0,
      notes: [
        'pre-encoded JSON records, one batch (≤ 10,000 records / 768 KiB) in flight, acks=all, idempotent',
      ],
    };
    const topic = await ctx.kafka.topic(r.id);
    try {
      ctx.log(`  ${r.id}: ${records.toLocaleString('en-US')} records`);
      const { stdout } = await execFileP(
        process.execPath,
        [
          path.join(import.meta.dirname, 'client-worker.ts'),
          '--client',
          client,
          '--bootstrap',
          ctx.kafka.bootstrap,
          '--topic',
          topic,
          '--payloads',
          payloads,
          '--records',
          String(records),
          '--compression',
          compression,
        ],
        { timeout: 20 * 60_000, maxBuffer: 1 << 20 },
      );
      const m = JSON.parse(stdout.trim().split('\n').pop() as string) as {
        records: number;
        warmup: number;
        seconds: number;
        cpuSeconds: number;
        maxRssMiB: number;
        bytes?: number;
      };
      const count = await ctx.kafka.count(topic);
      const bytes = m.bytes ?? 0;
      Object.assign(r, {
        bytes,
        mbPerSec: bytes / 1e6 / m.seconds,
        cpuSecPerGiB: bytes ? m.cpuSeconds / (bytes / GiB) : undefined,
        topicRecords: count,
        seconds: m.seconds,
        linesPerSec: m.records / m.seconds,
        cpuSeconds: m.cpuSeconds,
        peakRssMiB: m.maxRssMiB,
      });
      r.notes?.push(`${(m.records / m.cpuSeconds).toFixed(0)} records per CPU-second`);
      const expected = records + m.warmup;
      if (count === expected) r.status = 'ok';
      else r.reason = `topic holds ${count} records, expected ${expected} (incl. ${m.warmup} warm-up)`;
    } catch (err) {
      r.reason = (err as Error).message.split('\n').slice(0, 3).join(' ');
    } finally {
      await ctx.kafka.drop(topic);
    }
    out.push(r);
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}
