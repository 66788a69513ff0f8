import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { numbered, TailEnv, waitFor } from './tail-env.ts';

describe('scale', () => {
  let env: TailEnv;
  beforeEach(() => {
    env = new TailEnv();
  });
  afterEach(() => env.cleanup());

  it('a 50 MiB single line is delivered in flagged max_line_bytes pieces without stalling', async () => {
    const size = 50 * 1024 * 1024;
    writeFileSync(env.path('huge.log'), Buffer.concat([Buffer.alloc(size, 'h'), Buffer.from('\nnext\n')]));
    const t = await env.start();
    await waitFor(() => env.sink.lines().at(-1) === 'next', 20_000, 'line after the huge one');
    const lines = env.sink.lines();
    assert.equal(lines.length, 51);
    assert.equal(lines.slice(0, 50).join('').length, size);
    assert.equal(t.stats.truncatedLines, 50);
  });

  it('a 50 MiB single line is delivered whole when max_line_bytes allows it', async () => {
    const size = 50 * 1024 * 1024;
    writeFileSync(env.path('huge.log'), Buffer.concat([Buffer.alloc(size, 'w'), Buffer.from('\n')]));
    await env.start({ max_line_bytes: 64 * 1024 * 1024 });
    await waitFor(() => env.sink.lines().length === 1, 20_000);
    assert.equal(env.sink.lines()[0].length, size);
    assert.equal(env.sink.chunks[0].flags, undefined);
  });

  it('1,000 files are all followed, and new lines in each are picked up', async () => {
    for (let f = 0; f < 1000; f++) env.write(`f${f}.log`, numbered(`f${f}-`, 0, 10));
    const t = await env.start({}, { scan_interval_ms: 1000 });
    await waitFor(() => env.sink.lines().length === 10_000, 15_000);
    assert.equal(t.files().length, 1000);
    for (let f = 0; f < 1000; f++) env.write(`f${f}.log`, [`f${f}-new`]);
    await waitFor(() => env.sink.lines().length === 11_000, 10_000);
    for (const f of [0, 499, 999])
      assert.deepEqual(env.sink.linesOf(`/f${f}.log`), [...numbered(`f${f}-`, 0, 10), `f${f}-new`]);
  });
});
