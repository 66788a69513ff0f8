/**
 * Golden files: test/fixtures/parse/<format>/{config.json,input.log,expected.ndjson}. Each input is
 * decoded in chunks of three lines (so held events cross chunk boundaries), enriched with a fixed
 * host, file identity and read time, and the records must match expected.ndjson byte for byte.
 * Regenerate after an intended change with UPDATE_GOLDEN=1 and review the diff.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EnrichSource } from '../../../src/enrich/enrich-config.ts';
import { createEnricher } from '../../../src/enrich/enricher.ts';
import type { LineChunk } from '../../../src/model/line-chunk.ts';
import type { ParsedEvent } from '../../../src/model/record.ts';
import { createDecoder, type ParseSource } from '../../../src/parse/decoder.ts';
import { makeChunk } from './chunk-helper.ts';

const root = fileURLToPath(new URL('../../fixtures/parse/', import.meta.url));
const READ_AT = Date.UTC(2024, 2, 12, 12, 0, 0, 0);

interface GoldenConfig {
  parse: Omit<ParseSource, 'name'>;
  enrich: Omit<EnrichSource, 'name'>;
  path: string;
}

function run(dir: string): string {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as GoldenConfig;
  const lines = readFileSync(join(dir, 'input.log'), 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const acked: LineChunk[] = [];
  const decoder = createDecoder(
    { name: 'golden', ...cfg.parse },
    { acknowledger: { ack: (c) => acked.push(c) } },
  );
  const fe = createEnricher(
    { name: 'golden', ...cfg.enrich },
    { default_topic: 'logs', host_name: 'golden-host' },
    {},
  ).forFile(cfg.path, 'dev:ino:golden');
  const events: ParsedEvent[] = [];
  let start = 0;
  for (let i = 0; i < lines.length; i += 3) {
    const chunk = makeChunk(lines.slice(i, i + 3), { start, readAt: READ_AT, path: cfg.path });
    start = chunk.endOffset;
    decoder.decode(chunk, events);
  }
  decoder.flushAll(events);
  let out = '';
  for (const ev of events) {
    const r = fe.toRecord(ev);
    JSON.parse(r.value);
    out += `{"topic":${JSON.stringify(r.topic)},"key":${JSON.stringify(r.key)},"value":${r.value}}\n`;
  }
  return out;
}

describe('golden files', () => {
  for (const name of readdirSync(root).sort()) {
    it(name, () => {
      const dir = join(root, name);
      const got = run(dir);
      const file = join(dir, 'expected.ndjson');
      if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, got);
      assert.equal(got, readFileSync(file, 'utf8'));
    });
  }
});
