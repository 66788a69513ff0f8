import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyEnvOverrides, validateConfig } from '../../../src/config/load.ts';

const base = () => ({
  sources: [{ name: 'a', include: ['/x/*.log'] }],
  sink: { kafka: { brokers: ['127.0.0.1:9092'], topic: 'logs' } },
});

test('LOGFERRY_<KEY_PATH> overrides scalars and string lists, resolving keys with underscores', () => {
  const raw = base();
  const applied = applyEnvOverrides(raw, {
    LOGFERRY_SINK_KAFKA_BROKERS: 'a:1, b:2',
    LOGFERRY_METRICS_LISTEN: '0.0.0.0:9464',
    LOGFERRY_DATA_DIR: '/var/lib/logferry',
    LOGFERRY_BATCH_LINGER_MS: '5',
    LOGFERRY_SINK_KAFKA_IDEMPOTENT: 'false',
    LOGFERRY_SINK_KAFKA_ACKS: '1',
    LOGFERRY_TEST_SOMETHING_ELSE: 'ignored',
    PATH: '/bin',
  });
  assert.deepEqual(applied.sort(), [
    'batch.linger_ms',
    'data_dir',
    'metrics.listen',
    'sink.kafka.acks',
    'sink.kafka.brokers',
    'sink.kafka.idempotent',
  ]);
  const config = validateConfig(raw);
  assert.deepEqual(config.sink.kafka.brokers, ['a:1', 'b:2']);
  assert.equal(config.metrics.listen, '0.0.0.0:9464');
  assert.equal(config.data_dir, '/var/lib/logferry');
  assert.equal(config.batch.linger_ms, 5);
  assert.equal(config.sink.kafka.idempotent, false);
  assert.equal(config.sink.kafka.acks, 1);
});

test('a bad override is reported by validation like a bad file value', () => {
  const raw = base();
  applyEnvOverrides(raw, { LOGFERRY_BATCH_LINGER_MS: 'soon' });
  assert.throws(() => validateConfig(raw, 'env'), /batch\.linger_ms/);
});
