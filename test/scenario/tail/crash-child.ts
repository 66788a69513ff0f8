/**
 * A Tailer in its own process, for the kill -9 scenario. "Delivery" is an append to
 * `$OUT` (one write per chunk) followed by the acknowledgement, as a Kafka ack would be.
 * Usage: node crash-child.ts (env: LOGS, DATA, OUT). Prints "ready" once started.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LineChunk } from '../../../src/model/line-chunk.ts';
import { silentLogger } from '../../../src/observe/logger.ts';
import { resolveTailSettings, resolveTailSource } from '../../../src/tail/tail-config.ts';
import { Tailer } from '../../../src/tail/tailer.ts';

const logs = process.env['LOGS']!;
const out = process.env['OUT']!;
const tailer: Tailer = new Tailer({
  sources: [resolveTailSource({ name: 'crash', include: [join(logs, '*.log')] })],
  settings: resolveTailSettings({
    checkpoint_flush_interval_ms: 20,
    read_buffer_bytes: 16384,
    scan_interval_ms: 200,
  }),
  dataDir: process.env['DATA']!,
  log: silentLogger(),
  sink: {
    write(chunk: LineChunk) {
      appendFileSync(out, `${chunk.lines.join('\n')}\n`);
      setImmediate(() => tailer.ack(chunk));
      return undefined;
    },
  },
});
await tailer.start();
process.stdout.write('ready\n');
