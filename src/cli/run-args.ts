import type { RunOptions } from './run.ts';

/**
 * `run` with only its own options, the way a service manager or a container starts the agent
 * (`run --config FILE`, `-c FILE`, `--config=FILE`, `--dry-run`, `--watch-config`), read without
 * yargs: loaded, yargs would stay in the agent's memory for its whole life (~15 MiB of RSS: its help
 * layout loads ICU's text segmentation data). Returns undefined for anything else (help, another
 * command, an option it does not know, a missing or repeated config), which goes through yargs as
 * before, with its messages and exit codes.
 */
export function parseRunArgs(argv: readonly string[]): RunOptions | undefined {
  if (argv[0] !== 'run') return undefined;
  let config: string | undefined;
  let dryRun = false;
  let watchConfig = false;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as string;
    let value: string | undefined;
    if (arg === '--config' || arg === '-c') {
      value = argv[++i];
      if (value === undefined || value.startsWith('-')) return undefined;
    } else if (arg.startsWith('--config=')) value = arg.slice('--config='.length);
    else if (arg === '--dry-run') dryRun = true;
    else if (arg === '--watch-config') watchConfig = true;
    else return undefined;
    if (value !== undefined) {
      if (config !== undefined || value === '') return undefined;
      config = value;
    }
  }
  return config === undefined ? undefined : { config, dryRun, watchConfig };
}
