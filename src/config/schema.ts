import { type Static, type TObject, type TProperties, Type } from '@sinclair/typebox';
import { BatchSchema, BufferSchema } from '../batch/batch-config.ts';
import { EnrichSettingsSchema, EnrichSourceFields } from '../enrich/enrich-config.ts';
import { MetricsSchema } from '../observe/observe-config.ts';
import { ParseSourceFields } from '../parse/parse-config.ts';
import { SinkSchema } from '../sink/sink-config.ts';
import { SpoolConfigSchema } from '../spool/spool-config.ts';
import { TailSettingsSchema, TailSourceFields } from '../tail/tail-config.ts';

/**
 * The whole configuration, composed from the sections each stage owns. Every field carries a
 * description and a default, so the JSON Schema and the config reference are generated from here.
 */
export const SourceSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      pattern: '^[A-Za-z0-9_.-]+$',
      description: 'Unique name of the source, used in metrics and logs.',
    }),
    ...TailSourceFields,
    ...ParseSourceFields,
    ...EnrichSourceFields,
  },
  { additionalProperties: false, description: 'A set of log files read and shipped alike.' },
);

export const LogSchema = Type.Object(
  {
    level: Type.Union(
      ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: "Level of the agent's own logs (JSON on stderr)." },
    ),
  },
  { additionalProperties: false, default: {}, description: "The agent's own logs." },
);

export const ShutdownSchema = Type.Object(
  {
    timeout_ms: Type.Integer({
      minimum: 0,
      default: 25_000,
      description:
        "On SIGTERM/SIGINT, how long to wait for Kafka to acknowledge what was read before exiting; keep it below the orchestrator's grace period (Kubernetes: 30 s). What is not acknowledged by then is read again after the restart.",
    }),
  },
  { additionalProperties: false, default: {}, description: 'Graceful shutdown.' },
);

export const ConfigSchema = Type.Object(
  {
    data_dir: Type.String({
      minLength: 1,
      default: './data',
      description:
        'Directory for checkpoints and the spool; must be writable and survive restarts. One agent per data_dir: a second one waits shutdown.timeout_ms + 5 s for the first to stop, then exits 9.',
    }),
    sources: Type.Array(SourceSchema, { minItems: 1, description: 'What to read.' }),
    tail: withDefault(TailSettingsSchema),
    enrich: withDefault(EnrichSettingsSchema),
    batch: BatchSchema,
    buffer: BufferSchema,
    sink: SinkSchema,
    spool: SpoolConfigSchema,
    metrics: MetricsSchema,
    shutdown: ShutdownSchema,
    log: LogSchema,
  },
  {
    additionalProperties: false,
    $id: 'https://logferry.dev/schema/config.json',
    title: 'logferry configuration',
  },
);

/** A section whose fields all have defaults may be left out of the file. */
function withDefault<T extends TObject<TProperties>>(schema: T): T {
  return { ...schema, default: {} };
}

export type Config = Static<typeof ConfigSchema>;
export type SourceConfig = Static<typeof SourceSchema>;
