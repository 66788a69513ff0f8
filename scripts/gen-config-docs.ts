/**
 * Generates, from the same TypeBox schema the loader validates with (src/config/schema.ts):
 *
 *   schema/logferry.schema.json   a JSON Schema (draft-07) for editors: completion, hover text, checks
 *   docs/config-reference.md      one table per section: key path, type, default, description
 *
 *   node scripts/gen-config-docs.ts           rewrite both files
 *   node scripts/gen-config-docs.ts --check   exit 1 (and name the files) when either is stale
 *
 * The editor schema differs from the validation schema in two ways only, both because the loader
 * fills defaults before it validates: a key with a default is not listed as required, and a union
 * of literals is written as an `enum` (same values; editors complete and explain enums better).
 * The JSON is written in the layout biome formats JSON to, so `biome check` leaves it alone.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema } from '../src/config/schema.ts';

export const SCHEMA_PATH = 'schema/logferry.schema.json';
export const REFERENCE_PATH = 'docs/config-reference.md';
const JSON_SCHEMA_DRAFT = 'http://json-schema.org/draft-07/schema#';
const LINE_WIDTH = 110;

/** A JSON Schema node as plain data (TypeBox's symbol keys dropped). */
type Node = { [key: string]: unknown };

export interface GeneratedDocs {
  /** Contents of schema/logferry.schema.json. */
  schema: string;
  /** Contents of docs/config-reference.md. */
  reference: string;
  /** Key paths without a description (the reference shows them with an empty cell). */
  undocumented: string[];
}

export function generateConfigDocs(schema: object = ConfigSchema): GeneratedDocs {
  const editor = JSON.parse(JSON.stringify(toEditorSchema(schema))) as Node;
  const { $schema: _drop, ...rest } = editor;
  const { text, rows } = renderReference(schema as Node);
  return {
    schema: `${formatJson({ $schema: JSON_SCHEMA_DRAFT, ...rest })}\n`,
    reference: text,
    undocumented: rows.filter((r) => r.description.trim() === '').map((r) => r.path),
  };
}

// ---------------------------------------------------------------------------------------------
// The editor schema

function toEditorSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toEditorSchema);
  if (!isNode(value)) return value;
  const literals = literalValues(value);
  if (literals) {
    const { anyOf: _anyOf, ...rest } = value;
    const types = new Set(literals.map(jsonType));
    return {
      ...(types.size === 1 ? { type: [...types][0] } : {}),
      enum: literals,
      ...mapValues(rest, toEditorSchema),
    };
  }
  const out = mapValues(value, toEditorSchema);
  if (isNode(value.properties) && Array.isArray(value.required)) {
    const props = value.properties;
    const required = value.required.filter((k) => !(isNode(props[k]) && hasUsableDefault(props[k] as Node)));
    if (required.length > 0) out.required = required;
    else delete out.required;
  }
  return out;
}

/**
 * Whether the loader can fill the key in: it has a default, and the default (with the defaults of
 * its own fields filled in) passes the key's schema. `include: { default: [], minItems: 1 }` has
 * a default the loader rejects, so the key stays required for the editor too.
 */
function hasUsableDefault(prop: Node): boolean {
  if (!('default' in prop)) return false;
  try {
    const schema = prop as unknown as TSchema;
    return Value.Check(schema, Value.Default(schema, Value.Clone(prop.default)));
  } catch {
    return true; // a schema TypeBox cannot check on its own (an unresolved $ref): trust the default
  }
}

