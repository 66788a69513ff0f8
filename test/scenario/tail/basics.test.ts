import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { numbered, TailEnv, waitFor } from './tail-env.ts';

describe('tailer basics (real files)', () => {
  let env: TailEnv;
  beforeEach(() => {
    env = new TailEnv();
  });
  afterEach(() => env.cleanup());

  it('reads existing files from the beginning, in order, with byte offsets', async () => {
    env.write('app.log', ['first', 'second\r', 'third']);
    const t = await env.start();
    await waitFor(() => env.sink.lines().length === 3);
    assert.deepEqual(env.sink.lines(), ['first', 'second', 'third']);
    const c = env.sink.chunks[0];
    assert.deepEqual(c.offsets, [0, 6, 14]);
    assert.equal(c.endOffset, 20);
    assert.equal(c.refs, 1);
    assert.equal(c.source, 'test');
    assert.equal(c.path, env.path('app.log'));
    assert.equal(t.stats.linesEmitted, 3);
  });

  it('picks up a new file and appended lines within a second', async () => {
    await env.start({}, { scan_interval_ms: 60_000, poll_interval_ms: 60_000 });
    const t0 = Date.now();
    env.write('new.log', ['hello']);
    await waitFor(() => env.sink.lines().length === 1, 1000, 'new file via watch');
    env.write('new.log', ['world']);
    await waitFor(() => env.sink.lines().length === 2, 1000, 'append via watch');
    assert.ok(Date.now() - t0 < 1000);
    assert.deepEqual(env.sink.lines(), ['hello', 'world']);
  });

  it('picks up new files by rescan when watching is off', async () => {
    await env.start({}, { watch: false, scan_interval_ms: 50 });
    env.write('p.log', ['polled']);
    await waitFor(() => env.sink.lines().length === 1, 2000);
    env.write('p.log', ['again']);
    await waitFor(() => env.sink.lines().length === 2, 2000);
  });

  it('holds a partial line until it is completed', async () => {
    await env.start();
    env.write('app.log', 'complete\npart');
    await waitFor(() => env.sink.lines().length === 1);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(env.sink.lines(), ['complete']);
    env.write('app.log', 'ial\n');
    await waitFor(() => env.sink.lines().length === 2);
    assert.deepEqual(env.sink.lines(), ['complete', 'partial']);
    assert.equal(env.sink.chunks[1].offsets[0], 9);
  });

  it('persists only acknowledged positions and resumes from them after restart', async () => {
    env.write('app.log', numbered('a', 0, 100));
    env.sink.autoAck = false;
    const t = await env.start();
    await waitFor(() => env.sink.lines().length === 100);
    await t.flushCheckpoints();
    const ck = () => JSON.parse(readFileSync(join(env.data, 'checkpoints.json'), 'utf8')).entries[0].offset;
    assert.equal(ck(), 0, 'nothing acknowledged, checkpoint stays at the start');
    env.write('app.log', numbered('b', 0, 10));
    await waitFor(() => env.sink.lines().length === 110);
    // acknowledge only the first chunk
    t.ack(env.sink.chunks[0]);
    await t.flushCheckpoints();
    const firstEnd = env.sink.chunks[0].endOffset;
    assert.equal(ck(), firstEnd);
    await env.restart();
    await waitFor(() => env.sink.lines().length === 10);
    assert.deepEqual(env.sink.lines(), numbered('b', 0, 10), 'resumes exactly after the acknowledged chunk');
  });

  it('re-delivers nothing after a clean restart when everything was acknowledged', async () => {
    env.write('app.log', numbered('x', 0, 50));
    const t = await env.start();
    await waitFor(() => env.sink.lines().length === 50);
    await waitFor(() => t.stats.chunksAcked === t.stats.chunksEmitted);
    await env.restart();
    env.write('app.log', ['after']);
    await waitFor(() => env.sink.lines().length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(env.sink.lines(), ['after']);
  });

  it('pauses reading while the sink applies backpressure', async () => {
    let release!: () => void;
    let blocked = 0;
    env.sink.write = function (chunk) {
      this.chunks.push(chunk);
      this.ackLater(chunk);
      if (blocked++ === 0) return new Promise<void>((r) => (release = r));
      return undefined;
    };
    env.write('a.log', numbered('a', 0, 5));
    await env.start();
    await waitFor(() => env.sink.chunks.length === 1);
    env.write('b.log', numbered('b', 0, 5));
    env.write('a.log', numbered('a', 5, 10));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(env.sink.chunks.length, 1, 'no reads while the write promise is pending');
    release();
    await waitFor(() => env.sink.lines().length === 15);
  });
});
