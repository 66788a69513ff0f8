import { Agent } from '../agent.ts';
import { loadConfig } from '../config/load.ts';
import { ExitCode } from '../model/errors.ts';
import { createLogger } from '../observe/logger.ts';

const SHUTDOWN_TIMEOUT_MS = 25_000;

/**
 * Runs until SIGTERM or SIGINT, then stops gracefully: flush, wait for acknowledgements within the
 * shutdown timeout, persist checkpoints, exit 0. A second signal exits at once; the checkpoints on
 * disk are then those of the last persist, which is safe (at-least-once).
 */
export async function runCommand(opts: { config: string; dryRun: boolean }): Promise<number> {
  const config = loadConfig(opts.config);
  const log = createLogger(config.log.level);
  const agent = new Agent(config, { log, dryRun: opts.dryRun });
  await agent.start();
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info({ signal }, 'shutting down');
  const again = (s: NodeJS.Signals) => {
    log.warn({ signal: s }, 'second signal: exiting now');
    process.exit(ExitCode.failure);
  };
  process.once('SIGTERM', again);
  process.once('SIGINT', again);
  await agent.stop(SHUTDOWN_TIMEOUT_MS);
  log.flush();
  return ExitCode.ok;
}