/** The values of a union made only of literals (`anyOf: [{const}, ...]`), else undefined. */
function literalValues(node: Node): unknown[] | undefined {
  const anyOf = node.anyOf;
  if (!Array.isArray(anyOf) || anyOf.length === 0) return undefined;
  const values: unknown[] = [];
  for (const member of anyOf) {
    if (!isNode(member) || !('const' in member)) return undefined;
    values.push(member.const);
  }
  return values;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/**
 * JSON in biome's layout: objects always open (as written), arrays of scalars on one line when
 * the line fits in LINE_WIDTH, otherwise one element per line.
 */
export function formatJson(value: unknown, indent = '', lead = 0): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) {
      const one = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      // lead: the indentation and `"key": ` before the value; 1 for a trailing comma.
      if (lead + one.length + 1 <= LINE_WIDTH) return one;
    }
    const inner = `${indent}  `;
    return `[\n${value.map((v) => inner + formatJson(v, inner, inner.length)).join(',\n')}\n${indent}]`;
  }
  if (isNode(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return '{}';
    const inner = `${indent}  `;
    const lines = keys.map((k) => {
      const head = `${inner}${JSON.stringify(k)}: `;
      return head + formatJson(value[k], inner, head.length);
    });
    return `{\n${lines.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// The reference

interface Row {
  path: string;
  type: string;
  default: string;
  description: string;
}

function renderReference(root: Node): { text: string; rows: Row[] } {
  const refs = collectIds(root);
  const props = isNode(root.properties) ? root.properties : {};
  const required = new Set(Array.isArray(root.required) ? (root.required as string[]) : []);
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated by scripts/gen-config-docs.ts from src/config/schema.ts: do not edit by hand.',
    '     Regenerate with `node scripts/gen-config-docs.ts`; a unit test fails while this file is stale. -->',
    '',
    'The agent reads one YAML (or JSON) file. Every key below has a default unless its default reads',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the text shows the ${VAR} syntax
    '**required**. Values may use `${VAR}` and `${VAR:-default}` to take text from the environment.',
    `Editors complete and check the file with the JSON Schema in \`${SCHEMA_PATH}\`; in YAML, add the`,
    `line \`# yaml-language-server: $schema=../${SCHEMA_PATH}\` (path relative to your file).`,
    '',
  ];
  const topRows: Row[] = [];
  const sections: { key: string; node: Node; rows: Row[] }[] = [];
  for (const [key, raw] of Object.entries(props)) {
    if (!isNode(raw)) continue;
    const node = resolve(raw, refs);
    const rows: Row[] = [];
    const objectLike = objectVariants(node, refs).length > 0 || arrayOfObjects(node, refs) !== undefined;
    addRows(rows, key, node, required.has(key), refs, new Set());
    if (objectLike) sections.push({ key, node, rows });
    else topRows.push(...rows);
  }
  if (topRows.length > 0) {
    out.push('## Top level', '', ...table(topRows), '');
  }
  for (const s of sections) {
    out.push(`## \`${s.key}\``, '');
    if (typeof s.node.description === 'string') out.push(s.node.description, '');
    out.push(...table(s.rows), '');
  }
  return {
    text: `${out.join('\n').trimEnd()}\n`,
    rows: [...topRows, ...sections.flatMap((s) => s.rows)],
  };
}

function addRows(
  rows: Row[],
  path: string,
  raw: Node,
  required: boolean,
  refs: Map<string, Node>,
  seen: Set<Node>,
) {
  const node = resolve(raw, refs);
  rows.push({
    path,
    type: typeText(node, refs, 0),
    default: hasUsableDefault(node) ? code(node.default) : required ? '**required**' : '(optional)',
    description: typeof node.description === 'string' ? node.description : '',
  });
  if (seen.has(node)) return;
  const inner = new Set(seen).add(node);
  const items = arrayOfObjects(node, refs);
  const variants = items ? objectVariants(items, refs) : objectVariants(node, refs);
  const prefix = items ? `${path}[]` : path;
  const done = new Set<string>();
  for (const variant of variants) {
    const req = new Set(Array.isArray(variant.required) ? (variant.required as string[]) : []);
    const props = isNode(variant.properties) ? variant.properties : {};
    for (const [key, child] of Object.entries(props)) {
      const childPath = `${prefix}.${key}`;
      if (done.has(childPath) || !isNode(child)) continue;
      done.add(childPath);
      addRows(rows, childPath, child, req.has(key), refs, inner);
    }
  }
}

