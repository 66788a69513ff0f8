import {
  BrokerAuthError,
  BrokerUnreachableError,
  type LogferryError,
  MessageTooLargeError,
  SendError,
  TopicError,
} from '../model/errors.ts';

/** What the engine does with a failed send: try again later, or give the records up as undeliverable. */
export type Disposition = 'retry' | 'permanent';

export interface ClassifiedError {
  disposition: Disposition;
  /** Stable label for metrics and logs (`logferry_sink_retries_total{reason}`). */
  reason: string;
  error: LogferryError;
}

/** What the classifier may name in a message besides the brokers and topic; never a secret. */
export interface ClassifyContext {
  sasl?: { mechanism: string; username: string };
  tls?: boolean;
}

/**
 * A producer's failure already classified where more is known (the SASL user, TLS): the Sender's
 * classifySendError passes it through unchanged. Internal, never shown; its `classified.error` is.
 */
export class ProducerFailure extends Error {
  readonly classified: ClassifiedError;
  constructor(classified: ClassifiedError) {
    super(classified.error.message);
    this.name = 'ProducerFailure';
    this.classified = classified;
  }
}

interface KafkaLikeError {
  name?: string;
  type?: string;
  code?: string;
  message?: string;
  retriable?: boolean;
  cause?: unknown;
  originalError?: unknown;
}

/** The innermost kafkajs error: kafkajs wraps the real cause in NumberOfRetriesExceeded. */
function innermost(err: KafkaLikeError): KafkaLikeError {
  let e = err;
  for (let i = 0; i < 5; i++) {
    const next = e.cause ?? e.originalError;
    if (next === null || typeof next !== 'object') break;
    e = next as KafkaLikeError;
  }
  return e;
}

const UNREACHABLE =
  /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ECONNRESET|Connection timeout/;
const TLS_FAILURE =
  /certificate|self[- ]signed|wrong version number|SSL routines|TLS|EPROTO|handshake|alert|altname|Hostname\/IP/i;

/**
 * The one table that sorts broker errors into retry or permanent, with the message a user sees.
 *
 * | reason              | disposition | why                                                                          |
 * | ------------------- | ----------- | ---------------------------------------------------------------------------- |
 * | broker_unreachable  | retry       | network, broker restart: heals by itself                                     |
 * | request_timeout     | retry       | a slow broker                                                                |
 * | tls_failed          | retry       | certificate or listener mix-up; an operator fixes it while the agent waits   |
 * | auth_failed         | retry       | wrong SASL password/user: fixing the secret (and restarting) must lose no line |
 * | not_authorized      | retry       | missing ACL: an operator can grant it while the agent waits                  |
 * | unknown_topic       | retry       | the topic can be created while the agent waits                              |
 * | message_too_large   | permanent   | the same record can never pass; dead-lettered, or logged and counted         |
 * | invalid_record      | permanent   | e.g. a keyless record for a compacted topic; dead-lettered, or logged        |
 * | invalid_topic       | permanent   | a topic name the broker refuses (bad characters from a template)             |
 * | unsupported_broker  | retry       | a broker older than Kafka 2.4 (built-in client); upgrading it heals the send |
 * | send_failed         | retry       | anything unknown: retrying cannot lose data, dropping could                  |
 *
 * Retried errors back off exponentially up to `retry.max_ms` (30 s) for as long as it takes: the
 * memory bound stops the tailers meanwhile, so there is no busy loop and no unbounded growth, and
 * the error is logged once when it starts and once when delivery recovers. Permanent errors are
 * never retried: the records go to the dead-letter topic or are logged with their origin.
 *
 * kafkajs's own behaviour underneath, per error (seen against Kafka 4.1): a refused connection is
 * retried by kafkajs 3 times (~0.6 s) and then surfaces as NumberOfRetriesExceeded wrapping
 * KafkaJSConnectionError; a producer whose first connect failed answers every send with "The
 * producer is disconnected" until connect() is called again (KafkaProducer reconnects before a
 * send); an unknown topic (auto-creation off) is retried internally (~0.9 s) and then surfaces as
 * NumberOfRetriesExceeded wrapping UNKNOWN_TOPIC_OR_PARTITION; MESSAGE_TOO_LARGE comes back at
 * once, not retried; a wrong SASL password is KafkaJSSASLAuthenticationError, not retried.
 */
