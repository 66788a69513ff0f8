import { stringify as toYaml } from 'yaml';
import { loadConfig } from '../config/load.ts';
import { redactConfig } from '../config/redact.ts';
import type { Config } from '../config/schema.ts';
import { createEnricher } from '../enrich/enricher.ts';
import { ExitCode } from '../model/errors.ts';
import { parseListen } from '../observe/http-server.ts';
import { validateParseSource } from '../parse/decoder.ts';

export interface CheckConfigOptions {
  file: string;
  /** Only the one-line verdict. */
  quiet?: boolean;
  format?: 'yaml' | 'json';
  out?: (text: string) => void;
}

/**
 * Loads and validates like `run` does (schema, then what only the stages can judge: regexes,
 * parser chains, key and topic templates, the listen address), then prints the resolved config,
 * defaults filled and secrets redacted, followed by a one-line verdict. A failure throws the
 * catalog error, which the CLI prints in one line with its exit code.
 */
export function checkConfigCommand(opts: CheckConfigOptions | string): number {
  const o = typeof opts === 'string' ? { file: opts } : opts;
  const out = o.out ?? ((t: string) => process.stdout.write(t));
  const config = loadConfig(o.file);
  validateStages(config);
  if (!o.quiet) {
    const shown = redactConfig(config);
    out(o.format === 'json' ? `${JSON.stringify(shown, null, 2)}\n` : `---\n${toYaml(shown)}`);
  }
  const n = config.sources.length;
  out(
    `${o.file}: valid (${n} source${n === 1 ? '' : 's'}, brokers ${config.sink.kafka.brokers.join(',')}, topic ${config.sink.kafka.topic})\n`,
  );
  return ExitCode.ok;
}

/**
 * The checks the schema cannot make, done by the code that will use the settings, so
 * check-config and `run` (which calls this before starting) reject the same configs.
 */
export function validateStages(config: Readonly<Config>): void {
  const enrichSettings = { ...config.enrich, default_topic: config.sink.kafka.topic };
  for (const source of config.sources) {
    validateParseSource(source);
    createEnricher(source, enrichSettings);
  }
  if (config.metrics.enabled) parseListen(config.metrics.listen);
}
