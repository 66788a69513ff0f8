import { type Static, Type } from '@sinclair/typebox';

/** Names a source's `parser` may use, alone or in a chain. */
export const PARSER_NAMES = [
  'none',
  'json',
  'logfmt',
  'regex',
  'cri',
  'docker',
  'syslog',
  'nginx',
  'apache',
] as const;
export type ParserName = (typeof PARSER_NAMES)[number];

const ParserNameSchema = Type.Union(
  PARSER_NAMES.map((n) => Type.Literal(n)),
  { description: 'A parser name.' },
);

export const MultilineSchema = Type.Object(
  {
    preset: Type.Union(
      [Type.Literal('none'), Type.Literal('java'), Type.Literal('python'), Type.Literal('go')],
      {
        description:
          'Ready-made rules: java (stack traces, Caused by), python (tracebacks), go (panics and goroutine dumps). ' +
          'Explicit start_pattern / continue_pattern override the preset.',
        default: 'none',
      },
    ),
    start_pattern: Type.String({
      description:
        'A line matching this regex starts a new event; other lines are appended to the current one. ' +
        'Mutually exclusive with continue_pattern.',
      default: '',
    }),
    continue_pattern: Type.String({
      description:
        'A line matching this regex continues the previous event; other lines start a new one. ' +
        'Mutually exclusive with start_pattern.',
      default: '',
    }),
    negate: Type.Boolean({ description: 'Invert the pattern match.', default: false }),
    max_lines: Type.Integer({
      description:
        'An event reaching this many lines is emitted (flagged multiline_split) and the next line starts a new one.',
      minimum: 1,
      default: 500,
    }),
    max_bytes: Type.Integer({
      description: 'Like max_lines, in UTF-16 code units of the joined message (about bytes for ASCII).',
      minimum: 1,
      default: 1048576,
    }),
    timeout_ms: Type.Integer({
      description:
        'A held event is emitted when no line was added to it for this long (so the last event of a file is never stuck).',
      minimum: 1,
      default: 1000,
    }),
  },
  { additionalProperties: false, description: 'Join several lines into one event.' },
);
export type MultilineConfig = Static<typeof MultilineSchema>;

/** Per-source parse settings; the config owner spreads these properties into a source's schema. */
export const ParseSourceFields = {
  parser: Type.Union([ParserNameSchema, Type.Array(ParserNameSchema, { minItems: 1 })], {
    description:
      'How lines are parsed: one parser, or a chain applied in order (e.g. [cri, json]: the container ' +
      "runtime's wrapper first, then the application's JSON). cri and docker may only come first.",
    default: 'none',
  }),
  regex: Type.String({
    description:
      'Pattern for the regex parser; named groups become fields (message, time, level are special).',
    default: '',
  }),
  multiline: Type.Optional(MultilineSchema),
  message_field: Type.String({
    description: 'Parsed field that becomes the message; empty means auto (message, msg, log).',
    default: '',
  }),
  timestamp_field: Type.String({
    description: 'Parsed field holding the event time; empty means auto (@timestamp, timestamp, time, ts).',
    default: '',
  }),
  level_field: Type.String({
    description: 'Parsed field holding the level; empty means auto (level, severity, lvl, log.level).',
    default: '',
  }),
  partial_timeout_ms: Type.Integer({
    description: 'CRI/docker partial lines not completed within this time are emitted as they are.',
    minimum: 1,
    default: 5000,
  }),
  partial_max_bytes: Type.Integer({
    description: 'CRI/docker partial lines joined beyond this size are emitted (flagged partial_split).',
    minimum: 1,
    default: 1048576,
  }),
};

export const ParseSourceSchema = Type.Object(
  { name: Type.String({ description: 'Source name.', default: '' }), ...ParseSourceFields },
  { additionalProperties: false },
);

/** What createDecoder needs: the source's name plus its parse settings (missing ones take defaults). */
export type ParseSource = { name: string } & Partial<
  Omit<Static<typeof ParseSourceSchema>, 'name' | 'multiline'>
> & {
    multiline?: Partial<MultilineConfig>;
  };
