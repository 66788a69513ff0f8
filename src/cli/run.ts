import { mkdtempSync, rmSync, type Stats, unwatchFile, watchFile } from 'node:fs';
import { flushCompileCache } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from '../agent.ts';
import { DataDirLock } from '../checkpoint/data-dir-lock.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { ExitCode } from '../model/errors.ts';
import { createLogger, type Logger } from '../observe/logger.ts';
import { createDecoder } from '../parse/decoder.ts';
import { validateStages } from './check-config.ts';
import { VERSION } from './version.ts';

export interface RunOptions {
  config: string;
  dryRun: boolean;
  /** Reload when the config file changes, as on SIGHUP. */
  watchConfig?: boolean;
}

const WATCH_INTERVAL_MS = 500;
const LOCK_WAIT_MARGIN_MS = 5_000;

/**
 * The young generation is sized for how the config's lines travel, and V8 reads the size only at
 * start, so the process replaces itself (execve: same pid, same stdio) with the flag set, unless the
 * user chose a size (`--max-semi-space-size` in the command line or NODE_OPTIONS) or
 * LOGFERRY_NODE_DEFAULTS=0 asks for Node's own defaults. V8's default on a 24 GiB host lets each
 * semi-space grow to 64 MiB (~130 MiB of resident memory). Measured on the 100 MB headline
 * (docs/benchmarks.md, session 3):
 * - every source on the byte path (no parser, wrapper or multiline; the default client): 4 MiB,
 *   peak RSS 167-172 MiB against 204-205 with 16, at the same CPU;
 * - anything else makes a string per line and per record: 16 MiB, about 10% less CPU than 4 with
 *   the json parser, no more memory.
 */
export const YOUNG_SEMI_SPACE_MIB = { bytes: 4, strings: 16 } as const;

function setYoungGeneration(config: Config, dryRun: boolean): void {
  const chosen = `${process.execArgv.join(' ')} ${process.env['NODE_OPTIONS'] ?? ''}`.includes(
    'semi-space-size',
  );
  if (chosen || process.env['LOGFERRY_NODE_DEFAULTS'] === '0' || typeof process.execve !== 'function') return;
  const mib =
    !dryRun && linesTravelAsBytes(config) ? YOUNG_SEMI_SPACE_MIB.bytes : YOUNG_SEMI_SPACE_MIB.strings;
  flushCompileCache();
  process.execve(process.execPath, [
    process.execPath,
    `--max-semi-space-size=${mib}`,
    ...process.execArgv,
    ...process.argv.slice(1),
  ]);
}

/** True when every source's lines take the byte path (Agent.readsBytes) with this config. */
export function linesTravelAsBytes(config: Config): boolean {
  return (
    config.sink.kafka.client !== 'kafkajs' &&
    config.sources.every((source) => createDecoder(source).passesLines)
  );
}

/**
 * Runs until SIGTERM or SIGINT, then stops gracefully: flush, wait for acknowledgements within the
 * shutdown timeout, persist checkpoints, exit 0. A second signal exits at once; the checkpoints on
 * disk are then those of the last persist, which is safe (at-least-once).
 *
 * SIGHUP (and a change of the file with --watch-config) reloads: the file is loaded and validated
 * like at start; an invalid one is logged and the running config stays. Sources are applied live
 * (Agent.reload), log.level too; other changed keys are logged as needing a restart.
 */
export async function runCommand(opts: RunOptions): Promise<number> {
  const loaded = loadConfig(opts.config);
  validateStages(loaded);
  setYoungGeneration(loaded, opts.dryRun);
  // A dry run starts from fresh state in a directory of its own, removed at the end: it neither
  // reads nor moves the checkpoints of an agent running with the same config, so it needs no lock.
  const dryDir = opts.dryRun ? mkdtempSync(path.join(tmpdir(), 'logferry-dry-run-')) : undefined;
  const forRun = (c: Config): Config => (dryDir === undefined ? c : { ...c, data_dir: dryDir });
  const config = forRun(loaded);
  const log = createLogger(config.log.level);
  routeProcessWarnings(log);
  // One agent per data_dir. An agent still stopping (a rolling update) gets its shutdown timeout
  // and a little more to let go.
  const lock =
    dryDir === undefined
      ? await DataDirLock.acquire(config.data_dir, {
          waitMs: config.shutdown.timeout_ms + LOCK_WAIT_MARGIN_MS,
          log,
        })
      : undefined;
  const agent = new Agent(config, { log, dryRun: opts.dryRun, version: VERSION });
  // Listening before start: a signal during start stops the agent once it has started.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  const started = agent.start();
  // Reloads run one at a time, after the start.
  let reloads: Promise<void> = started.catch(() => undefined);
  const reload = (trigger: string) => {
    reloads = reloads.then(() => reloadConfig(agent, opts.config, log, trigger, forRun));
  };
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  const onFileChange = (cur: Stats, prev: Stats) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino || cur.size !== prev.size)
      reload('config file changed');
  };
  if (opts.watchConfig) watchFile(opts.config, { interval: WATCH_INTERVAL_MS }, onFileChange);
  await started;
  // Every module of this configuration is loaded by now (the Kafka client too): written now, the
  // compile cache (bin/logferry.js) serves the next start even if this process never exits cleanly.
  flushCompileCache();
  const signal = await stopSignal;
  process.off('SIGHUP', onHup);
  // Ignored from now on rather than fatal (Node's default for SIGHUP is to exit).
  process.on('SIGHUP', () => undefined);
  if (opts.watchConfig) unwatchFile(opts.config, onFileChange);
  log.info({ signal }, 'shutting down');
  const again = (s: NodeJS.Signals) => {
    log.warn({ signal: s }, 'second signal: exiting now');
    process.exit(ExitCode.failure);
  };
  process.once('SIGTERM', again);
  process.once('SIGINT', again);
  await reloads;
  await agent.stop(config.shutdown.timeout_ms);
  await lock?.release();
  if (dryDir !== undefined) rmSync(dryDir, { recursive: true, force: true });
  log.flush();
  return ExitCode.ok;
}

async function reloadConfig(
  agent: Agent,
  file: string,
  log: Logger,
  trigger: string,
  forRun: (c: Config) => Config,
): Promise<void> {
  let next: Readonly<Config>;
  try {
    next = forRun(loadConfig(file));
    validateStages(next);
  } catch (err) {
    const e = err as Error & { code?: string };
    log.error({ trigger, code: e.code, err: e.message }, 'config reload rejected; the running config stays');
    return;
  }
  try {
    const changes = await agent.reload(next);
    const notApplied = changes.restartRequired.filter((k) => k !== 'log.level');
    if (changes.restartRequired.includes('log.level')) log.level = next.log.level;
    log.info(
      {
        trigger,
        sources_added: changes.sources.added,
        sources_removed: changes.sources.removed,
        sources_changed: changes.sources.changed,
      },
      'config reloaded',
    );
    if (notApplied.length > 0) log.warn({ keys: notApplied }, 'config changes not applied until restart');
  } catch (err) {
    const e = err as Error & { code?: string };
    log.error({ trigger, code: e.code, err: e.message }, 'config reload failed; the running config stays');
  }
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
