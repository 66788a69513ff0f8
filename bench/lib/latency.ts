/**
 * Append → ack latency at a fixed rate. A writer appends lines at `rate` lines/s, each carrying
 * its write time (`lat=<epoch ms with fraction>`); the topic is created with
 * message.timestamp.type=LogAppendTime, so each batch carries the broker's own append time. With a
 * single broker and acks=all the ack follows the append at once, so append time - write time is the
 * append → ack latency without any consumer delay in it. Clocks are the same machine's.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { registerCodecs } from '../../src/sink/codecs/index.ts';
import { consumeAll } from '../../test/kafka/index.ts';
import { LineSource } from '../corpus.ts';
import { percentile } from './report.ts';

const LAT = /lat=(\d+(?:\.\d+)?)/;

/** Appends `rate` lines per second to `file` for `seconds`; resolves with the number of lines written. */
export async function writeAtRate(file: string, rate: number, seconds: number): Promise<number> {
  const src = new LineSource(7);
  const fd = openSync(file, 'a');
  const start = performance.now();
  let written = 0;
  const total = Math.round(rate * seconds);
  try {
    while (written < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      if (due > written) {
        const stamp = (performance.timeOrigin + performance.now()).toFixed(3);
        let text = '';
        for (; written < due; written++) {
          // One line per event: Java traces would add lines without a stamp, so only single lines here.
          let ev = src.next();
          while (ev.indexOf('\n') !== ev.length - 1) ev = src.next();
          text += `lat=${stamp} seq=${written} ${ev}`;
        }
        writeSync(fd, text);
      }
      await sleep(2);
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

export interface LatencyResult {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Reads the topic back and computes broker append time - write time for every stamped record. */
export async function latencyFromTopic(
  bootstrap: string,
  topic: string,
  expected: number,
): Promise<LatencyResult> {
  // kafkajs reads only gzip by itself; the producers under test write lz4, snappy, zstd too.
  registerCodecs();
  const msgs = await consumeAll({ bootstrap, topic, expected, timeoutMs: 120_000 });
  const lat: number[] = [];
  for (const m of msgs) {
    const hit = m.value === null ? null : LAT.exec(m.value);
    if (hit) lat.push(Number(m.timestamp) - Number(hit[1]));
  }
  lat.sort((a, b) => a - b);
  return {
    samples: lat.length,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: lat.length ? (lat[lat.length - 1] as number) : Number.NaN,
  };
}
