import { loadConfig } from '../config/load.ts';
import { createLogger } from '../observe/logger.ts';
import { checkConnection, formatReport } from '../sink/connection-check.ts';

/**
 * `logferry test-connection --config FILE [--produce]`: the report on stdout, the exit code of the
 * first failure (4 unreachable, 5 authentication, 6 topic). Static source topics are checked with
 * sink.kafka.topic; templated ones ("logs-{service.name}") cannot be known before records exist.
 */
export async function testConnectionCommand(opts: { config: string; produce: boolean }): Promise<number> {
  const config = loadConfig(opts.config);
  // kafkajs's own chatter stays out of the report; warnings still reach stderr.
  const log = createLogger(process.env['LOGFERRY_LOG_LEVEL'] ?? 'error');
  const topics = [config.sink.kafka.topic];
  for (const source of config.sources) {
    if (source.topic !== '' && !source.topic.includes('{')) topics.push(source.topic);
  }
  const report = await checkConnection(config.sink.kafka, {
    topics,
    produce: opts.produce,
    batchMaxBytes: config.batch.max_bytes,
    log,
  });
  process.stdout.write(`logferry test-connection ${opts.config}\n${formatReport(report)}`);
  log.flush();
  return report.exitCode;
}
