import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { parseListen } from '../../../src/observe/http-server.ts';
import { MetricsSchema } from '../../../src/observe/observe-config.ts';

describe('MetricsSchema', () => {
  it('defaults to enabled on 127.0.0.1:9464 when the section is left out', () => {
    const cfg = Value.Default(MetricsSchema, Value.Clone(MetricsSchema.default));
    assert.deepEqual(cfg, { enabled: true, listen: '127.0.0.1:9464' });
    assert.ok(Value.Check(MetricsSchema, cfg));
  });

  it('documents every field and rejects unknown keys and malformed addresses', () => {
    for (const [key, prop] of Object.entries(MetricsSchema.properties)) {
      assert.ok(typeof prop.description === 'string' && prop.description.length > 10, key);
      assert.ok('default' in prop, key);
    }
    assert.equal(Value.Check(MetricsSchema, { enabled: true, listen: '127.0.0.1:9464', port: 1 }), false);
    for (const bad of ['9464', 'localhost', '1.2.3.4:', 'a b:1']) {
      assert.equal(Value.Check(MetricsSchema, { enabled: true, listen: bad }), false, bad);
    }
  });

  it('accepts exactly the forms the server can bind', () => {
    for (const ok of ['0.0.0.0:9464', '[::]:9464', ':9464', 'localhost:9464']) {
      assert.ok(Value.Check(MetricsSchema, { enabled: true, listen: ok }), ok);
      assert.doesNotThrow(() => parseListen(ok), ok);
    }
  });
});
