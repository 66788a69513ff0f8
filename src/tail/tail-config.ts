import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Per-source tailing fields. The config owner spreads these into each source's schema, next to
 * `name` and the stage options of other stages (parser, multiline, ...).
 */
export const TailSourceFields = {
  include: Type.Array(Type.String({ minLength: 1 }), {
    minItems: 1,
    description:
      'Glob patterns of files to tail (absolute paths; `*`, `?`, `[...]`, `{a,b}` and `**` for any depth). Symlinks are followed.',
    default: [],
  }),
  exclude: Type.Array(Type.String({ minLength: 1 }), {
    description: 'Glob patterns of files to skip, matched against the same path the include matched.',
    default: [],
  }),
  start_at: Type.Union([Type.Literal('beginning'), Type.Literal('end')], {
    description:
      'Where to start reading a file seen for the first time (no checkpoint). Files that appear while the agent runs are always read from the beginning.',
    default: 'beginning',
  }),
  ignore_older_ms: Type.Integer({
    minimum: 0,
    description:
      'Skip files (without a checkpoint) not modified for longer than this many milliseconds; 0 disables the check.',
    default: 0,
  }),
  max_line_bytes: Type.Integer({
    minimum: 64,
    description:
      "Longest line in bytes. A longer line is split into pieces of at most this size, each flagged 'truncated' and counted; no byte is dropped.",
    default: 1048576,
  }),
};

export const TailSourceSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Name of the source.', default: 'default' }),
    ...TailSourceFields,
  },
  { additionalProperties: false },
);
/** A source as the tailer needs it: its name and the tailing fields. */
export type TailSource = Static<typeof TailSourceSchema>;

export const TailSettingsSchema = Type.Object(
  {
    scan_interval_ms: Type.Integer({
      minimum: 10,
      description:
        'Interval of the safety-net rescan (globs re-evaluated, every tracked file stat-ed). File system events pick up changes faster.',
      default: 10000,
    }),
    watch: Type.Boolean({
      description:
        'Use file system notifications (inotify) for fast pickup. When false, or when a watch cannot be set up, files are polled every poll_interval_ms.',
      default: true,
    }),
    poll_interval_ms: Type.Integer({
      minimum: 10,
      description:
        'Stat polling interval for files whose directory cannot be watched (or all files when watch is false).',
      default: 250,
    }),
    rotate_wait_ms: Type.Integer({
      minimum: 0,
      description:
        'How long a file that was rotated away (renamed or deleted) is kept open after it stopped growing, so its last writes are read.',
      default: 5000,
    }),
    partial_flush_ms: Type.Integer({
      minimum: 0,
      description:
        'An unterminated last line of a file that was rotated away is emitted as a line after this many milliseconds without growth.',
      default: 1000,
    }),
    max_open_files: Type.Integer({
      minimum: 1,
      description:
        'Most files held open at once. Idle files are closed (least recently read first) to make room and reopened on change.',
      default: 1024,
    }),
    close_inactive_ms: Type.Integer({
      minimum: 0,
      description:
        'Close a file that has not grown for this long; it is reopened when it changes. 0 disables.',
      default: 300000,
    }),
    read_buffer_bytes: Type.Integer({
      minimum: 4096,
      description: 'Size of one read; a chunk of lines handed to the pipeline covers at most one read.',
      default: 1048576,
    }),
    read_concurrency: Type.Integer({
      minimum: 1,
      description:
        'Files read at the same time; files take turns, one read each, so a busy file never starves others.',
      default: 4,
    }),
    fingerprint_bytes: Type.Integer({
      minimum: 16,
      description:
        'Bytes at the start of a file hashed into its fingerprint (identity together with device and inode).',
      default: 1024,
    }),
    checkpoint_flush_interval_ms: Type.Integer({
      minimum: 10,
      description: 'How often acknowledged positions are written to the checkpoint file.',
      default: 1000,
    }),
    checkpoint_retention_ms: Type.Integer({
      minimum: 0,
      description: 'Checkpoint entries of files not seen for longer than this are removed.',
      default: 604800000,
    }),
  },
  { additionalProperties: false },
);
export type TailSettings = Static<typeof TailSettingsSchema>;

/** Settings with every default filled in, then `overrides` applied (tests, embedding). */
export function resolveTailSettings(overrides: Partial<TailSettings> = {}): TailSettings {
  return { ...(Value.Create(TailSettingsSchema) as TailSettings), ...overrides };
}

/** A source with every default filled in, then `overrides` applied. */
export function resolveTailSource(overrides: Partial<TailSource> & { include: string[] }): TailSource {
  return { ...(Value.Create(TailSourceSchema) as TailSource), ...overrides };
}
