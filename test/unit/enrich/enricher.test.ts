import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEnricher } from '../../../src/enrich/enricher.ts';
import type { ParsedEvent } from '../../../src/model/record.ts';
import { createDecoder } from '../../../src/parse/decoder.ts';
import { makeChunk } from '../parse/chunk-helper.ts';

function decodeOne(lines: string[]): ParsedEvent[] {
  const out: ParsedEvent[] = [];
  createDecoder({ name: 'app' }).decode(makeChunk(lines, { start: 10 }), out);
  return out;
}

describe('enricher defaults (issue 2 shape)', () => {
  it('produces exactly the foundation record with parser none, keyed by host, default topic', () => {
    const enr = createEnricher({ name: 'app', service: 'checkout' }, { default_topic: 'logs' }, {});
    const fe = enr.forFile('/var/log/app/app.log', 'dev1:ino42:fp0');
    const [ev] = decodeOne(['hello "world"']);
    const rec = fe.toRecord(ev);
    assert.equal(rec.topic, 'logs');
    assert.equal(rec.key, enr.hostName);
    assert.equal(rec.chunk, ev.chunk);
    const v = JSON.parse(rec.value);
    assert.deepEqual(Object.keys(v), [
      '@timestamp',
      'message',
      'host',
      'service',
      'log',
      'event',
      'schema_version',
    ]);
    assert.equal(v['@timestamp'], '2024-01-02T03:04:05.678Z');
    assert.equal(v.message, 'hello "world"');
    assert.deepEqual(v.host, { name: enr.hostName });
    assert.deepEqual(v.service, { name: 'checkout' });
    assert.deepEqual(v.log, { file: { path: '/var/log/app/app.log' }, offset: 10 });
    assert.match(v.event.id, /^[0-9a-f]{16}-10$/);
    assert.equal(v.schema_version, 1);
  });

  it('uses NODE_NAME, then host_name override, for host.name', () => {
    const a = createEnricher({ name: 'app' }, { default_topic: 'logs' }, { NODE_NAME: 'node-7' });
    assert.equal(a.hostName, 'node-7');
    const b = createEnricher(
      { name: 'app' },
      { default_topic: 'logs', host_name: 'h1' },
      { NODE_NAME: 'node-7' },
    );
    assert.equal(b.hostName, 'h1');
  });

  it('falls back to the source name for service.name and to the read time for @timestamp', () => {
    const enr = createEnricher({ name: 'web' }, { default_topic: 'logs' }, {});
    const [ev] = decodeOne(['x']);
    const v = JSON.parse(enr.forFile('/tmp/a.log', 'f').toRecord(ev, Date.UTC(2020, 5, 6, 7, 8, 9, 5)).value);
    assert.equal(v.service.name, 'web');
    assert.equal(v['@timestamp'], '2020-06-06T07:08:09.005Z');
  });

  it('gives deterministic event ids from file identity and offset', () => {
    const enr = createEnricher({ name: 'app' }, { default_topic: 'logs' }, {});
    const evs = decodeOne(['a', 'b']);
    const id = (fileId: string, ev: ParsedEvent) =>
      JSON.parse(enr.forFile('/p', fileId).toRecord(ev).value).event.id;
    assert.equal(id('f1', evs[0]), id('f1', evs[0]));
    assert.notEqual(id('f1', evs[0]), id('f1', evs[1]));
    assert.notEqual(id('f1', evs[0]), id('f2', evs[0]));
  });

  it('encodes flags and level under log, escapes control characters', () => {
    const enr = createEnricher({ name: 'app' }, { default_topic: 'logs' }, {});
    const [ev] = decodeOne(['tab\there \u0001 "q" \\']);
    ev.flags = ['truncated'];
    ev.level = 'warn';
    const v = JSON.parse(enr.forFile('/p', 'f').toRecord(ev).value);
    assert.equal(v.message, 'tab\there \u0001 "q" \\');
    assert.deepEqual(v.log.flags, ['truncated']);
    assert.equal(v.log.level, 'warn');
  });
});

describe('isoTime', () => {
  it('matches Date.toISOString across days, leap days, epoch and millisecond edges', async () => {
    const { isoTime } = await import('../../../src/enrich/enricher.ts');
    const samples = [
      0,
      1,
      999,
      1000,
      86_399_999,
      86_400_000,
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(2024, 2, 1),
      1_710_224_725_123,
      -1,
      -86_400_001,
    ];
    let x = 12345;
    for (let i = 0; i < 2000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      samples.push(Math.floor((x / 2147483648) * 4_102_444_800_000));
    }
    for (const ms of samples) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  });
});

