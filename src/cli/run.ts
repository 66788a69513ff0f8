import { Agent } from '../agent.ts';
import { loadConfig } from '../config/load.ts';
import { ExitCode } from '../model/errors.ts';
import { createLogger, type Logger } from '../observe/logger.ts';
import { validateStages } from './check-config.ts';
import { VERSION } from './version.ts';

/**
 * Runs until SIGTERM or SIGINT, then stops gracefully: flush, wait for acknowledgements within the
 * shutdown timeout, persist checkpoints, exit 0. A second signal exits at once; the checkpoints on
 * disk are then those of the last persist, which is safe (at-least-once).
 */
export async function runCommand(opts: { config: string; dryRun: boolean }): Promise<number> {
  const config = loadConfig(opts.config);
  validateStages(config);
  const log = createLogger(config.log.level);
  routeProcessWarnings(log);
  const agent = new Agent(config, { log, dryRun: opts.dryRun, version: VERSION });
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
  await agent.stop(config.shutdown.timeout_ms);
  log.flush();
  return ExitCode.ok;
}

/**
 * Process warnings go to our JSON log instead of bare stderr lines. kafkajs schedules a timer with
 * a negative delay on every response under Node 24 (harmless: Node clamps it to 1 ms); that one
 * is kept at debug so it does not flood the log.
 */
export function routeProcessWarnings(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name === 'TimeoutNegativeWarning') log.debug({ warning: w.name }, w.message);
    else log.warn({ warning: w.name }, w.message);
  });
}