export function classifySendError(
  err: unknown,
  brokers: readonly string[],
  topic: string,
  context: ClassifyContext = {},
): ClassifiedError {
  if (err instanceof ProducerFailure) return err.classified;
  const outer = (err ?? {}) as KafkaLikeError;
  const e = innermost(outer);
  const type = e.type ?? outer.type;
  const name = e.name ?? outer.name ?? '';
  const message = e.message ?? outer.message ?? String(err);
  switch (type) {
    case 'MESSAGE_TOO_LARGE':
    case 'RECORD_LIST_TOO_LARGE':
      return {
        disposition: 'permanent',
        reason: 'message_too_large',
        error: new MessageTooLargeError(
          `topic ${topic} rejected a record as larger than its max.message.bytes: raise the topic's max.message.bytes, or lower sink.kafka.max_message_bytes so such records are dead-lettered before sending`,
        ),
      };
    case 'INVALID_RECORD':
    case 'CORRUPT_MESSAGE':
    case 'UNSUPPORTED_COMPRESSION_TYPE':
      return {
        disposition: 'permanent',
        reason: 'invalid_record',
        error: new SendError(
          `topic ${topic} refused a record as invalid (${type}: ${message}): check the topic's settings (a compacted topic needs keys)`,
        ),
      };
    case 'UNSUPPORTED_VERSION':
      return {
        disposition: 'retry',
        reason: 'unsupported_broker',
        error: new SendError(
          `${oneLine(message)}: the built-in client needs Kafka 2.4 or later; upgrade the brokers at ${brokers.join(', ')}, or set sink.kafka.client: kafkajs`,
        ),
      };
    case 'INVALID_TOPIC_EXCEPTION':
      return {
        disposition: 'permanent',
        reason: 'invalid_topic',
        error: new TopicError(
          `topic name "${topic}" is not valid for Kafka: fix the source's topic or the topic template (letters, digits, . _ - only)`,
        ),
      };
    case 'TOPIC_AUTHORIZATION_FAILED':
    case 'CLUSTER_AUTHORIZATION_FAILED':
    case 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED':
      return {
        disposition: 'retry',
        reason: 'not_authorized',
        error: new BrokerAuthError(
          `${context.sasl ? `user ${context.sasl.username} is` : 'this client is'} not authorised to write to topic ${topic} (${type}): grant it WRITE and DESCRIBE on the topic (and IDEMPOTENT_WRITE on the cluster for the idempotent producer) with kafka-acls`,
        ),
      };
    case 'SASL_AUTHENTICATION_FAILED':
    case 'ILLEGAL_SASL_STATE':
    case 'UNSUPPORTED_SASL_MECHANISM':
      return authFailed(context, brokers, type);
    case 'UNKNOWN_TOPIC_OR_PARTITION':
      return {
        disposition: 'retry',
        reason: 'unknown_topic',
        error: new TopicError(
          `topic ${topic} does not exist and the broker did not create it (auto-creation is off: auto.create.topics.enable=false): create the topic, or enable auto-creation on the broker`,
        ),
      };
  }
  if (name === 'KafkaJSSASLAuthenticationError') return authFailed(context, brokers, undefined);
  if (name === 'KafkaJSRequestTimeoutError') {
    return {
      disposition: 'retry',
      reason: 'request_timeout',
      error: new SendError(
        `a broker did not answer within sink.kafka.request_timeout_ms sending to topic ${topic}: check the broker's load, or raise request_timeout_ms`,
      ),
    };
  }
  if (context.tls && TLS_FAILURE.test(message)) {
    return {
      disposition: 'retry',
      reason: 'tls_failed',
      error: new BrokerUnreachableError(
        brokers,
        `TLS: ${oneLine(message)}; check sink.kafka.tls.ca_file and server_name, and that this port is a TLS listener`,
      ),
    };
  }
  if (
    name === 'KafkaJSConnectionError' ||
    name === 'KafkaJSConnectionClosedError' ||
    name === 'KafkaJSBrokerNotFound' ||
    name === 'KafkaJSNoBrokerAvailableError' ||
    UNREACHABLE.test(message)
  ) {
    return {
      disposition: 'retry',
      reason: 'broker_unreachable',
      error: new BrokerUnreachableError(brokers, oneLine(message)),
    };
  }
  return {
    disposition: 'retry',
    reason: 'send_failed',
    error: new SendError(`send to topic ${topic} failed: ${oneLine(message)}`),
  };
}

function authFailed(
  context: ClassifyContext,
  brokers: readonly string[],
  type: string | undefined,
): ClassifiedError {
  const who = context.sasl
    ? `SASL ${context.sasl.mechanism} authentication of user ${context.sasl.username}`
    : 'authentication';
  return {
    disposition: 'retry',
    reason: 'auth_failed',
    error: new BrokerAuthError(
      `${who} failed at ${brokers.join(', ')}${type ? ` (${type})` : ''}: check sink.kafka.sasl.username, the password (or password_file) and that the listener expects this mechanism`,
    ),
  };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').slice(0, 300);
}
