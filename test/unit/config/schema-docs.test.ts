import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { Ajv } from 'ajv';
import {
  formatJson,
  generateConfigDocs,
  main,
  REFERENCE_PATH,
  SCHEMA_PATH,
} from '../../../scripts/gen-config-docs.ts';
import { ConfigSchema } from '../../../src/config/schema.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGENERATE = 'stale: run `node scripts/gen-config-docs.ts` and commit the result';

type Json = { [key: string]: unknown };

describe('generated config docs', () => {
  const docs = generateConfigDocs();

  it('the committed JSON Schema is what the config schema generates', () => {
    assert.equal(readFileSync(join(ROOT, SCHEMA_PATH), 'utf8'), docs.schema, REGENERATE);
  });

  it('the committed config reference is what the config schema generates', () => {
    assert.equal(readFileSync(join(ROOT, REFERENCE_PATH), 'utf8'), docs.reference, REGENERATE);
  });

  it('the JSON Schema is draft-07, with enums for literal unions and a description on every leaf', () => {
    const schema = JSON.parse(docs.schema) as Json;
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    let objects = 0;
    const walk = (node: unknown, path: string) => {
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) walk(node[i], `${path}[${i}]`);
        return;
      }
      if (typeof node !== 'object' || node === null) return;
      const n = node as Json;
      if (n.properties && typeof n.properties === 'object') {
        objects++;
        const props = n.properties as Record<string, Json>;
        for (const [key, prop] of Object.entries(props)) {
          const leaf = prop.type !== 'object' || !prop.properties;
          if (leaf) assert.equal(typeof prop.description, 'string', `${path}.${key} has a description`);
        }
      }
      assert.ok(
        !('anyOf' in n && (n.anyOf as Json[]).every((m) => 'const' in m)),
        `${path}: literal union not an enum`,
      );
      for (const [k, v] of Object.entries(n)) walk(v, `${path}/${k}`);
    };
    walk(schema, '#');
    assert.ok(objects >= 5);
  });

  it('both files are in the layout biome formats them to, so `biome check` passes', (t) => {
    const biome = join(ROOT, 'node_modules/.bin/biome');
    if (!existsSync(biome)) return t.skip('biome not installed');
    for (const [path, text] of [
      [SCHEMA_PATH, docs.schema],
      [REFERENCE_PATH, docs.reference],
    ] as const) {
      const res = spawnSync(biome, ['format', `--stdin-file-path=${path}`], {
        input: text,
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(res.status, 0, res.stderr);
      assert.equal(res.stdout, text, path);
    }
  });
});

describe('the editor schema and the loader agree', () => {
  const minimal = () => ({
    sources: [{ name: 'app', include: ['/var/log/app/*.log'] }],
    sink: { kafka: { brokers: ['kafka:9092'], topic: 'logs' } },
  });
  const cases: [string, (c: Json & ReturnType<typeof minimal>) => void, boolean][] = [
    ['the minimal config', () => {}, true],
    [
      'a parser chain and multiline',
      (c) => Object.assign(c.sources[0] as Json, { parser: ['cri', 'json'], multiline: { preset: 'java' } }),
      true,
    ],
    [
      'every section present',
      (c) => Object.assign(c, { tail: { watch: false }, batch: { linger_ms: 5 }, log: { level: 'debug' } }),
      true,
    ],
    ['an unknown top-level key', (c) => Object.assign(c, { nope: 1 }), false],
    ['an unknown source key', (c) => Object.assign(c.sources[0] as Json, { globs: [] }), false],
    ['a string for an integer', (c) => Object.assign(c, { batch: { max_records: 'many' } }), false],
    ['a level not in the list', (c) => Object.assign(c, { log: { level: 'loud' } }), false],
    ['no brokers', (c) => Object.assign(c.sink.kafka, { brokers: [] }), false],
    ['no sink', (c) => delete (c as Json).sink, false],
    ['a source without include', (c) => delete (c.sources[0] as Json).include, false],
    ['a bad source name', (c) => Object.assign(c.sources[0] as Json, { name: 'a b' }), false],
  ];
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(generateConfigDocs().schema) as Json);

  for (const [what, change, valid] of cases) {
    it(`${valid ? 'accept' : 'reject'} ${what}`, () => {
      const config = minimal() as Json & ReturnType<typeof minimal>;
      change(config);
      const loader = Value.Check(ConfigSchema, Value.Default(ConfigSchema, Value.Clone(config)));
      assert.equal(loader, valid, 'loader');
      assert.equal(validate(config), valid, `editor schema: ${JSON.stringify(validate.errors)}`);
    });
  }
});

