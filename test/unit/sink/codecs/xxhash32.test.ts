import assert from 'node:assert/strict';
import { it } from 'node:test';
import { xxhash32 } from '../../../../src/sink/codecs/xxhash32.ts';

it('xxhash32 matches the reference vectors', () => {
  assert.equal(xxhash32(Buffer.alloc(0)), 0x02cc5d05);
  assert.equal(xxhash32(Buffer.from('a')), 0x550d7456);
  assert.equal(xxhash32(Buffer.from('abc')), 0x32d153ff);
  assert.equal(xxhash32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f);
  assert.equal(xxhash32(Buffer.from('xxabcxx'), 2, 5), 0x32d153ff, 'a sub-range');
});
