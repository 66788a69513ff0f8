import assert from 'node:assert/strict';
import { test } from 'node:test';
import { criLine, readCriLine } from '../../../src/parse/cri-bytes.ts';

/** readCriLine on `line` placed between other bytes, as in a read buffer. */
function read(line: string): typeof criLine & { ok: boolean; message: string } {
  const raw = Buffer.from(`xx\n${line}\nyy`);
  const start = 3;
  const end = start + Buffer.byteLength(line);
  const ok = readCriLine(raw, start, end);
  return { ok, ...criLine, message: ok ? raw.toString('utf8', criLine.content, end) : '' };
}

test('reads the time, stream, tag and message of CRI lines', () => {
  const a = read('2026-11-26T10:00:01.123456789Z stdout F hello "world" ü');
  assert.deepEqual(a, {
    ok: true,
    ts: Date.UTC(2026, 10, 26, 10, 0, 1, 123),
    stderr: false,
    partial: false,
    message: 'hello "world" ü',
    content: a.content,
  });
  const b = read('2026-11-26T10:00:00.5+02:00 stderr P piece');
  assert.deepEqual(
    [b.ok, b.ts, b.stderr, b.partial, b.message],
    [true, Date.UTC(2026, 10, 26, 8, 0, 0, 500), true, true, 'piece'],
  );
  const empty = read('2026-11-26T10:00:00Z stdout F');
  assert.deepEqual([empty.ok, empty.message], [true, '']);
});

test('leaves to the decoder what is not a CRI line it can read from bytes', () => {
  for (const line of [
    'not a cri line',
    ' 2026-11-26T10:00:00Z stdout F x',
    '2026-11-26T10:00:00Z stdin F x',
    '2026-11-26T10:00:00Z stdbad F x',
    '2026-11-26T10:00:00Z  stdout F x',
    '2026-11-26T10:00:00Z stdout',
    '2026-11-26T10:00:00Z stdout ',
    '2026-11-26T10:00:00Z stdout FF',
    '2026-11-26T10:00:00Zé stdout F x',
    '2026-13-26T10:00:00Z stdout F x',
    '2026-11-26T10:00:00Z stdout é x',
  ])
    assert.equal(read(line).ok, false, line);
});
