import { hostname } from 'node:os';
import { type Admin, type ConfigResourceTypes, Kafka } from 'kafkajs';
import { ExitCode, type LogferryError } from '../model/errors.ts';
import type { LineChunk } from '../model/line-chunk.ts';
import type { Logger } from '../observe/logger.ts';
import { type ClassifyContext, classifySendError, type ProducerFailure } from './classify.ts';
import { createProducer } from './create-producer.ts';
import { kafkaClientConfig, securityProtocol } from './kafka-client.ts';
import type { KafkaSinkConfig } from './sink-config.ts';

/** One line of the report: what was checked, how it went, and the detail (with the fix when not ok). */
export interface CheckLine {
  status: 'ok' | 'warn' | 'fail';
  what: string;
  detail: string;
}

export interface ConnectionReport {
  lines: CheckLine[];
  /** ExitCode.ok, or the first failure's: 4 unreachable, 5 authentication, 6 topic, 1 other. */
  exitCode: number;
}

export interface ConnectionCheckOptions {
  /** Topics records may go to (sink.kafka.topic, static source topics); the dead-letter topic is added. */
  topics: readonly string[];
  /** Send one test record to the first topic. */
  produce: boolean;
  /** batch.max_bytes, compared with the topics' limits too. */
  batchMaxBytes?: number;
  log: Logger;
}

const TOPIC = 2 as ConfigResourceTypes;
const BROKER = 4 as ConfigResourceTypes;

/**
 * `logferry test-connection`: connect and authenticate as the agent would (same client settings),
 * then check the target topics exist or may be auto-created, compare their max.message.bytes with
 * the configured limits, and optionally produce one record through the agent's own producer. Every
 * failure is reported with the same one-line classified message the agent would log.
 */
export async function checkConnection(
  config: KafkaSinkConfig,
  opts: ConnectionCheckOptions,
): Promise<ConnectionReport> {
  const lines: CheckLine[] = [];
  let exitCode: number = ExitCode.ok;
  const fail = (what: string, error: LogferryError): ConnectionReport => {
    lines.push({ status: 'fail', what, detail: `${error.message} [${error.code}]` });
    if (exitCode === ExitCode.ok) exitCode = error.exitCode;
    return { lines, exitCode };
  };
  const context: ClassifyContext = {
    tls: config.tls?.enabled === true,
    sasl: config.sasl && { mechanism: config.sasl.mechanism, username: config.sasl.username },
  };
  const classify = (err: unknown, topic: string) => classifySendError(err, config.brokers, topic, context);
  const topics = [...new Set([...opts.topics, ...(config.dead_letter ? [config.dead_letter.topic] : [])])];

  const admin: Admin = new Kafka({
    ...kafkaClientConfig(config, opts.log),
    retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 },
  }).admin();
  try {
    let cluster: Awaited<ReturnType<Admin['describeCluster']>>;
    try {
      await admin.connect();
      cluster = await admin.describeCluster();
    } catch (err) {
      return fail('connect', classify(err, config.topic).error);
    }
    const auth = config.sasl ? `, SASL ${config.sasl.mechanism} as ${config.sasl.username}` : '';
    lines.push({
      status: 'ok',
      what: 'connect',
      detail: `${securityProtocol(config)}${auth} via ${config.brokers.join(', ')}; cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s): ${cluster.brokers.map((b) => `${b.host}:${b.port}`).join(', ')}`,
    });

    const brokerSettings = await describe(admin, BROKER, String(cluster.brokers[0]?.nodeId ?? 0), [
      'auto.create.topics.enable',
      'message.max.bytes',
    ]);
    const autoCreate = brokerSettings?.get('auto.create.topics.enable');
    const brokerLimit = numberOr(brokerSettings?.get('message.max.bytes'));
    let existing: Set<string>;
    try {
      existing = new Set(await admin.listTopics());
    } catch (err) {
      return fail('topics', classify(err, config.topic).error);
    }
    for (const topic of topics) {
      if (!existing.has(topic)) {
        if (autoCreate === 'true') {
          lines.push({
            status: 'ok',
            what: `topic ${topic}`,
            detail: `does not exist yet; the broker creates it on the first send (auto.create.topics.enable=true)${brokerLimit ? `, with message.max.bytes ${brokerLimit}` : ''}`,
          });
          if (brokerLimit !== undefined) limits(lines, topic, brokerLimit, config, opts.batchMaxBytes);
        } else {
          const known =
            autoCreate === undefined
              ? 'auto-creation could not be checked (no DescribeConfigs right)'
              : 'auto-creation is off (auto.create.topics.enable=false)';
          lines.push({
            status: 'fail',
            what: `topic ${topic}`,
            detail: `does not exist and ${known}: create it (kafka-topics.sh --create --topic ${topic}) or enable auto-creation [LOGFERRY_ERR_TOPIC]`,
          });
          if (exitCode === ExitCode.ok) exitCode = ExitCode.topic;
        }
        continue;
      }
      const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
      const partitions = meta?.topics[0]?.partitions.length;
      const topicSettings = await describe(admin, TOPIC, topic, ['max.message.bytes']);
      const limit = numberOr(topicSettings?.get('max.message.bytes'));
      lines.push({
        status: 'ok',
        what: `topic ${topic}`,
        detail: `exists${partitions === undefined ? '' : `, ${partitions} partition(s)`}${limit === undefined ? '' : `, max.message.bytes ${limit}`}`,
      });
      if (limit !== undefined) limits(lines, topic, limit, config, opts.batchMaxBytes);
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }

  if (opts.produce && exitCode === ExitCode.ok) {
    const topic = topics[0];
    const producer = createProducer(config, opts.log);
    try {
      await producer.connect();
      const value = JSON.stringify({
        '@timestamp': new Date().toISOString(),
        message: 'logferry test-connection',
        host: { name: hostname() },
        labels: { logferry_test: 'true' },
      });
      const chunk = { path: '(test-connection)' } as LineChunk;
      await producer.send({
        topic,
        records: [{ topic, key: hostname(), value, chunk }],
        bytes: value.length,
      });
      lines.push({
        status: 'ok',
        what: 'produce',
        detail: `one test record acknowledged by topic ${topic} (acks ${config.acks})`,
      });
    } catch (err) {
      const classified = (err as ProducerFailure).classified ?? classify(err, topic);
      fail('produce', classified.error);
    } finally {
      await producer.disconnect().catch(() => {});
    }
  }
  return { lines, exitCode };
}

