import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { silentLogger } from '../../../src/observe/logger.ts';
import { SpoolConfigSchema, spoolOptionsFromConfig } from '../../../src/spool/spool-config.ts';

test('SpoolConfigSchema defaults: enabled after 5 s, 1 GiB, block, every_batch, 64 MiB segments', () => {
  const config = Value.Default(SpoolConfigSchema, {});
  assert.ok(Value.Check(SpoolConfigSchema, config));
  assert.deepEqual(config, {
    enabled: true,
    after_ms: 5_000,
    max_bytes: 1_073_741_824,
    when_full: 'block',
    fsync: 'every_batch',
    segment_bytes: 67_108_864,
  });
});

test('SpoolConfigSchema takes an fsync interval and rejects unknown keys and policies', () => {
  assert.ok(
    Value.Check(SpoolConfigSchema, {
      enabled: true,
      after_ms: 0,
      max_bytes: 2_000_000,
      when_full: 'drop_oldest',
      fsync: 250,
      segment_bytes: 65_536,
    }),
  );
  assert.ok(
    !Value.Check(SpoolConfigSchema, {
      ...(Value.Default(SpoolConfigSchema, {}) as object),
      when_full: 'drop_newest',
    }),
  );
  assert.ok(
    !Value.Check(SpoolConfigSchema, { ...(Value.Default(SpoolConfigSchema, {}) as object), fsync: 0 }),
  );
  assert.ok(
    !Value.Check(SpoolConfigSchema, { ...(Value.Default(SpoolConfigSchema, {}) as object), maxBytes: 1 }),
  );
  for (const [key, prop] of Object.entries(SpoolConfigSchema.properties)) {
    assert.ok((prop as { description?: string }).description, `${key} has a description`);
    assert.notEqual((prop as { default?: unknown }).default, undefined, `${key} has a default`);
  }
});

test('spoolOptionsFromConfig maps the section onto Spool.open options', () => {
  const log = silentLogger();
  const o = spoolOptionsFromConfig(
    {
      enabled: true,
      after_ms: 1000,
      max_bytes: 5_000_000,
      when_full: 'drop_oldest',
      fsync: 100,
      segment_bytes: 1_000_000,
    },
    '/var/lib/logferry',
    log,
  );
  assert.equal(o.dir, '/var/lib/logferry');
  assert.equal(o.maxBytes, 5_000_000);
  assert.equal(o.whenFull, 'drop_oldest');
  assert.equal(o.fsync, 100);
  assert.equal(o.segmentBytes, 1_000_000);
  assert.equal(o.log, log);
});