/** The object schemas whose keys get rows of their own: the node itself, or the objects of a union. */
function objectVariants(node: Node, refs: Map<string, Node>): Node[] {
  if (isNode(node.properties)) return [node];
  const members = Array.isArray(node.anyOf) ? node.anyOf : Array.isArray(node.oneOf) ? node.oneOf : undefined;
  if (!members) return [];
  return members.map((m) => resolve(m as Node, refs)).filter((m) => isNode(m.properties));
}

function arrayOfObjects(node: Node, refs: Map<string, Node>): Node | undefined {
  if (node.type !== 'array' || !isNode(node.items)) return undefined;
  const items = resolve(node.items, refs);
  return objectVariants(items, refs).length > 0 ? items : undefined;
}

function typeText(raw: Node, refs: Map<string, Node>, depth: number): string {
  const { base, limits } = describeType(raw, refs, depth);
  return limits ? `${base} (${limits})` : base;
}

/** A type in words, and its constraints apart, so arrays can say "array of string (each ...)". */
function describeType(raw: Node, refs: Map<string, Node>, depth: number): { base: string; limits: string } {
  const node = resolve(raw, refs);
  const limits = constraints(node);
  if (depth > 4) return { base: 'value', limits: '' };
  if ('const' in node) return { base: code(node.const), limits: '' };
  if (Array.isArray(node.enum)) return { base: node.enum.map(code).join(' \\| '), limits: '' };
  const members = Array.isArray(node.anyOf) ? node.anyOf : Array.isArray(node.oneOf) ? node.oneOf : undefined;
  if (members) {
    const texts = members.map((m, i) => {
      const member = resolve(m as Node, refs);
      // `a | b | array of (a | b)` reads better as `a | b | array of these`.
      if (member.type === 'array' && isNode(member.items)) {
        const items = JSON.stringify(member.items);
        const rest = members.filter((_, j) => j !== i);
        const same =
          (rest.length === 1 && JSON.stringify(rest[0]) === items) ||
          JSON.stringify(resolve(member.items, refs).anyOf) === JSON.stringify(rest);
        if (same && rest.length > 0) {
          const l = constraints(member);
          return l ? `array of these (${l})` : 'array of these';
        }
      }
      return typeText(member, refs, depth + 1);
    });
    return { base: texts.join(' \\| '), limits };
  }
  if (Array.isArray(node.allOf)) {
    return { base: node.allOf.map((m) => typeText(m as Node, refs, depth + 1)).join(' & '), limits };
  }
  const type = node.type;
  if (type === 'array') {
    if (!isNode(node.items)) return { base: 'array', limits };
    const items = resolve(node.items, refs);
    if (objectVariants(items, refs).length > 0) return { base: 'array of objects', limits };
    const inner = describeType(items, refs, depth + 1);
    const base = `array of ${inner.base.includes(' ') ? `(${inner.base})` : inner.base}`;
    const all = [limits, inner.limits ? `each ${inner.limits}` : ''].filter((x) => x !== '');
    return { base, limits: all.join('; ') };
  }
  if (type === 'object' && !isNode(node.properties) && isNode(node.patternProperties)) {
    const values = Object.values(node.patternProperties).map((v) => typeText(v as Node, refs, depth + 1));
    return { base: `map of string to ${values.join(' \\| ')}`, limits };
  }
  if (type === 'object' && isNode(node.additionalProperties) && !isNode(node.properties)) {
    return { base: `map of string to ${typeText(node.additionalProperties, refs, depth + 1)}`, limits };
  }
  if (Array.isArray(type)) return { base: type.join(' \\| '), limits };
  return { base: typeof type === 'string' ? type : 'any', limits };
}

