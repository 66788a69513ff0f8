import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { generatedSource } from '../../../scripts/build-wasm.ts';

test('the committed WebAssembly module is what json-escape.wat assembles to', async () => {
  const committed = readFileSync(new URL('../../../src/enrich/json-escape-wasm.ts', import.meta.url), 'utf8');
  assert.equal(
    committed,
    await generatedSource(),
    'stale: run `node scripts/build-wasm.ts` and commit the result',
  );
});
