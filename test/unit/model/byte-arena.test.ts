import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteArena, byteArena } from '../../../src/model/byte-arena.ts';

test('the process has an arena on this Node', () => {
  assert.ok(byteArena !== undefined);
});

test('buffers come from the arena, aligned and apart, until it is full; then ordinary Buffers', () => {
  const arena = new ByteArena(1 << 20);
  const a = arena.alloc(100);
  const b = arena.alloc(300_000);
  assert.ok(arena.contains(a) && arena.contains(b));
  assert.equal(a.length, 100);
  assert.equal(a.byteOffset % 16, 0);
  assert.equal(b.byteOffset % 16, 0);
  assert.ok(b.byteOffset >= a.byteOffset + 112 || a.byteOffset >= b.byteOffset + 300_000, 'no overlap');
  const c = arena.alloc(900_000);
  assert.ok(!arena.contains(c), 'no room left: an ordinary Buffer');
  assert.equal(c.length, 900_000);
  assert.equal(arena.inUse, 112 + 300_000);
});

test('a freed buffer is reused for the same size, and freeing an ordinary Buffer does nothing', () => {
  const arena = new ByteArena(1 << 20);
  const a = arena.alloc(4096);
  arena.free(a);
  assert.equal(arena.inUse, 0);
  const b = arena.alloc(4096);
  assert.equal(b.byteOffset, a.byteOffset);
  const other = arena.alloc(4000);
  assert.notEqual(other.byteOffset, a.byteOffset, 'another size takes new room');
  arena.free(Buffer.alloc(16));
  assert.equal(arena.inUse, 4096 + 4000);
});

test('reserve sets bytes aside for good', () => {
  const arena = new ByteArena(1 << 16);
  const at = arena.reserve(2304);
  assert.ok(at >= 0);
  const a = arena.alloc(64);
  assert.ok(a.byteOffset >= at + 2304);
});
