import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParsedEvent } from '../../../src/model/record.ts';
import { createDecoder, type ParseSource } from '../../../src/parse/decoder.ts';
import { normalizeLevel } from '../../../src/parse/level.ts';
import { makeChunk } from './chunk-helper.ts';

function parse(source: Omit<ParseSource, 'name'>, lines: string[]): ParsedEvent[] {
  const d = createDecoder({ name: 't', ...source });
  const out: ParsedEvent[] = [];
  d.decode(makeChunk(lines), out);
  d.flushAll(out);
  return out;
}

const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

describe('json parser', () => {
  it('moves msg into the message, takes time and level, keeps nested fields', () => {
    const [e] = parse({ parser: 'json' }, [
      '{"level":"WARNING","msg":"disk low","time":"2024-01-01T00:00:00.5+01:00","disk":{"free":3}}',
    ]);
    assert.equal(e.message, 'disk low');
    assert.equal(e.level, 'warn');
    assert.equal(iso(e.timestamp), '2023-12-31T23:00:00.500Z');
    assert.deepEqual(JSON.parse(JSON.stringify(e.fields)), {
      level: 'WARNING',
      time: '2024-01-01T00:00:00.5+01:00',
      disk: { free: 3 },
    });
    assert.equal(e.flags, undefined);
  });

  it('keeps non-object JSON and broken JSON raw, flagged parse_failed, and counts them', () => {
    const d = createDecoder({ name: 't', parser: 'json' });
    const out: ParsedEvent[] = [];
    d.decode(makeChunk(['[1,2]', '{"a":', 'plain']), out);
    assert.deepEqual(
      out.map((e) => [e.message, e.flags]),
      [
        ['[1,2]', ['parse_failed']],
        ['{"a":', ['parse_failed']],
        ['plain', ['parse_failed']],
      ],
    );
    assert.equal(d.stats.parse_failed, 3);
  });

  it('takes epoch seconds and milliseconds and pino numeric levels', () => {
    const [a, b] = parse({ parser: 'json' }, [
      '{"ts":1700000000.25,"level":50}',
      '{"timestamp":1700000000123,"lvl":"E"}',
    ]);
    assert.equal(iso(a.timestamp), '2023-11-14T22:13:20.250Z');
    assert.equal(a.level, 'error');
    assert.equal(iso(b.timestamp), '2023-11-14T22:13:20.123Z');
    assert.equal(b.level, 'error');
  });

  it('honours message_field, timestamp_field and level_field', () => {
    const [e] = parse(
      { parser: 'json', message_field: 'text', timestamp_field: 'at.t', level_field: 'sev' },
      ['{"text":"hi","msg":"not me","at":{"t":"2024-02-03T04:05:06Z"},"sev":"crit"}'],
    );
    assert.equal(e.message, 'hi');
    assert.equal(iso(e.timestamp), '2024-02-03T04:05:06.000Z');
    assert.equal(e.level, 'fatal');
    assert.equal(e.fields!['msg'], 'not me');
  });

  it('a "__proto__" key stays data', () => {
    const [e] = parse({ parser: ['logfmt', 'json'] }, ['__proto__=x msg={"__proto__":{"polluted":1}}']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.ok(e.fields !== undefined);
  });
});

describe('logfmt parser', () => {
  it('parses quoted values with escapes and bare keys', () => {
    const [e] = parse({ parser: 'logfmt' }, [
      'ts=2024-01-01T00:00:00Z level=info msg="hello \\"you\\"\\n" user.id=7 path=/a=b ok',
    ]);
    assert.equal(e.message, 'hello "you"\n');
    assert.equal(e.level, 'info');
    assert.equal(iso(e.timestamp), '2024-01-01T00:00:00.000Z');
    assert.deepEqual(JSON.parse(JSON.stringify(e.fields)), {
      ts: '2024-01-01T00:00:00Z',
      level: 'info',
      'user.id': '7',
      path: '/a=b',
      ok: true,
    });
  });

  it('fails on prose and on an unterminated quote', () => {
    const out = parse({ parser: 'logfmt' }, ['hello world', 'a="open']);
    assert.deepEqual(
      out.map((e) => e.flags),
      [['parse_failed'], ['parse_failed']],
    );
    assert.equal(out[1].message, 'a="open');
  });
});

describe('regex parser', () => {
  it('maps named groups to fields and roles', () => {
    const [e, f] = parse(
      {
        parser: 'regex',
        regex: String.raw`^(?<time>\S+) \[(?<level>\w+)\] (?<component>\w+): (?<message>.*)$`,
      },
      ['2024-05-06T07:08:09Z [ERROR] db: connection refused', 'no match'],
    );
    assert.equal(e.message, 'connection refused');
    assert.equal(e.level, 'error');
    assert.equal(iso(e.timestamp), '2024-05-06T07:08:09.000Z');
    assert.equal(e.fields!['component'], 'db');
    assert.deepEqual(f.flags, ['parse_failed']);
  });

  it('rejects a missing, invalid or unnamed pattern at startup', () => {
    assert.throws(() => createDecoder({ name: 'r1', parser: 'regex' }), /needs a "regex"/);
    assert.throws(() => createDecoder({ name: 'r2', parser: 'regex', regex: '(' }), /not a valid/);
    assert.throws(() => createDecoder({ name: 'r3', parser: 'regex', regex: '(a)' }), /no named group/);
  });
});

describe('syslog parser', () => {
  it('RFC 5424 with structured data and BOM', () => {
    const [e] = parse({ parser: 'syslog' }, [
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\\"x\\]"] \ufeffAn event',
    ]);
    assert.equal(e.message, 'An event');
    assert.equal(e.level, 'info');
    assert.equal(iso(e.timestamp), '2003-10-11T22:14:15.003Z');
    assert.equal(e.fields!['appname'], 'evntslog');
    assert.equal(e.fields!['procid'], undefined);
    assert.deepEqual(JSON.parse(JSON.stringify(e.fields!['structured_data']))['exampleSDID@32473'], {
      iut: '3',
      eventSource: 'App"x]',
    });
  });

  it('RFC 3164 with and without PRI, year inferred from the read time', () => {
    const [a, b, c] = parse({ parser: 'syslog' }, [
      "<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed",
      'Jan  2 01:02:03 web1 CRON[99]: (root) CMD (run)',
      '2024-01-02T03:04:05.123456+00:00 web1 kernel: oops',
    ]);
    assert.equal(a.message, "'su root' failed");
    assert.equal(a.level, 'fatal');
    assert.equal(iso(a.timestamp), '2023-10-11T22:14:15.000Z');
    assert.deepEqual(
      [a.fields!['hostname'], a.fields!['appname'], a.fields!['procid']],
      ['mymachine', 'su', '123'],
    );
    assert.equal(iso(b.timestamp), '2024-01-02T01:02:03.000Z');
    assert.equal(b.level, undefined);
    assert.equal(c.message, 'oops');
    assert.equal(iso(c.timestamp), '2024-01-02T03:04:05.123Z');
  });
});

