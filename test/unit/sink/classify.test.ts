import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifySendError, ProducerFailure } from '../../../src/sink/classify.ts';

const brokers = ['127.0.0.1:9092'];

test('sorts broker errors into retry or permanent with one-line messages', () => {
  const cases: [unknown, string, string][] = [
    [{ name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' }, 'permanent', 'message_too_large'],
    [{ name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION' }, 'retry', 'unknown_topic'],
    [{ name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED' }, 'retry', 'not_authorized'],
    [
      { name: 'KafkaJSConnectionError', message: 'Connection error: connect ECONNREFUSED' },
      'retry',
      'broker_unreachable',
    ],
    [
      {
        name: 'KafkaJSNumberOfRetriesExceeded',
        cause: { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' },
      },
      'permanent',
      'message_too_large',
    ],
    [new Error('something else'), 'retry', 'send_failed'],
  ];
  for (const [err, disposition, reason] of cases) {
    const c = classifySendError(err, brokers, 'logs');
    assert.equal(c.disposition, disposition, reason);
    assert.equal(c.reason, reason);
    assert.ok(!c.error.message.includes('\n'), 'one line');
    assert.match(c.error.code, /^LOGFERRY_ERR_/);
  }
  assert.match(
    classifySendError({ name: 'KafkaJSConnectionError' }, brokers, 'logs').error.message,
    /127\.0\.0\.1:9092/,
  );
});

test('auth failures name mechanism and user, never the password; TLS and permanent record errors get their own reasons', () => {
  const sasl = { mechanism: 'scram-sha-256', username: 'alice' };
  const auth = classifySendError(
    { name: 'KafkaJSSASLAuthenticationError', message: 'SASL SCRAM SHA256 authentication failed' },
    brokers,
    'logs',
    { sasl },
  );
  assert.equal(auth.reason, 'auth_failed');
  assert.equal(auth.disposition, 'retry');
  assert.match(
    auth.error.message,
    /SASL scram-sha-256 authentication of user alice failed at 127\.0\.0\.1:9092/,
  );
  assert.equal(auth.error.exitCode, 5);
  const tls = classifySendError(
    { name: 'KafkaJSConnectionError', message: 'self-signed certificate in certificate chain' },
    brokers,
    'logs',
    { tls: true },
  );
  assert.equal(tls.reason, 'tls_failed');
  assert.match(tls.error.message, /tls\.ca_file/);
  const topic = classifySendError(
    { name: 'KafkaJSNumberOfRetriesExceeded', cause: { type: 'UNKNOWN_TOPIC_OR_PARTITION' } },
    brokers,
    'logs',
  );
  assert.match(topic.error.message, /topic logs does not exist .*auto-creation is off/);
  assert.equal(topic.error.exitCode, 6);
  assert.equal(classifySendError({ type: 'INVALID_RECORD' }, brokers, 'logs').disposition, 'permanent');
  assert.equal(
    classifySendError({ type: 'INVALID_TOPIC_EXCEPTION' }, brokers, 'b@d').reason,
    'invalid_topic',
  );
  assert.equal(
    classifySendError({ name: 'KafkaJSRequestTimeoutError' }, brokers, 'logs').reason,
    'request_timeout',
  );
  assert.equal(
    classifySendError(new ProducerFailure(auth), ['other:1'], 'x'),
    auth,
    'pre-classified passes through',
  );
});
