import { type Static, Type } from '@sinclair/typebox';
import { CompressionSchema } from './codecs/codecs-config.ts';

export const RetrySchema = Type.Object(
  {
    initial_ms: Type.Integer({
      minimum: 1,
      default: 100,
      description: 'First delay before retrying a failed send.',
    }),
    max_ms: Type.Integer({
      minimum: 1,
      default: 30_000,
      description: 'Upper bound of the delay between retries.',
    }),
    multiplier: Type.Number({
      minimum: 1,
      default: 2,
      description: 'Factor by which the delay grows after each failed try (jitter is added on top).',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'Backoff between tries of a batch the broker did not accept.',
  },
);

export const KafkaSinkSchema = Type.Object(
  {
    brokers: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Bootstrap brokers as host:port; several for failover.',
    }),
    topic: Type.String({
      minLength: 1,
      maxLength: 249,
      description: 'Default topic for records whose source names none.',
    }),
    client_id: Type.String({
      default: 'logferry',
      description: 'Kafka client id, visible in broker logs and quotas.',
    }),
    acks: Type.Union([Type.Literal('all'), Type.Literal(1), Type.Literal(0)], {
      default: 'all',
      description:
        'Acknowledgements the broker must give before a batch counts as delivered: all replicas, the leader, or none.',
    }),
    idempotent: Type.Boolean({
      default: true,
      description: 'Idempotent producer (no duplicates from producer retries); needs acks: all.',
    }),
    request_timeout_ms: Type.Integer({
      minimum: 100,
      default: 30_000,
      description: 'How long to wait for a broker to answer one request.',
    }),
    connection_timeout_ms: Type.Integer({
      minimum: 100,
      default: 3_000,
      description: 'How long to wait for a TCP connection to a broker.',
    }),
    compression: CompressionSchema,
    retry: RetrySchema,
  },
  { additionalProperties: false, description: 'Apache Kafka, the destination.' },
);

export const SinkSchema = Type.Object(
  { kafka: KafkaSinkSchema },
  { additionalProperties: false, description: 'Where records go.' },
);

export type KafkaSinkConfig = Static<typeof KafkaSinkSchema>;
export type RetryConfig = Static<typeof RetrySchema>;
