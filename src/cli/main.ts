import { ExitCode, LogferryError } from '../model/errors.ts';
import { parseRunArgs } from './run-args.ts';
import { VERSION } from './version.ts';

/** `--config FILE`, which every command that reads the config takes. */
function configOption(describe = 'Config file (YAML or JSON)') {
  return { alias: 'c', type: 'string', demandOption: true, describe } as const;
}

/**
 * Thin: parse arguments, call in. Each command's module is imported when it runs, so `--help` and
 * `version` do not load Kafka clients, parsers and metrics.
 * Every user-facing failure ends as one line and a distinct exit code. */
async function main(argv: string[]): Promise<number> {
  // The agent as services start it: no yargs in its memory (see parseRunArgs).
  const run = parseRunArgs(argv);
  if (run !== undefined) return (await import('./run.ts')).runCommand(run);
  const { default: yargs } = await import('yargs');
  let code: number = ExitCode.ok;
  await yargs(argv)
    .scriptName('logferry')
    .usage('$0 <command> [options]')
    .command(
      'run',
      'Tail the configured files and ship every line to Kafka',
      (y) =>
        y
          .option('config', configOption())
          .option('dry-run', {
            type: 'boolean',
            default: false,
            describe:
              'Write the records as NDJSON to stdout instead of Kafka, from fresh state (a temporary data_dir: the checkpoints in data_dir are neither read nor moved)',
          })
          .option('watch-config', {
            type: 'boolean',
            default: false,
            describe: 'Reload when the config file changes, as on SIGHUP (sources apply live)',
          })
          .example('$0 run --config /etc/logferry/logferry.yaml', 'ship to Kafka')
          .example('$0 run --config logferry.yaml --dry-run | head', 'see the records without a broker')
          .example(
            'kill -HUP $(pidof logferry)',
            'reload: added and removed sources apply without a restart',
          ),
      async (args) => {
        code = await (await import('./run.ts')).runCommand({
          config: args.config,
          dryRun: args['dry-run'],
          watchConfig: args['watch-config'],
        });
      },
    )
    .command(
      'check-config <file>',
      'Validate a config file and print it resolved; exit 0 when valid, 3 when not',
      (y) =>
        y
          .positional('file', { type: 'string', demandOption: true, describe: 'Config file (YAML or JSON)' })
          .option('quiet', {
            alias: 'q',
            type: 'boolean',
            default: false,
            describe: 'Print only the one-line verdict, not the resolved config',
          })
          .option('format', {
            choices: ['yaml', 'json'] as const,
            default: 'yaml' as const,
            describe: 'Format of the resolved config',
          })
          .example(
            '$0 check-config /etc/logferry/logferry.yaml',
            'resolved config (secrets redacted), then the verdict',
          )
          .example(
            '$0 check-config -q logferry.yaml && systemctl reload logferry',
            'validate before a reload',
          ),
      async (args) => {
        code = (await import('./check-config.ts')).checkConfigCommand({
          file: args.file,
          quiet: args.quiet,
          format: args.format,
        });
      },
    )
    .command(
      'lag',
      'Show how far a Kafka consumer group is behind, per partition (committed vs end offset)',
      (y) =>
        y
          .option('config', configOption('Config file: brokers, TLS and SASL are taken from sink.kafka'))
          .option('group', { alias: 'g', type: 'string', demandOption: true, describe: 'Consumer group id' })
          .option('topic', {
            alias: 't',
            type: 'string',
            describe: 'Only this topic (default: every topic the group committed offsets for)',
          })
          .option('format', { choices: ['table', 'json'] as const, default: 'table' as const })
          .example('$0 lag --config logferry.yaml --group indexer', 'lag of every topic the group reads')
          .example('$0 lag -c logferry.yaml -g indexer -t logs --format json', 'one topic, as JSON'),
      async (args) => {
        code = await (await import('./lag.ts')).lagCommand({
          config: args.config,
          group: args.group,
          topic: args.topic,
          format: args.format,
        });
      },
    )
    .command(
      'top',
      'Live view of a running agent from its /status endpoint (plain frames when stdout is not a terminal)',
      (y) =>
        y
          .option('url', {
            alias: 'u',
            type: 'string',
            default: '127.0.0.1:9464',
            describe: "The agent's metrics.listen address (http:// and /status optional)",
          })
          .option('interval', {
            alias: 'n',
            type: 'number',
            default: 1,
            describe: 'Seconds between frames; rates are measured over this interval',
          })
          .option('once', {
            type: 'boolean',
            default: false,
            describe: 'Print one frame (rates over one interval) and exit',
          })
          .example('$0 top', 'watch the agent on this host')
          .example(
            '$0 top --url 10.0.0.7:9464 --once --interval 5',
            'one frame, rates over 5 s, for a script',
          ),
      async (args) => {
        code = await (await import('./top.ts')).topCommand({
          url: args.url,
          intervalSeconds: args.interval,
          once: args.once,
        });
      },
    )
    .command(
      'test-connection',
      'Connect and authenticate as the agent would, check the topics and their size limits; exit 4/5/6 on failure',
      (y) =>
        y
          .option('config', configOption())
          .option('produce', {
            type: 'boolean',
            default: false,
            describe: 'Also send one test record to sink.kafka.topic',
          })
          .example(
            '$0 test-connection --config /etc/logferry/logferry.yaml',
            'is Kafka reachable with these settings?',
          )
          .example('$0 test-connection -c logferry.yaml --produce', 'and can we write to the topic?'),
      async (args) => {
        code = await (await import('./test-connection.ts')).testConnectionCommand({
          config: args.config,
          produce: args.produce,
        });
      },
    )
    .command('spool', 'Look into the on-disk spool (batches kept while the brokers were away)', (y) =>
      y
        .command(
          'inspect',
          'Segments, records, bytes, oldest and newest time, counts per topic',
          (z) =>
            z
              .option('config', configOption())
              .option('json', { type: 'boolean', default: false, describe: 'One JSON document' }),
          async (args) => {
            code = await (await import('./spool.ts')).spoolInspectCommand({
              config: args.config,
              json: args.json,
            });
          },
        )
        .command(
          'drain',
          'Print the spooled records as NDJSON (--dry-run); the agent drains the spool itself',
          (z) =>
            z.option('config', configOption()).option('dry-run', {
              type: 'boolean',
              default: false,
              describe: 'Print only; send and remove nothing',
            }),
          async (args) => {
            code = await (await import('./spool.ts')).spoolDrainCommand({
              config: args.config,
              dryRun: args['dry-run'],
            });
          },
        )
        .demandCommand(1, 'Name a spool command: inspect, drain'),
    )
    .command(
      'version',
      'Print the version',
      (y) => y.example('$0 version', 'logferry 0.1.0 (node 24.x)'),
      () => {
        process.stdout.write(`logferry ${VERSION} (node ${process.versions.node})\n`);
      },
    )
    .demandCommand(1, 'Name a command: run, check-config, version (see --help)')
    .strict()
    .version(VERSION)
    .help()
    .epilogue(
      'Exit codes: 0 ok, 1 failure, 2 usage, 3 config, 4 broker unreachable, 5 authentication, 6 topic, 7 file I/O, 8 spool.',
    )
    .fail((msg, err, y) => {
      if (err) throw err;
      process.stderr.write(`${y.help() && ''}logferry: ${msg}\n`);
      process.exit(ExitCode.usage);
    })
    .parseAsync();
  return code;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit explicitly once stdout has drained: a dry run's last records must not be cut, and no
    // stray handle may keep a stopped agent alive.
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    if (err instanceof LogferryError) {
      process.stderr.write(`logferry: ${err.message} [${err.code}]\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`logferry: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = ExitCode.failure;
  },
);
