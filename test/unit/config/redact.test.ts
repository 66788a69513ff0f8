import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REDACTED, redactConfig } from '../../../src/config/redact.ts';

test('redactConfig hides secret-named keys at any depth and leaves everything else', () => {
  const input = Object.freeze({
    sink: {
      kafka: {
        brokers: ['a:9092'],
        sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'hunter2' },
        tls: { key_password: 'k', ca_file: '/etc/ca.pem' },
      },
    },
    sources: [{ name: 'x', fields: { token: 't', team: 'a' } }],
    empty: { password: '' },
    password_file: '/run/secrets/p',
  });
  const out = redactConfig(input);
  assert.equal(out.sink.kafka.sasl.password, REDACTED);
  assert.equal(out.sink.kafka.sasl.username, 'u');
  assert.equal(out.sink.kafka.tls.key_password, REDACTED);
  assert.equal(out.sink.kafka.tls.ca_file, '/etc/ca.pem');
  assert.equal(out.sources[0].fields.token, REDACTED);
  assert.equal(out.sources[0].fields.team, 'a');
  assert.equal(out.empty.password, '', 'an empty secret shows that none is set');
  assert.equal(out.password_file, '/run/secrets/p', 'a path to a secret is not the secret');
  assert.equal(input.sink.kafka.sasl.password, 'hunter2', 'the input is not changed');
  assert.doesNotMatch(JSON.stringify(out), /hunter2/);
});
