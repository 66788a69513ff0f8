import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffConfig } from '../../../src/config/diff.ts';
import { validateConfig } from '../../../src/config/load.ts';

const base = {
  sources: [
    { name: 'a', include: ['/a/*.log'] },
    { name: 'b', include: ['/b/*.log'] },
  ],
  sink: { kafka: { brokers: ['k:9092'], topic: 't' } },
};

test('diffConfig names added, removed and changed sources and the other keys that changed', () => {
  const prev = validateConfig(base);
  const next = validateConfig({
    ...base,
    sources: [
      { name: 'b', include: ['/b/*.log'], service: 'svc' },
      { name: 'c', include: ['/c/*.log'] },
    ],
    batch: { max_records: 7 },
    sink: { kafka: { brokers: ['k:9092', 'k2:9092'], topic: 't' } },
  });
  const d = diffConfig(prev, next);
  assert.deepEqual(d.sources, { added: ['c'], removed: ['a'], changed: ['b'] });
  assert.deepEqual(d.restartRequired.sort(), ['batch.max_records', 'sink.kafka.brokers']);
});

test('an identical config changes nothing', () => {
  const d = diffConfig(validateConfig(base), validateConfig(structuredClone(base)));
  assert.deepEqual(d, { sources: { added: [], removed: [], changed: [] }, restartRequired: [] });
});
