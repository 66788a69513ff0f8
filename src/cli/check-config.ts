import { loadConfig } from '../config/load.ts';
import { ExitCode } from '../model/errors.ts';

export function checkConfigCommand(file: string): number {
  const config = loadConfig(file);
  process.stdout.write(
    `${file}: valid (${config.sources.length} source${config.sources.length === 1 ? '' : 's'}, brokers ${config.sink.kafka.brokers.join(',')}, topic ${config.sink.kafka.topic})\n`,
  );
  return ExitCode.ok;
}
