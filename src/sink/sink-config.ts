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

/**
 * TLS to the brokers. A present block turns TLS on (`enabled: false` turns it off without deleting
 * the block). The PEM files are read once at start; a path that cannot be read is a config error.
 */
export const TlsSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Connect with TLS.' }),
    ca_file: Type.String({
      default: '',
      description: "PEM file of the CA(s) that signed the brokers' certificates; empty: the system's CAs.",
    }),
    cert_file: Type.String({
      default: '',
      description: 'PEM client certificate, for mTLS (with key_file).',
    }),
    key_file: Type.String({
      default: '',
      description: 'PEM private key of the client certificate, for mTLS.',
    }),
    key_password: Type.String({
      default: '',
      description:
        'Passphrase of an encrypted key_file; prefer an environment reference or key_password_file. Never logged.',
    }),
    key_password_file: Type.String({
      default: '',
      description: 'File holding the passphrase of key_file (trailing newline ignored).',
    }),
    server_name: Type.String({
      default: '',
      description: 'Name sent as SNI and checked against the certificate; empty: the broker host name.',
    }),
    verify: Type.Boolean({
      default: true,
      description: "Verify the brokers' certificates against ca_file; turn off only for a throw-away test.",
    }),
  },
  { additionalProperties: false, description: 'TLS (and mTLS) to the brokers.' },
);

/** SASL authentication, over TLS (SASL_SSL) or, without a tls block, plaintext (SASL_PLAINTEXT). */
export const SaslSchema = Type.Object(
  {
    mechanism: Type.Union(
      [Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')],
      { default: 'scram-sha-512', description: 'SASL mechanism the listener expects.' },
    ),
    username: Type.String({ minLength: 1, description: 'SASL user name.' }),
    password: Type.String({
      default: '',
      description:
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${VAR} syntax, shown to users
        'SASL password; take it from the environment as ${KAFKA_PASSWORD}, or use password_file. Never logged.',
    }),
    password_file: Type.String({
      default: '',
      description: 'File holding the SASL password (trailing newline ignored); used when password is empty.',
    }),
  },
  { additionalProperties: false, description: 'SASL authentication (PLAIN or SCRAM).' },
);

export const DeadLetterSchema = Type.Object(
  {
    topic: Type.String({
      minLength: 1,
      maxLength: 249,
      description:
        'Topic for records rejected for good (too large, invalid); they carry headers logferry.error.* and logferry.origin.*.',
    }),
  },
  { additionalProperties: false, description: 'Where records the brokers reject for good go.' },
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
    client: Type.Union([Type.Literal('builtin'), Type.Literal('kafkajs'), Type.Literal('platformatic')], {
      default: 'builtin',
      description:
        "Kafka client behind the producer: builtin (the default: logferry's own producer on node:net/node:tls, record batches encoded by logferry; the least CPU and memory in docs/benchmarks.md), or kafkajs. Both honour every setting of this section. platformatic is accepted as another name for builtin (it named the @platformatic/kafka-based client that builtin replaced).",
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
    max_in_flight_requests: Type.Integer({
      minimum: 1,
      default: 5,
      description:
        "Batches in flight to the brokers at once. With idempotent: true order is kept by the producer's sequence numbers, up to 5 (more is refused); with idempotent: false a retry can reorder records. The kafkajs client keeps order only with 1 and uses 1 when idempotent.",
    }),
    max_message_bytes: Type.Integer({
      minimum: 1024,
      default: 1_048_576,
      description:
        "Largest record (value, key and headers) sent; a larger one is dead-lettered or logged and counted without a broker round trip. Keep it at or below the topic's max.message.bytes.",
    }),
    tls: Type.Optional(TlsSchema),
    sasl: Type.Optional(SaslSchema),
    dead_letter: Type.Optional(DeadLetterSchema),
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
export type TlsConfig = Static<typeof TlsSchema>;
export type SaslConfig = Static<typeof SaslSchema>;
export type DeadLetterConfig = Static<typeof DeadLetterSchema>;
