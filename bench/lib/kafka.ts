/**
 * Broker-side bookkeeping for the benchmark: topics per scenario, the record count that verifies a
 * run (sum over partitions of high - low watermark), and waiting for a count with progress.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { registerCodecs } from '../../src/sink/codecs/index.ts';
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
    const parts = await this.#offsets(topic);
    let n = 0;
    for (const p of parts) n += Number(p.high) - Number(p.low);
    return n;
  }

  /**
   * A topic's offsets. Right after its creation a broker may still answer NOT_LEADER_FOR_PARTITION
   * (its metadata named the leader before the partition was ready there): retriable errors are
   * retried every 200 ms for up to 10 s.
   */
  async #offsets(topic: string): Promise<Array<{ high: string; low: string }>> {
    const deadline = performance.now() + 10_000;
    for (;;) {
      try {
        return await this.#admin.fetchTopicOffsets(topic);
      } catch (err) {
        if (!(err as { retriable?: boolean }).retriable || performance.now() > deadline) throw err;
        await sleep(200);
      }
    }
  }

  /**
   * The shape of one record of the topic (the first of partition 0 that arrives): its key and its
   * value's JSON members, nested ones in braces, e.g. `key host-1, {@timestamp,message,log{file{path},offset}}`.
   * It shows in the scenario notes that two rows wrote the same kind of record.
   */
  async recordShape(topic: string, timeoutMs = 20_000): Promise<string> {
    registerCodecs();
    const consumer = new Kafka({
      clientId: 'logferry-bench',
      brokers: [this.bootstrap],
      logLevel: logLevel.NOTHING,
    }).consumer({
      groupId: uniqueTopic('bench-shape'),
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const first = await new Promise<{ key: string | null; value: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no record within the timeout')), timeoutMs);
        void consumer.run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? '' });
          },
        });
      });
      let members: string;
      try {
        members = shapeOf(JSON.parse(first.value));
      } catch {
        members = `not JSON: ${first.value.slice(0, 60)}`;
      }
      return `key ${first.key ?? 'null'}, ${members}`;
    } catch (err) {
      return `unread: ${(err as Error).message}`;
    } finally {
      await consumer.disconnect().catch(() => {});
    }
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

/** `{a,b{c,d}}` for a JSON value's object members; other values are leaves. */
function shapeOf(v: unknown): string {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return '';
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => k + shapeOf(x))
    .join(',')}}`;
}
