import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from '../../../src/sink/retry.ts';

const policy = { initial_ms: 100, max_ms: 1000, multiplier: 2 };

test('grows exponentially within [half, full] of the step, capped at max_ms', () => {
  assert.equal(
    backoffDelay(policy, 1, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(policy, 1, () => 1),
    100,
  );
  assert.equal(
    backoffDelay(policy, 3, () => 1),
    400,
  );
  assert.equal(
    backoffDelay(policy, 10, () => 1),
    1000,
  );
  assert.equal(
    backoffDelay(policy, 10, () => 0),
    500,
  );
});
