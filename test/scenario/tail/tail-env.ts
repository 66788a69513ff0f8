import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChunkSink, LineChunk } from '../../../src/model/line-chunk.ts';
import { silentLogger } from '../../../src/observe/logger.ts';
import {
  resolveTailSettings,
  resolveTailSource,
  type TailSettings,
  type TailSource,
} from '../../../src/tail/tail-config.ts';
import { Tailer } from '../../../src/tail/tailer.ts';

/** Settings that make scenarios fast: short timers, small buffers. */
export const fastSettings: Partial<TailSettings> = {
  scan_interval_ms: 200,
  poll_interval_ms: 50,
  rotate_wait_ms: 300,
  partial_flush_ms: 100,
  checkpoint_flush_interval_ms: 50,
};

/** Records chunks; acknowledges them immediately unless `autoAck` is off. */
export class RecordingSink implements ChunkSink {
  readonly chunks: LineChunk[] = [];
  autoAck = true;
  tailer: Tailer | undefined;
  write(chunk: LineChunk): undefined | Promise<void> {
    this.chunks.push(chunk);
    if (this.autoAck) this.ackLater(chunk);
    return undefined;
  }
  ackLater(chunk: LineChunk): void {
    queueMicrotask(() => this.tailer?.ack(chunk));
  }
  lines(): string[] {
    return this.chunks.flatMap((c) => c.lines);
  }
  linesOf(pathSuffix: string): string[] {
    return this.chunks.filter((c) => c.path.endsWith(pathSuffix)).flatMap((c) => c.lines);
  }
}

/** A temp directory with `logs/` and `data/`, a tailer over `logs/`, and helpers to write and rotate. */
export class TailEnv {
  readonly root: string;
  readonly logs: string;
  readonly data: string;
  sink = new RecordingSink();
  tailer: Tailer | undefined;
  released: string[] = [];

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'logferry-tail-'));
    this.logs = join(this.root, 'logs');
    this.data = join(this.root, 'data');
    mkdirSync(this.logs);
  }

  path(name: string): string {
    return join(this.logs, name);
  }

  write(name: string, lines: string[] | string): void {
    appendFileSync(this.path(name), typeof lines === 'string' ? lines : lines.map((l) => `${l}\n`).join(''));
  }

  create(name: string, content = ''): void {
    writeFileSync(this.path(name), content);
  }

  rotate(name: string, to = `${name}.1`): void {
    renameSync(this.path(name), this.path(to));
  }

  remove(name: string): void {
    rmSync(this.path(name));
  }

  async start(
    source: Partial<TailSource> = {},
    settings: Partial<TailSettings> = {},
    include = [join(this.logs, '*.log')],
  ): Promise<Tailer> {
    const tailer = new Tailer({
      sources: [resolveTailSource({ name: 'test', include, ...source })],
      settings: resolveTailSettings({ ...fastSettings, ...settings }),
      dataDir: this.data,
      sink: this.sink,
      log: silentLogger(),
      onFileClosed: (id) => this.released.push(id),
    });
    this.sink.tailer = tailer;
    this.tailer = tailer;
    await tailer.start();
    return tailer;
  }

  async restart(source: Partial<TailSource> = {}, settings: Partial<TailSettings> = {}): Promise<Tailer> {
    await this.tailer?.stop();
    this.sink = new RecordingSink();
    return this.start(source, settings);
  }

  async stop(): Promise<void> {
    await this.tailer?.stop();
  }

  async cleanup(): Promise<void> {
    await this.tailer?.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Polls `cond` every 10 ms until true, failing after `timeoutMs`. Real files need real time. */
export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function numbered(prefix: string, from: number, to: number): string[] {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push(`${prefix}${i}`);
  return out;
}