describe('jsonString', () => {
  it('equals JSON.stringify for quotes, backslashes, control characters, surrogates and plain text', async () => {
    const { jsonString } = await import('../../../src/enrich/enricher.ts');
    const samples = [
      '',
      'plain text with nothing to escape',
      'say "hi"',
      'C:\\path',
      'tab\there',
      'nul\u0000 us\u001f del\u007f',
      'latin1 zoë müller',
      'pair 😀 ok',
      'lone high \ud83d end',
      'lone low \ude00 end',
      '\u2028\u2029',
    ];
    const alphabet = ['a', ' ', '"', '\\', '\n', '\u0001', '\u001f', ' ', 'é', '€', '\ud83d', '\ude00', '/'];
    let x = 4242;
    for (let i = 0; i < 3000; i++) {
      let s = '';
      x = (x * 1103515245 + 12345) % 2147483648;
      const len = x % 24;
      for (let k = 0; k < len; k++) {
        x = (x * 1103515245 + 12345) % 2147483648;
        s += alphabet[x % alphabet.length];
      }
      samples.push(s);
    }
    for (const s of samples) assert.equal(jsonString(s), JSON.stringify(s), JSON.stringify(s));
  });

  it('gives the same record bytes for a message with nothing to escape as for one that needs escaping', () => {
    const enr = createEnricher({ name: 'app', service: 'checkout' }, { default_topic: 'logs' }, {});
    const fe = enr.forFile('/var/log/app/app.log', 'dev1:ino42:fp0');
    const evs = decodeOne(['GET /index.html 200 12ms', 'GET "/q" 200']);
    for (const ev of evs) {
      const v = fe.toRecord(ev).value;
      const m = JSON.stringify(ev.message);
      assert.equal(
        v,
        `{"@timestamp":"2024-01-02T03:04:05.678Z","message":${m},"host":{"name":${JSON.stringify(enr.hostName)}},` +
          `"service":{"name":"checkout"},"log":{"file":{"path":"/var/log/app/app.log"},"offset":${ev.offset}},` +
          `"event":{"id":${JSON.stringify(JSON.parse(v).event.id)}},"schema_version":1}`,
      );
    }
  });
});

describe('record @timestamp', () => {
  it('matches Date.toISOString for event times in the same second, across seconds, fractional and negative', () => {
    const enr = createEnricher({ name: 'app' }, { default_topic: 'logs' }, {});
    const fe = enr.forFile('/p', 'f');
    const [ev] = decodeOne(['x']);
    const base = Date.UTC(2024, 2, 12, 6, 25, 1, 0);
    const samples = [
      base,
      base + 1,
      base + 999,
      base + 1000,
      base + 1000.7,
      base + 5,
      -1,
      -999,
      -1000,
      -1001,
      0,
      0.5,
    ];
    let x = 99;
    for (let i = 0; i < 500; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      samples.push(base + (x % 5000) - 2500);
    }
    for (const ms of samples) {
      ev.timestamp = ms;
      const v = fe.toRecord(ev).value;
      assert.ok(
        v.startsWith(`{"@timestamp":"${new Date(Math.floor(ms)).toISOString()}","message":"x",`),
        `${ms}: ${v}`,
      );
    }
  });
});

describe('lineRoute: records of bare lines written as bytes', () => {
  const lines = ['hello "world"', '', 'grüße 🙂 \\ \t\u0001', 'x'.repeat(500), '日本'];
  const cases: { what: string; source: Parameters<typeof createEnricher>[0]; path: string }[] = [
    { what: 'defaults', source: { name: 'app' }, path: '/var/log/app/app.log' },
    {
      what: 'Kubernetes path, labels, a non-ASCII path and service, key none',
      source: { name: 'k8s', service: 'dienst-ü', key: 'none', fields: { team: 'ä', n: 3 } },
      path: '/var/log/pods/ns_pod-1_0123-4567/ctr/0.log',
    },
    {
      what: 'key and topic from the service',
      source: { name: 'svc', service: 'billing', key: 'service', topic: 'logs-{service}' },
      path: '/srv/logs/ünï.log',
    },
  ];
  for (const c of cases) {
    it(`writes the value toRecord makes, and its UTF-16 length: ${c.what}`, () => {
      const enr = createEnricher(c.source, { default_topic: 'logs', host_name: 'höst' }, {});
      const fe = enr.forFile(c.path, 'dev1:ino9:fp1');
      const route = fe.lineRoute();
      assert.ok(route !== undefined);
      const chunk = makeChunk(lines, { start: 1_234_567 });
      const events: ParsedEvent[] = [];
      createDecoder({ name: 'app' }).decode(chunk, events);
      const raw = Buffer.from(`${lines.join('\n')}\n`);
      let start = 0;
      for (let i = 0; i < lines.length; i++) {
        const rec = fe.toRecord(events[i] as ParsedEvent, chunk.readAt);
        assert.equal(route.topic, rec.topic);
        assert.equal(route.key, rec.key);
        assert.deepEqual(route.keyBytes, rec.key === null ? null : Buffer.from(rec.key));
        const end = start + Buffer.byteLength(lines[i] as string);
        const dst = Buffer.alloc(route.writer.fixedBytes + 6 * (end - start) + 2);
        const p = route.writer.write(dst, 0, chunk.readAt, raw, start, end, chunk.offsets[i] as number);
        assert.equal(dst.toString('utf8', 0, p), rec.value);
        assert.equal(route.writer.lastUnits, rec.value.length);
        assert.equal(
          route.writer.toString(chunk.readAt, raw, start, end, chunk.offsets[i] as number),
          rec.value,
        );
        start = end + 1;
      }
    });
  }

  it('is undefined when the topic or key depends on more than the file', () => {
    const byField = createEnricher({ name: 'a', topic: 'logs-{fields.app}' }, { default_topic: 'logs' }, {});
    assert.equal(byField.forFile('/tmp/a.log', 'f').lineRoute(), undefined);
    const keyByField = createEnricher({ name: 'a', key: 'fields.user' }, { default_topic: 'logs' }, {});
    assert.equal(keyByField.forFile('/tmp/a.log', 'f').lineRoute(), undefined);
  });

  it('counts the records written through it', () => {
    const enr = createEnricher({ name: 'app' }, { default_topic: 'logs' }, {});
    enr.forFile('/tmp/a.log', 'f').countLineRecords(5);
    assert.equal(enr.stats.records, 5);
  });
});
