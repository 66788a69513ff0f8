import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifySendError } from '../../../src/sink/classify.ts';

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
