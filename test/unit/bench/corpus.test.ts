import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { generateCorpus, LineSource, parseSize } from '../../../bench/corpus.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'bench-corpus-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function take(src: LineSource, events: number): string {
  let s = '';
  for (let i = 0; i < events; i++) s += src.next();
  return s;
}

describe('bench corpus', () => {
  it('is the same text for the same seed and different for another', () => {
    assert.equal(take(new LineSource(3), 500), take(new LineSource(3), 500));
    assert.notEqual(take(new LineSource(3), 500), take(new LineSource(4), 500));
  });

  it('mixes nginx, JSON and multiline Java events, and counts physical lines', () => {
    const src = new LineSource(1);
    const text = take(src, 5000);
    assert.ok(src.kinds.nginx > 0 && src.kinds.json > 0 && src.kinds.java > 0, JSON.stringify(src.kinds));
    assert.equal(text.split('\n').length - 1, src.lines);
    assert.ok(text.includes('\tat com.shop.'));
    assert.ok(/^\{"@timestamp":"[^"]+","level":/m.test(text));
    assert.ok(/^\d+\.\d+\.\d+\.\d+ - - \[\d\d\/\w{3}\/\d{4}:/m.test(text));
    assert.ok(!text.includes('\n\n'), 'no empty lines (each line must be one record)');
  });

  it('writes files whose line count matches the manifest, spread over several files', () => {
    const c = generateCorpus({ out: dir, bytes: 300_000, files: 3, seed: 9 });
    assert.equal(c.files.length, 3);
    let lines = 0;
    let bytes = 0;
    for (const f of c.files) {
      const t = readFileSync(f, 'utf8');
      lines += t.split('\n').length - 1;
      bytes += Buffer.byteLength(t);
      assert.ok(t.endsWith('\n'));
    }
    assert.equal(lines, c.lines);
    assert.equal(bytes, c.bytes);
    assert.ok(c.bytes >= 300_000 && c.bytes < 310_000, String(c.bytes));
    // Reused, not rewritten, on the second call with the same parameters.
    assert.deepEqual(generateCorpus({ out: dir, bytes: 300_000, files: 3, seed: 9 }), c);
  });

  it('parses sizes', () => {
    assert.equal(parseSize('100MB'), 100e6);
    assert.equal(parseSize('2GB'), 2e9);
    assert.equal(parseSize('512MiB'), 512 * 1024 ** 2);
    assert.equal(parseSize('1.5g'), 1.5e9);
    assert.equal(parseSize('4096'), 4096);
    assert.throws(() => parseSize('lots'), /bad size/);
  });
});
