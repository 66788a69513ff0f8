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
      default: 524_288,
      description:
        "A batch is sent once its records reach this many bytes before compression; keep it below the broker's and topic's max.message.bytes (1 MiB by default). A batch the broker still finds too large is split in two and sent again. The default is measured (docs/benchmarks.md, batch defaults): against 256 KiB it sent 15-60% more lines/s for less CPU per GiB and the same memory, with p99 latency at 10k lines/s 94 instead of 48 ms (batches then close on linger_ms).",
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
      default: 16_777_216,
      description:
        "Memory held for what was read but is not yet acknowledged by Kafka (or spooled): the raw bytes of each read until its lines are acknowledged, plus each record (its JSON value, key and ~512 bytes of per-record overhead) until it is delivered. At the bound the tailers stop reading until it drains (backpressure). It bounds the log data, not the process: Node, V8's garbage-collection headroom and the Kafka client come on top (see docs/tuning.md). 16 MiB kept full speed in the benchmark (4 MiB did too); a larger one absorbs longer broker stalls when the spool is off.",
    }),
  },
  { additionalProperties: false, default: {}, description: 'The memory bound.' },
);

export type BatchConfig = Static<typeof BatchSchema>;
export type BufferConfig = Static<typeof BufferSchema>;
