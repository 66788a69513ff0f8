import { type Admin, Kafka } from 'kafkajs';
import { loadConfig } from '../config/load.ts';
import { ExitCode, LogferryError, TopicError } from '../model/errors.ts';
import { createLogger } from '../observe/logger.ts';
import { classifySendError } from '../sink/classify.ts';
import { kafkaClientConfig } from '../sink/kafka-client.ts';
import { routeProcessWarnings } from './run.ts';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** The group's committed offset; undefined when it committed none for this partition. */
  committed: number | undefined;
  /** Log end offset (high watermark). */
  end: number;
  /** end - committed; when nothing is committed, everything still in the log (end - start). */
  lag: number;
}

export interface LagOptions {
  config: string;
  group: string;
  topic?: string | undefined;
  format?: 'table' | 'json';
  out?: (text: string) => void;
}

/**
 * `logferry lag`: how far a consumer group is behind, per partition (committed offset vs log end
 * offset), read with the same connection settings (TLS, SASL) as the agent's producer.
 */
export async function lagCommand(opts: LagOptions): Promise<number> {
  const out = opts.out ?? ((t: string) => process.stdout.write(t));
  const config = loadConfig(opts.config);
  const log = createLogger('warn');
  routeProcessWarnings(log);
  const kafka = new Kafka({
    ...kafkaClientConfig(config.sink.kafka, log),
    retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const rows = await consumerLag(admin, opts.group, opts.topic);
    if (opts.format === 'json') {
      out(`${JSON.stringify({ group: opts.group, partitions: rows }, null, 2)}\n`);
    } else {
      out(renderLagTable(opts.group, rows));
    }
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof LogferryError) throw err;
    throw classifySendError(err, config.sink.kafka.brokers, opts.topic ?? config.sink.kafka.topic).error;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Lag per partition of `topic`, or of every topic the group has committed offsets for. */
export async function consumerLag(admin: Admin, group: string, topic?: string): Promise<PartitionLag[]> {
  if (topic !== undefined) {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) {
      throw new TopicError(`topic ${topic} does not exist on the cluster: check the name given to --topic`);
    }
  }
  const committed = await admin.fetchOffsets(
    topic === undefined ? { groupId: group } : { groupId: group, topics: [topic] },
  );
  const rows: PartitionLag[] = [];
  for (const t of committed) {
    const ends = await admin.fetchTopicOffsets(t.topic);
    const byPartition = new Map(t.partitions.map((p) => [p.partition, Number(p.offset)]));
    for (const e of ends) {
      const end = Number(e.high);
      const c = byPartition.get(e.partition);
      const has = c !== undefined && c >= 0;
      rows.push({
        topic: t.topic,
        partition: e.partition,
        committed: has ? c : undefined,
        end,
        lag: has ? Math.max(0, end - c) : Math.max(0, end - Number(e.low)),
      });
    }
  }
  rows.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return rows;
}

export function renderLagTable(group: string, rows: readonly PartitionLag[]): string {
  if (rows.length === 0)
    return `group ${group}: no committed offsets (unknown group, or it has not committed yet)\n`;
  const head = ['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG'];
  const body = rows.map((r) => [
    r.topic,
    String(r.partition),
    r.committed === undefined ? '-' : String(r.committed),
    String(r.end),
    String(r.lag),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const total = rows.reduce((a, r) => a + r.lag, 0);
  return `${[line(head), ...body.map(line)].join('\n')}\ngroup ${group}: ${total} messages behind in ${rows.length} partition${rows.length === 1 ? '' : 's'}\n`;
}
