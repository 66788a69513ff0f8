import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseConfigError } from '../../../src/model/errors.ts';
import type { ParsedEvent } from '../../../src/model/record.ts';
import { createDecoder } from '../../../src/parse/decoder.ts';
import { makeChunk } from './chunk-helper.ts';

describe('decoder, parser none', () => {
  it('makes one event per line with offsets, one reference each, and no fields', () => {
    const d = createDecoder({ name: 'app' });
    const chunk = makeChunk(['first line', 'second ünïcode', ''], { start: 100 });
    const out: ParsedEvent[] = [];
    d.decode(chunk, out);
    assert.equal(out.length, 3);
    assert.deepEqual(
      out.map((e) => [e.message, e.offset]),
      [
        ['first line', 100],
        ['second ünïcode', 111],
        ['', 128],
      ],
    );
    assert.equal(chunk.refs, 4); // processing hold + one per event
    for (const e of out) {
      assert.equal(e.chunk, chunk);
      assert.equal(e.fields, undefined);
      assert.equal(e.timestamp, undefined);
      assert.equal(e.level, undefined);
      assert.equal(e.flags, undefined);
    }
    assert.equal(d.stats.lines, 3);
    assert.equal(d.stats.events, 3);
    assert.equal(d.holding, false);
  });

  it('carries per-line flags into a copy on the event', () => {
    const d = createDecoder({ name: 'app', parser: 'none' });
    const flags = [undefined, ['truncated'] as const, ['invalid_utf8'] as const];
    const chunk = makeChunk(['a', 'b', 'c'], { flags });
    const out: ParsedEvent[] = [];
    d.decode(chunk, out);
    assert.equal(out[0].flags, undefined);
    assert.deepEqual(out[1].flags, ['truncated']);
    assert.deepEqual(out[2].flags, ['invalid_utf8']);
    out[1].flags!.push('x');
    assert.deepEqual(flags[1], ['truncated']);
  });

  it('flushAll and flushExpired emit nothing when nothing is held', () => {
    const d = createDecoder({ name: 'app' });
    const out: ParsedEvent[] = [];
    d.flushExpired(Date.now(), out);
    d.flushAll(out);
    assert.equal(out.length, 0);
  });

  it('rejects an unknown parser and a cri that is not first', () => {
    assert.throws(() => createDecoder({ name: 'x', parser: 'xml' as 'none' }), ParseConfigError);
    assert.throws(() => createDecoder({ name: 'y', parser: ['none', 'cri'] }), /must come first/);
  });
});
