import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEnricher } from '../../../src/enrich/enricher.ts';
import type { ParsedEvent } from '../../../src/model/record.ts';
import { createDecoder } from '../../../src/parse/decoder.ts';
import { objectTextWithout } from '../../../src/parse/parsers/json-text.ts';
import { makeChunk } from './chunk-helper.ts';

/** What the fields encode to when the parsed object is re-encoded (the reference). */
function reencoded(line: string, key: string | undefined): unknown {
  const o = JSON.parse(line) as Record<string, unknown>;
  if (key !== undefined) o[key] = undefined;
  return JSON.parse(JSON.stringify(o));
}

describe('objectTextWithout', () => {
  const cases: [string, string | undefined][] = [
    ['{"msg":"a","x":1}', 'msg'],
    ['{"x":1,"msg":"a"}', 'msg'],
    ['{"x":1,"msg":"a","y":[1,{"msg":"inner"}]}', 'msg'],
    ['{"msg":"a"}', 'msg'],
    ['  { "x" : 1 ,  "msg" : "a \\" } ,"  ,  "y": {"z": "}"} }  ', 'msg'],
    ['{"note":"\\"msg\\":\\"fake\\"","msg":"real","n":-1.5e3}', 'msg'],
    ['{"a":"\\\\","msg":"b\\\\","c":true,"d":null,"e":false}', 'msg'],
    ['{"x":{"msg":"nested only"},"message":"top"}', 'message'],
    ['{"x":1,"y":"日本 é 😀"}', undefined],
    ['{"a":[],"b":{},"msg":""}', 'msg'],
  ];
  for (const [line, key] of cases) {
    const escaped = key !== undefined && (line.includes('\\') || line.split(`"${key}"`).length > 2);
    it(`${escaped ? 'declines (escapes or nested namesake)' : `cuts ${key ?? 'nothing'} out of`} ${line.trim().slice(0, 40)}`, () => {
      const start = line.indexOf('{');
      const got = objectTextWithout(line, start, key);
      if (escaped) assert.equal(got, undefined);
      else {
        assert.ok(got !== undefined);
        assert.deepEqual(JSON.parse(got), reencoded(line, key));
      }
    });
  }

  it('declines when the key is duplicated, nested too, or anything is escaped', () => {
    assert.equal(objectTextWithout('{"msg":"a","msg":"b"}', 0, 'msg'), undefined);
    assert.equal(objectTextWithout('{"ms\\u0067":"a","x":{"msg":"b"}}', 0, 'msg'), undefined);
    assert.equal(objectTextWithout('{"x":{"msg":"a"},"msg":"b"}', 0, 'msg'), undefined);
    assert.equal(objectTextWithout('{"a":"\\"","msg":"b"}', 0, 'msg'), undefined);
  });

  it('agrees with re-encoding on random objects', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const strs = [
      'msg',
      'a"b',
      'c\\d',
      '}',
      ']',
      ',',
      ':',
      '{',
      'é',
      ' ',
      'message',
      'msg":',
      '"msg"',
      'x',
      'y',
    ];
    const value = (depth: number): unknown => {
      const k = rnd(depth > 2 ? 4 : 6);
      if (k === 0) return rnd(1000) - 500;
      if (k === 1) return strs[rnd(strs.length)];
      if (k === 2) return [true, false, null][rnd(3)];
      if (k === 3) return rnd(3) === 0 ? 1.5e-7 : strs[rnd(strs.length)] + strs[rnd(strs.length)];
      if (k === 4) return Array.from({ length: rnd(4) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (let n = rnd(5); n > 0; n--) o[strs[rnd(strs.length)]] = value(depth + 1);
      return o;
    };
    let spliced = 0;
    for (let round = 0; round < 500; round++) {
      const o = value(5) as Record<string, unknown>;
      const obj: Record<string, unknown> = typeof o === 'object' && o !== null && !Array.isArray(o) ? o : {};
      for (let n = rnd(4); n > 0; n--) obj[strs[rnd(strs.length)]] = value(1);
      if (rnd(2) === 0) obj['msg'] = 'the message';
      const line = rnd(2) === 0 ? JSON.stringify(obj) : JSON.stringify(obj, null, rnd(3)).replace(/\n/g, ' ');
      const key = 'msg' in obj ? 'msg' : undefined;
      const got = objectTextWithout(line, 0, key);
      if (got === undefined) continue;
      spliced++;
      assert.deepEqual(JSON.parse(got), reencoded(line, key), line);
    }
    assert.ok(spliced > 100, `only ${spliced} of 500 took the cheap path`);
  });
});

describe('json parser record encoding', () => {
  function record(line: string, parser: 'json' | string[] = 'json'): Record<string, unknown> {
    const d = createDecoder({ name: 's', parser: parser as 'json' });
    const out: ParsedEvent[] = [];
    d.decode(makeChunk([line]), out);
    const fe = createEnricher({ name: 's', service: 's' }, { default_topic: 'logs' }).forFile(
      '/l/a.log',
      '1:2:3',
    );
    return JSON.parse(fe.toRecord(out[0]).value) as Record<string, unknown>;
  }

  it('writes the same fields as re-encoding the parsed object, without the message field', () => {
    const line = '{"time":"2024-03-12T06:25:24.123Z","level":"warn","msg":"hi \\"there\\"","user":{"id":1}}';
    const r = record(line);
    assert.equal(r['message'], 'hi "there"');
    assert.deepEqual(r['fields'], { time: '2024-03-12T06:25:24.123Z', level: 'warn', user: { id: 1 } });
  });

  it('keeps the wrapper stream and duplicate keys right (falls back to re-encoding)', () => {
    const dup = record('{"msg":"a","msg":"b","x":1}');
    assert.equal(dup['message'], 'b');
    assert.deepEqual(dup['fields'], { x: 1 });
    const cri = record('2024-03-12T06:25:24.123456789Z stdout F {"msg":"m","x":2}', ['cri', 'json']);
    assert.deepEqual(cri['fields'], { x: 2, stream: 'stdout' });
  });
});