describe('generateConfigDocs on other schema shapes', () => {
  const Leaf = Type.Object(
    { depth: Type.Integer({ minimum: 0, default: 1, description: 'How deep.' }) },
    { $id: 'Leaf', additionalProperties: false },
  );
  const schema = Type.Object(
    {
      name: Type.String({ description: 'A required name.' }),
      mode: Type.Union([Type.Literal('a'), Type.Literal(2), Type.Literal(true)], {
        default: 'a',
        description: 'Mixed literals.',
      }),
      codecs: Type.Array(Type.Union([Type.Literal('x'), Type.Literal('y')]), {
        default: ['x'],
        description: 'An array of literals.',
      }),
      dest: Type.Union(
        [
          Type.Object({ kind: Type.Literal('file'), path: Type.String({ description: 'File path.' }) }),
          Type.Object({
            kind: Type.Literal('http'),
            url: Type.String({ description: 'URL.', default: 'http://x' }),
          }),
        ],
        { description: 'Where to.' },
      ),
      extra: Type.Optional(
        Type.Object(
          { on: Type.Boolean({ default: false, description: 'Switch | with a pipe.' }) },
          { description: 'Opt.' },
        ),
      ),
      labels: Type.Record(Type.String(), Type.Number(), { default: {}, description: 'A map.' }),
      list: Type.Array(Type.Object({ id: Type.String({ description: 'Id.', pattern: '^a`b$' }) }), {
        description: 'Objects.',
        default: [],
      }),
      leaf: Type.Ref(Leaf),
    },
    { $defs: { leaf: Leaf } },
  );

  const docs = generateConfigDocs(schema);
  const json = JSON.parse(docs.schema) as Json;
  const props = json.properties as Record<string, Json>;

  it('writes literal unions as enums, typed only when all of one type', () => {
    assert.deepEqual(props.mode, { enum: ['a', 2, true], default: 'a', description: 'Mixed literals.' });
    assert.deepEqual((props.codecs as { items: Json }).items, { type: 'string', enum: ['x', 'y'] });
    assert.deepEqual(json.required, ['name', 'dest', 'leaf']);
  });

  it('gives every key path a row, through unions, optional objects, arrays of objects and refs', () => {
    const row = (path: string) => {
      const line = docs.reference.split('\n').find((l) => l.startsWith(`| \`${path}\` `));
      assert.ok(line, `row for ${path}`);
      return line;
    };
    assert.match(row('name'), /\*\*required\*\*/);
    assert.match(row('mode'), /`"a"` \\\| `2` \\\| `true`/);
    assert.match(row('codecs'), /array of \(`"x"` \\\| `"y"`\)/);
    row('dest.kind');
    assert.match(row('dest.path'), /\*\*required\*\*/);
    assert.match(row('dest.url'), /`"http:\/\/x"`/);
    assert.match(row('extra'), /\(optional\)/);
    assert.match(row('extra.on'), /Switch \\\| with a pipe/);
    assert.match(row('labels'), /map of string to number/);
    assert.match(row('list'), /array of objects/);
    assert.match(row('list[].id'), /matching ``"\^a`b\$"``/);
    assert.match(row('leaf.depth'), /integer \(≥ 0\)/);
    assert.deepEqual(docs.undocumented, ['dest.kind', 'leaf']);
  });

  it('formats arrays of scalars on one line only while they fit', () => {
    assert.equal(formatJson({ a: [1, 'b'] }), '{\n  "a": [1, "b"]\n}');
    const long = Array.from({ length: 30 }, (_, i) => `item${i}`);
    assert.equal(formatJson(long).split('\n').length, 32);
    assert.equal(formatJson({ e: {}, f: [] }), '{\n  "e": {},\n  "f": []\n}');
  });
});

describe('gen-config-docs main', () => {
  it('--check fails on stale files without touching them; a plain run rewrites them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'logferry-docs-'));
    const stderr = process.stderr.write;
    const stdout = process.stdout.write;
    try {
      // Quiet the script's own output while it runs in-process.
      process.stderr.write = (() => true) as typeof process.stderr.write;
      process.stdout.write = (() => true) as typeof process.stdout.write;
      assert.equal(main(['--check'], dir), 1);
      assert.equal(existsSync(join(dir, SCHEMA_PATH)), false);
      assert.equal(main([], dir), 0);
      assert.equal(main(['--check'], dir), 0);
      writeFileSync(join(dir, REFERENCE_PATH), 'old\n');
      assert.equal(main(['--check'], dir), 1);
      assert.equal(readFileSync(join(dir, REFERENCE_PATH), 'utf8'), 'old\n');
    } finally {
      process.stderr.write = stderr;
      process.stdout.write = stdout;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