describe('access log parsers', () => {
  const combined =
    '203.0.113.9 - alice [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.1" 404 512 "https://ref/" "curl/8.0"';
  it('nginx combined', () => {
    const [e] = parse({ parser: 'nginx' }, [combined]);
    assert.equal(e.message, combined);
    assert.equal(e.level, 'warn');
    assert.equal(iso(e.timestamp), '2000-10-10T20:55:36.000Z');
    assert.deepEqual(JSON.parse(JSON.stringify(e.fields)), {
      source: { address: '203.0.113.9' },
      user: { name: 'alice' },
      url: { original: '/a?b=1' },
      http: {
        version: '1.1',
        request: { method: 'GET', referrer: 'https://ref/' },
        response: { status_code: 404, body: { bytes: 512 } },
      },
      user_agent: { original: 'curl/8.0' },
    });
  });
  it('apache common is accepted by apache, not by nginx', () => {
    const line = '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "POST /x HTTP/1.0" 200 -';
    assert.equal(parse({ parser: 'apache' }, [line])[0].flags, undefined);
    assert.deepEqual(parse({ parser: 'nginx' }, [line])[0].flags, ['parse_failed']);
  });
});

describe('levels', () => {
  it('normalises names, syslog severities and pino numbers', () => {
    assert.equal(normalizeLevel('Warning'), 'warn');
    assert.equal(normalizeLevel('ERR'), 'error');
    assert.equal(normalizeLevel('notice'), 'info');
    assert.equal(normalizeLevel(3), 'error');
    assert.equal(normalizeLevel(30), 'info');
    assert.equal(normalizeLevel('Custom'), 'custom');
    assert.equal(normalizeLevel({}), undefined);
  });
});
