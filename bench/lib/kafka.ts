/**
 * Broker-side bookkeeping for the benchmark: topics per scenario, the record count that verifies a
 * run (sum over partitions of high - low watermark), and waiting for a count with progress.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { createTopic, uniqueTopic } from '../../test/kafka/index.ts';

export class BenchKafka {
  readonly bootstrap: string;
  readonly #admin: Admin;

  private constructor(bootstrap: string, admin: Admin) {
    this.bootstrap = bootstrap;
    this.#admin = admin;
  }

  static async connect(bootstrap: string): Promise<BenchKafka> {
    const admin = new Kafka({
      clientId: 'logferry-bench',
      brokers: [bootstrap],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    return new BenchKafka(bootstrap, admin);
  }

  /** A fresh topic (3 partitions). `logAppendTime`: the broker stamps each batch when it appends it. */
  async topic(prefix: string, opts: { logAppendTime?: boolean } = {}): Promise<string> {
    const name = uniqueTopic(`bench-${prefix}`);
    await createTopic(this.bootstrap, name, {
      partitions: 3,
      configs: opts.logAppendTime ? { 'message.timestamp.type': 'LogAppendTime' } : {},
    });
    return name;
  }

  /** Records in the topic: the sum over partitions of (high watermark - log start). */
  async count(topic: string): Promise<number> {
    const parts = await this.#admin.fetchTopicOffsets(topic);
    let n = 0;
    for (const p of parts) n += Number(p.high) - Number(p.low);
    return n;
  }

  /** Frees the broker's disk between scenarios. */
  async drop(topic: string): Promise<void> {
    await this.#admin.deleteTopics({ topics: [topic], timeout: 30_000 }).catch(() => {});
  }

  async close(): Promise<void> {
    await this.#admin.disconnect().catch(() => {});
  }

  /**
   * Polls the topic's count every `pollMs` until it reaches `expected`, the count stops growing for
   * `stallMs`, or `alive()` turns false. `doneAt` is the performance.now() of the poll that saw the
   * count reached (so the time is accurate to one poll interval).
   */
  async waitForCount(opts: {
    topic: string;
    expected: number;
    stallMs?: number;
    pollMs?: number;
    alive?: () => boolean;
    progress?: (count: number) => void;
  }): Promise<{ reached: boolean; count: number; doneAt: number; why?: string }> {
    const pollMs = opts.pollMs ?? 100;
    const stallMs = opts.stallMs ?? 60_000;
    let last = -1;
    let lastChange = performance.now();
    let lastReport = 0;
    for (;;) {
      const count = await this.count(opts.topic);
      const now = performance.now();
      if (count >= opts.expected) return { reached: true, count, doneAt: now };
      if (count !== last) {
        last = count;
        lastChange = now;
      } else if (now - lastChange > stallMs) {
        return { reached: false, count, doneAt: now, why: `no progress for ${stallMs / 1000} s` };
      }
      if (opts.alive && !opts.alive())
        return { reached: false, count, doneAt: now, why: 'the process exited' };
      if (opts.progress && now - lastReport > 3000) {
        lastReport = now;
        opts.progress(count);
      }
      await sleep(pollMs);
    }
  }
}