function constraints(node: Node): string {
  const parts: string[] = [];
  const num = (k: string) => (typeof node[k] === 'number' ? (node[k] as number) : undefined);
  const min = num('minimum');
  const max = num('maximum');
  if (min !== undefined) parts.push(`≥ ${min}`);
  if (num('exclusiveMinimum') !== undefined) parts.push(`> ${num('exclusiveMinimum')}`);
  if (max !== undefined) parts.push(`≤ ${max}`);
  if (num('exclusiveMaximum') !== undefined) parts.push(`< ${num('exclusiveMaximum')}`);
  if (num('minLength') !== undefined && num('minLength') !== 0) parts.push(`length ≥ ${num('minLength')}`);
  if (num('maxLength') !== undefined) parts.push(`length ≤ ${num('maxLength')}`);
  if (num('minItems') !== undefined && num('minItems') !== 0) parts.push(`items ≥ ${num('minItems')}`);
  if (num('maxItems') !== undefined) parts.push(`items ≤ ${num('maxItems')}`);
  if (typeof node.pattern === 'string') parts.push(`matching ${code(node.pattern)}`);
  if (typeof node.format === 'string') parts.push(`format ${node.format}`);
  return parts.join(', ');
}

/** A Markdown table, its columns padded the way biome formats Markdown (so `biome check` passes). */
function table(rows: Row[]): string[] {
  const cells = [
    ['Key', 'Type', 'Default', 'Description'],
    ...rows.map((r) => [`\`${r.path}\``, cell(r.type), cell(r.default), cell(r.description)]),
  ];
  const widths = [0, 1, 2, 3].map((c) => Math.max(3, ...cells.map((row) => width(row[c] as string))));
  const line = (row: string[]) => `| ${row.map((text, c) => pad(text, widths[c] as number)).join(' | ')} |`;
  return [
    line(cells[0] as string[]),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ];
}

function width(text: string): number {
  return [...text].length;
}

function pad(text: string, w: number): string {
  return text + ' '.repeat(w - width(text));
}

/** Table cells: one line, pipes escaped (already-escaped pipes from typeText kept). */
function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/(?<!\\)\|/g, '\\|');
}

/** Inline code for a JSON value, with a longer fence when the text holds backticks. */
function code(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  const fence = text.includes('`') ? '``' : '`';
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function collectIds(root: Node): Map<string, Node> {
  const ids = new Map<string, Node>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isNode(v)) {
      if (typeof v.$id === 'string') ids.set(v.$id, v);
      for (const child of Object.values(v)) walk(child);
    }
  };
  walk(root);
  return ids;
}

function resolve(node: Node, refs: Map<string, Node>): Node {
  let n = node;
  for (let i = 0; i < 8 && typeof n.$ref === 'string'; i++) {
    const target = refs.get(n.$ref as string);
    if (!target) break;
    const { $ref: _ref, ...local } = n;
    n = { ...target, ...local };
  }
  return n;
}

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mapValues(node: Node, fn: (v: unknown) => unknown): Node {
  const out: Node = {};
  for (const [k, v] of Object.entries(node)) out[k] = fn(v);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Command line

export function main(argv: readonly string[], root: string): number {
  const check = argv.includes('--check');
  const docs = generateConfigDocs();
  const files: [string, string][] = [
    [SCHEMA_PATH, docs.schema],
    [REFERENCE_PATH, docs.reference],
  ];
  for (const path of docs.undocumented) process.stderr.write(`warning: ${path} has no description\n`);
  const stale: string[] = [];
  for (const [rel, content] of files) {
    const file = join(root, rel);
    let current: string | undefined;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === content) continue;
    stale.push(rel);
    if (!check) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
  }
  if (check) {
    if (stale.length === 0) return 0;
    process.stderr.write(
      `stale generated config docs: ${stale.join(', ')}; run \`node scripts/gen-config-docs.ts\` and commit them\n`,
    );
    return 1;
  }
  process.stdout.write(stale.length > 0 ? `wrote ${stale.join(', ')}\n` : 'config docs up to date\n');
  return 0;
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] && relative(process.argv[1], self) === '') {
  process.exitCode = main(process.argv.slice(2), join(dirname(self), '..'));
}
