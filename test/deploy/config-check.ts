import { once } from 'node:events';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { createEnricher } from '../../src/enrich/enricher.ts';
import { validateParseSource } from '../../src/parse/decoder.ts';
import { startAgent } from '../support/agent-process.ts';

/** `node bin/logferry.js check-config FILE` with `env` added to the environment: the CLI as an operator runs it. */
export async function checkConfigCli(
  file: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const a = startAgent(['check-config', file], env);
  const [code] = (await once(a.child, 'exit')) as [number | null];
  return { code, stdout: a.stdout(), stderr: a.stderr() };
}

/**
 * What `run` checks at startup beyond the schema (check-config does not yet): each source's parser
 * chain, multiline and regex patterns, and its key/topic templates. Throws the error `run` would.
 */
export function startupCheck(file: string, env: NodeJS.ProcessEnv): Readonly<Config> {
  const config = loadConfig(file, env);
  for (const source of config.sources) {
    validateParseSource(source);
    createEnricher(source, { ...config.enrich, default_topic: config.sink.kafka.topic }, env);
  }
  return config;
}