/** Warns where a record the agent would send is larger than what the broker accepts for the topic. */
function limits(
  lines: CheckLine[],
  topic: string,
  limit: number,
  config: KafkaSinkConfig,
  batchMaxBytes?: number,
): void {
  if (config.max_message_bytes > limit) {
    lines.push({
      status: 'warn',
      what: `limit ${topic}`,
      detail: `sink.kafka.max_message_bytes ${config.max_message_bytes} is above the topic's max.message.bytes ${limit}: records in between are refused by the broker (then dead-lettered or dropped); set max_message_bytes to ${limit} or raise the topic's limit`,
    });
  }
  if (batchMaxBytes !== undefined && batchMaxBytes > limit) {
    lines.push({
      status: 'warn',
      what: `limit ${topic}`,
      detail: `batch.max_bytes ${batchMaxBytes} is above the topic's max.message.bytes ${limit}: full batches are refused and split in two; set batch.max_bytes below ${limit}`,
    });
  }
}

/** The named settings of one resource, or undefined when they cannot be read (ACLs, old broker). */
async function describe(
  admin: Admin,
  type: ConfigResourceTypes,
  name: string,
  configNames: string[],
): Promise<Map<string, string> | undefined> {
  try {
    const res = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type, name, configNames }],
    });
    const resource = res.resources[0];
    if (resource === undefined || resource.errorCode !== 0) return undefined;
    return new Map(resource.configEntries.map((e) => [e.configName, e.configValue]));
  } catch {
    return undefined;
  }
}

function numberOr(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** The report as the CLI prints it: one line per check, then the verdict. */
export function formatReport(report: ConnectionReport): string {
  const width = Math.max(...report.lines.map((l) => l.what.length), 7);
  let out = '';
  for (const l of report.lines) {
    out += `${l.status === 'ok' ? 'ok  ' : l.status === 'warn' ? 'WARN' : 'FAIL'}  ${l.what.padEnd(width)}  ${l.detail}\n`;
  }
  out +=
    report.exitCode === ExitCode.ok
      ? `result: ok${report.lines.some((l) => l.status === 'warn') ? ' (with warnings)' : ''}\n`
      : `result: failed (exit ${report.exitCode})\n`;
  return out;
}
