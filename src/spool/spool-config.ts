import { type Static, Type } from '@sinclair/typebox';
import type { Clock } from '../model/clock.ts';
import type { Logger } from '../observe/logger.ts';
import type { SpoolOptions } from './spool.ts';

export const SpoolConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description:
        'Keep batches the brokers cannot take in a spool on local disk (under data_dir/spool) and send them when the brokers return; false: they wait in memory and the tailers pause.',
    }),
    after_ms: Type.Integer({
      minimum: 0,
      default: 5_000,
      description:
        'How long a batch may keep failing with a retriable error (brokers unreachable, leader elections) before it and the batches behind it go to the spool.',
    }),
    max_bytes: Type.Integer({
      minimum: 1_048_576,
      default: 1_073_741_824,
      description:
        'Bound on the disk space the spool (under data_dir/spool) may use for batches waiting for the brokers; see when_full.',
    }),
    when_full: Type.Union([Type.Literal('block'), Type.Literal('drop_oldest')], {
      default: 'block',
      description:
        'At max_bytes: "block" pauses the tailers until the spool drains (nothing lost while the source files last); "drop_oldest" deletes the oldest segments, counting and logging every dropped record with its source range.',
    }),
    fsync: Type.Union([Type.Literal('every_batch'), Type.Integer({ minimum: 1 })], {
      default: 'every_batch',
      description:
        '"every_batch": a batch is fsynced before its lines count as delivered; a number of milliseconds: fsync at most that often (faster; a power loss, not a crash, may lose that much).',
    }),
    segment_bytes: Type.Integer({
      minimum: 65_536,
      default: 67_108_864,
      description:
        'Size of one spool segment file; space is freed a whole segment at a time. Capped at half of max_bytes.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'The on-disk spool used while the brokers cannot take batches.',
  },
);

export type SpoolConfig = Static<typeof SpoolConfigSchema>;

/** Options for Spool.open from the validated config section. */
export function spoolOptionsFromConfig(
  config: SpoolConfig,
  dataDir: string,
  log: Logger,
  clock?: Clock,
): SpoolOptions {
  return {
    dir: dataDir,
    maxBytes: config.max_bytes,
    whenFull: config.when_full,
    fsync: config.fsync,
    segmentBytes: config.segment_bytes,
    log,
    clock,
  };
}
