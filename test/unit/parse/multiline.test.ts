import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LineChunk } from '../../../src/model/line-chunk.ts';
import type { ParsedEvent } from '../../../src/model/record.ts';
import { createDecoder } from '../../../src/parse/decoder.ts';
import { makeChunk } from './chunk-helper.ts';

const javaTrace = [
  '2024-01-02 03:04:05,678 ERROR [main] c.e.App - request failed',
  'java.lang.IllegalStateException: boom',
  '\tat com.example.App.handle(App.java:42)',
  '\tat com.example.App.main(App.java:10)',
  'Caused by: java.io.IOException: disk',
  '\tat com.example.Io.read(Io.java:7)',
  '\t... 2 more',
  '2024-01-02 03:04:06,000 INFO [main] c.e.App - next',
];

describe('multiline', () => {
  it('java preset joins a stack trace into one event at its first line, the next event stays held', () => {
    const d = createDecoder({ name: 'j', multiline: { preset: 'java' } });
    const chunk = makeChunk(javaTrace, { start: 1000 });
    const out: ParsedEvent[] = [];
    d.decode(chunk, out);
    assert.equal(out.length, 1);
    assert.equal(out[0].message, javaTrace.slice(0, 7).join('\n'));
    assert.equal(out[0].offset, 1000);
    assert.equal(d.holding, true);
    assert.equal(chunk.refs, 1 + 2); // processing hold + 1 emitted + 1 held
    d.flushAll(out);
    assert.equal(out[1].message, javaTrace[7]);
    assert.equal(d.holding, false);
  });

  it('start_pattern with negate: lines not starting with a date continue the event', () => {
    const d = createDecoder({
      name: 'j',
      multiline: { start_pattern: String.raw`^\d{4}-\d{2}-\d{2} `, negate: false },
    });
    const out: ParsedEvent[] = [];
    d.decode(makeChunk(javaTrace), out);
    d.flushAll(out);
    assert.deepEqual(
      out.map((e) => e.message),
      [javaTrace.slice(0, 7).join('\n'), javaTrace[7]],
    );
  });

  it('python and go presets', () => {
    const py = [
      'ERROR:root:failed',
      'Traceback (most recent call last):',
      '  File "app.py", line 3, in <module>',
      '    main()',
      'ValueError: bad value',
      'INFO:root:next',
    ];
    const go = [
      'panic: runtime error: index out of range [3] with length 3',
      '',
      'goroutine 1 [running]:',
      'main.main()',
      '\t/app/main.go:8 +0x1d',
      'exit status 2',
      'level=info msg=restarted',
    ];
    const run = (preset: 'python' | 'go', lines: string[]) => {
      const d = createDecoder({ name: preset, multiline: { preset } });
      const out: ParsedEvent[] = [];
      d.decode(makeChunk(lines), out);
      d.flushAll(out);
      return out.map((e) => e.message);
    };
    assert.deepEqual(run('python', py), [py.slice(0, 5).join('\n'), py[5]]);
    assert.deepEqual(run('go', go), [go.slice(0, 6).join('\n'), go[6]]);
  });

  it('a held event keeps its chunk referenced across chunks and is emitted after timeout_ms', () => {
    const d = createDecoder({ name: 'j', multiline: { preset: 'java', timeout_ms: 500 } });
    const c1 = makeChunk(['Exception in thread "main" java.lang.Error'], { start: 0, readAt: 1000 });
    const c2 = makeChunk(['\tat a.b(C.java:1)'], { start: c1.endOffset, readAt: 1100 });
    const out: ParsedEvent[] = [];
    d.decode(c1, out);
    c1.refs--; // the pipeline drops its processing hold
    d.decode(c2, out);
    c2.refs--;
    assert.equal(out.length, 0);
    assert.equal(c1.refs, 1); // the held event's reference: the checkpoint cannot pass it
    assert.equal(c2.refs, 0); // a continuation line takes no reference
    d.flushExpired(1599, out);
    assert.equal(out.length, 0, 'timeout counts from the last line added');
    d.flushExpired(1600, out);
    assert.equal(out.length, 1);
    assert.equal(out[0].chunk, c1);
    assert.equal(out[0].offset, 0);
    assert.equal(out[0].message, 'Exception in thread "main" java.lang.Error\n\tat a.b(C.java:1)');
    assert.equal(d.stats.multiline_timeout, 1);
  });

  it('max_lines splits, flags and never drops a line', () => {
    const d = createDecoder({ name: 'j', multiline: { preset: 'java', max_lines: 3 } });
    const lines = ['head', ...Array.from({ length: 5 }, (_, i) => `\tat f${i}()`)];
    const out: ParsedEvent[] = [];
    d.decode(makeChunk(lines), out);
    d.flushAll(out);
    assert.deepEqual(
      out.map((e) => e.message.split('\n').length),
      [3, 3],
    );
    assert.deepEqual(out[0].flags, ['multiline_split']);
    assert.equal(out.map((e) => e.message).join('\n'), lines.join('\n'));
  });

  it('carries line flags into the joined event', () => {
    const d = createDecoder({ name: 'j', multiline: { preset: 'java' } });
    const out: ParsedEvent[] = [];
    d.decode(makeChunk(['head', '\tat x'], { flags: [undefined, ['truncated']] }), out);
    d.flushAll(out);
    assert.deepEqual(out[0].flags, ['truncated']);
  });

  it('rejects both patterns, no pattern, and an invalid pattern', () => {
    assert.throws(
      () => createDecoder({ name: 'a', multiline: { start_pattern: 'a', continue_pattern: 'b' } }),
      /keep one/,
    );
    assert.throws(() => createDecoder({ name: 'b', multiline: {} }), /needs a preset/);
    assert.throws(() => createDecoder({ name: 'c', multiline: { start_pattern: '[' } }), /not a valid/);
  });
});

