import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { type KafkaSinkConfig, KafkaSinkSchema } from '../../src/sink/sink-config.ts';

/** A `sink.kafka` section with the schema's defaults filled in, checked (the first error named). */
export function kafkaSinkConfig(settings: Record<string, unknown>): KafkaSinkConfig {
  const v = Value.Default(KafkaSinkSchema, settings);
  assert.ok(Value.Check(KafkaSinkSchema, v), JSON.stringify([...Value.Errors(KafkaSinkSchema, v)][0]));
  return v as KafkaSinkConfig;
}
