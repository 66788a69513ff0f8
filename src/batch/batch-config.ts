import { type Static, Type } from '@sinclair/typebox';

export const BatchSchema = Type.Object(
  {
    max_records: Type.Integer({
      minimum: 1,
      default: 10_000,
      description: 'A batch is sent once it holds this many records.',
    }),
    max_bytes: Type.Integer({
      minimum: 1024,
      default: 786_432,
      description:
        "A batch is sent once its records reach this many bytes before compression; keep it below the broker's and topic's max.message.bytes (1 MiB by default). A batch the broker still finds too large is split in two and sent again.",
    }),
    linger_ms: Type.Integer({
      minimum: 0,
      default: 100,
      description: 'A batch is sent at the latest this long after its first record arrived.',
    }),
  },
  { additionalProperties: false, default: {}, description: 'How records are grouped into sends.' },
);

export const BufferSchema = Type.Object(
  {
    max_bytes: Type.Integer({
      minimum: 65_536,
      default: 67_108_864,
      description:
        'Bytes of log read but not yet acknowledged by Kafka that the agent holds in memory; at the bound tailers stop reading until it drains (backpressure).',
    }),
  },
  { additionalProperties: false, default: {}, description: 'The memory bound.' },
);

export type BatchConfig = Static<typeof BatchSchema>;
export type BufferConfig = Static<typeof BufferSchema>;
