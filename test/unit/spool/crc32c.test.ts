import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32c, crc32cImplementation, crc32cTable } from '../../../src/spool/crc32c.ts';

/** Bit-at-a-time reference, independent of the sliced tables. */
function reference(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

test('crc32c matches the published check value and RFC 3720 vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
});

test('crc32c agrees with a bitwise reference on every length up to 64 and random data', () => {
  const data = randomBytes(4099);
  for (let n = 0; n <= 64; n++)
    assert.equal(crc32c(data.subarray(0, n)), reference(data.subarray(0, n)), `length ${n}`);
  assert.equal(crc32c(data), reference(data));
});

test('the native and the table implementation agree', (t) => {
  t.diagnostic(`crc32c uses the ${crc32cImplementation} implementation`);
  const data = randomBytes(100_003);
  for (const n of [0, 1, 5, 8, 13, 4096, 100_003]) {
    assert.equal(crc32cTable(data.subarray(0, n)), crc32c(data.subarray(0, n)), `length ${n}`);
    assert.equal(
      crc32cTable(data.subarray(n), crc32cTable(data.subarray(0, n))),
      crc32c(data),
      `continued at ${n}`,
    );
  }
});

test('crc32c continues across buffers', () => {
  const data = randomBytes(1000);
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), crc32c(data), `cut at ${cut}`);
  }
});
