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
  /** Stable label for metrics and logs. */
  reason: string;
  error: LogferryError;
}

interface KafkaLikeError {
  name?: string;
  type?: string;
  message?: string;
  retriable?: boolean;
  cause?: unknown;
}

/** The innermost kafkajs error: kafkajs wraps the real cause in NumberOfRetriesExceeded. */
function innermost(err: KafkaLikeError): KafkaLikeError {
  let e = err;
  for (let i = 0; i < 5 && e.cause && typeof e.cause === 'object'; i++) e = e.cause as KafkaLikeError;
  return e;
}

/**
 * The one table that sorts broker errors into retry or permanent, with the message a user sees.
 * Authorisation and unknown topics are retried: an operator can fix them while the agent waits,
 * and giving up would drop lines; message-too-large can never succeed and is permanent.
 */
export function classifySendError(err: unknown, brokers: readonly string[], topic: string): ClassifiedError {
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
          `topic ${topic} rejected a record as too large: lower batch.max_bytes or raise the topic's max.message.bytes`,
        ),
      };
    case 'TOPIC_AUTHORIZATION_FAILED':
    case 'CLUSTER_AUTHORIZATION_FAILED':
      return {
        disposition: 'retry',
        reason: 'not_authorized',
        error: new BrokerAuthError(
          `not authorised to write to topic ${topic}: grant the producer WRITE on it (ACLs)`,
        ),
      };
    case 'SASL_AUTHENTICATION_FAILED':
      return {
        disposition: 'retry',
        reason: 'auth_failed',
        error: new BrokerAuthError(
          'authentication failed: check sink.kafka SASL mechanism, user and password',
        ),
      };
    case 'UNKNOWN_TOPIC_OR_PARTITION':
      return {
        disposition: 'retry',
        reason: 'unknown_topic',
        error: new TopicError(
          `topic ${topic} does not exist and was not auto-created: create it, or enable auto.create.topics.enable on the broker`,
        ),
      };
  }
  if (
    name === 'KafkaJSConnectionError' ||
    name === 'KafkaJSBrokerNotFound' ||
    /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/.test(message)
  ) {
    return {
      disposition: 'retry',
      reason: 'broker_unreachable',
      error: new BrokerUnreachableError(brokers, message),
    };
  }
  return {
    disposition: 'retry',
    reason: 'send_failed',
    error: new SendError(`send to topic ${topic} failed: ${message}`),
  };
}