describe('cri and docker partial lines', () => {
  it('joins CRI P lines per stream, keeps the first chunk referenced, releases a redundant reference', () => {
    const acked: LineChunk[] = [];
    const d = createDecoder(
      { name: 'k', parser: ['cri', 'json'], multiline: { continue_pattern: '^\\s' } },
      { acknowledger: { ack: (c) => acked.push(c) } },
    );
    const c1 = makeChunk(
      [
        '2024-01-02T03:04:05.000000001Z stdout F {"msg":"start"}',
        '2024-01-02T03:04:05.100Z stderr P {"msg":"pa',
      ],
      { readAt: 10 },
    );
    const c2 = makeChunk(['2024-01-02T03:04:05.200Z stderr F rt","level":"warn"}'], {
      start: c1.endOffset,
      readAt: 20,
    });
    const out: ParsedEvent[] = [];
    d.decode(c1, out);
    c1.refs--;
    assert.equal(out.length, 0); // "start" held by multiline
    d.decode(c2, out);
    c2.refs--;
    // the joined stderr line starts a new event, so "start" is emitted
    assert.equal(out.length, 1);
    assert.equal(out[0].message, 'start');
    d.flushAll(out);
    assert.equal(out[1].message, 'part');
    assert.equal(out[1].level, 'warn');
    assert.equal(out[1].offset, c1.offsets[1]);
    assert.equal(out[1].chunk, c1);
    assert.deepEqual(JSON.parse(JSON.stringify(out[1].fields)), { level: 'warn', stream: 'stderr' });
    assert.equal(c1.refs, 2);
    assert.equal(acked.length, 0);
  });

  it('a CRI partial appended to an older multiline event gives its reference back', () => {
    const acked: LineChunk[] = [];
    const d = createDecoder(
      { name: 'k', parser: 'cri', multiline: { preset: 'java' } },
      { acknowledger: { ack: (c) => acked.push(c) } },
    );
    const c1 = makeChunk(
      ['2024-01-02T03:04:05Z stdout F Exception: x', '2024-01-02T03:04:05Z stdout P \tat a'],
      {
        readAt: 1,
      },
    );
    const c2 = makeChunk(['2024-01-02T03:04:05Z stdout F .b(C.java:1)'], { start: c1.endOffset, readAt: 2 });
    const out: ParsedEvent[] = [];
    d.decode(c1, out);
    c1.refs--;
    d.decode(c2, out);
    c2.refs--;
    assert.equal(c1.refs, 1); // only the multiline event's reference is left
    assert.equal(c2.refs, 0);
    d.flushAll(out);
    assert.equal(out.length, 1);
    assert.equal(out[0].message, 'Exception: x\n\tat a.b(C.java:1)');
  });

  it('emits an unfinished partial after partial_timeout_ms, flagged', () => {
    const d = createDecoder({ name: 'k', parser: 'cri', partial_timeout_ms: 100 });
    const out: ParsedEvent[] = [];
    const c = makeChunk(['2024-01-02T03:04:05Z stdout P half'], { readAt: 1000 });
    d.decode(c, out);
    d.flushExpired(1099, out);
    assert.equal(out.length, 0);
    d.flushExpired(1100, out);
    assert.equal(out[0].message, 'half');
    assert.deepEqual(out[0].flags, ['partial_timeout']);
    assert.equal(c.refs, 2);
  });

  it('splits partials at partial_max_bytes', () => {
    const d = createDecoder({ name: 'k', parser: 'cri', partial_max_bytes: 8 });
    const out: ParsedEvent[] = [];
    d.decode(
      makeChunk([
        '2024-01-02T03:04:05Z stdout P 12345',
        '2024-01-02T03:04:05Z stdout P 6789',
        '2024-01-02T03:04:05Z stdout F 0',
      ]),
      out,
    );
    assert.deepEqual(
      out.map((e) => [e.message, e.flags]),
      [
        ['123456789', ['partial_split']],
        ['0', undefined],
      ],
    );
  });

  it('a malformed CRI line passes through raw and flagged', () => {
    const d = createDecoder({ name: 'k', parser: 'cri' });
    const out: ParsedEvent[] = [];
    d.decode(makeChunk(['not cri at all', '2024-01-02T03:04:05Z stdout F ']), out);
    assert.deepEqual(
      out.map((e) => [e.message, e.flags]),
      [
        ['not cri at all', ['parse_failed']],
        ['', undefined],
      ],
    );
    assert.equal(d.stats.parse_failed, 1);
  });

  it('docker json-file: unwraps log/stream/time, joins lines without a trailing newline', () => {
    const d = createDecoder({ name: 'd', parser: 'docker' });
    const out: ParsedEvent[] = [];
    d.decode(
      makeChunk([
        '{"log":"part1 ","stream":"stdout","time":"2019-01-01T11:11:11.111111111Z"}',
        '{"log":"error!\\r\\n","stream":"stderr","time":"2019-01-01T11:11:11.15Z"}',
        '{"log":"part2\\n","stream":"stdout","time":"2019-01-01T11:11:11.2Z"}',
        'garbage',
      ]),
      out,
    );
    assert.deepEqual(
      out.map((e) => [e.message, e.fields?.['stream'], e.timestamp && new Date(e.timestamp).toISOString()]),
      [
        ['error!', 'stderr', '2019-01-01T11:11:11.150Z'],
        ['part1 part2', 'stdout', '2019-01-01T11:11:11.111Z'],
        ['garbage', undefined, undefined],
      ],
    );
  });
});
