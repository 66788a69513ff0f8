import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigError, ConfigFileError } from '../model/errors.ts';
import { type Config, ConfigSchema } from './schema.ts';

const ENV_PREFIX = 'LOGFERRY_';

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
}

/**
 * Loads a YAML or JSON config file, expands `${VAR}` / `${VAR:-default}` from the environment,
 * fills defaults, validates, resolves relative paths against the file's directory and freezes the
 * result. Every failure is one line that names the file, the key path and the fix.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code);
    throw new ConfigFileError(`config file ${file}: ${why}: pass an existing readable file with --config`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: false });
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    throw new ConfigFileError(`config file ${file}: not valid YAML or JSON: ${msg}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(
      `config file ${file}: expected a mapping at the top level (data_dir, sources, sink, ...)`,
    );
  }
  const expanded = expandEnv(raw, env, file, '');
  applyEnvOverrides(expanded as Record<string, unknown>, env);
  const config = validateConfig(expanded, file);
  // Relative paths mean "next to the config file", whatever the working directory of the service.
  config.data_dir = resolveAgainst(file, config.data_dir);
  for (const source of config.sources) {
    source.include = source.include.map((p) => resolveAgainst(file, p));
    source.exclude = source.exclude.map((p) => resolveAgainst(file, p));
  }
  return deepFreeze(config);
}

/** Validates an already parsed config object and fills defaults; throws ConfigError naming the key path. */
export function validateConfig(input: unknown, origin = 'config'): Config {
  const value = Value.Default(ConfigSchema, Value.Clone(input));
  const first = Value.Errors(ConfigSchema, value).First();
  if (first !== undefined) throw new ConfigError(`${origin}: ${describeError(first)}`);
  const config = value as Config;
  const seen = new Set<string>();
  for (const [i, source] of config.sources.entries()) {
    if (seen.has(source.name)) {
      throw new ConfigError(
        `${origin}: sources[${i}].name: duplicate source name "${source.name}": names must be unique`,
      );
    }
    seen.add(source.name);
  }
  return config;
}

interface SchemaError {
  type: ValueErrorType;
  path: string;
  message: string;
  value: unknown;
  schema: { description?: string };
}

function describeError(e: SchemaError): string {
  const path = toKeyPath(e.path);
  if (e.type === ValueErrorType.ObjectAdditionalProperties) {
    return `${path || '(top level)'}: unknown key: remove it or check its spelling`;
  }
  if (e.type === ValueErrorType.ObjectRequiredProperty) {
    return `${path}: required key is missing${e.schema.description ? ` (${e.schema.description})` : ''}`;
  }
  const got = e.value === undefined ? 'nothing' : JSON.stringify(e.value);
  return `${path || '(top level)'}: ${e.message.toLowerCase()}, got ${got}`;
}

/** `/sources/0/include` -> `sources[0].include` */
function toKeyPath(pointer: string): string {
  let out = '';
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function expandEnv(value: unknown, env: NodeJS.ProcessEnv, file: string, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(
        `config file ${file}: ${path}: environment variable ${name} is not set: set it, or write \${${name}:-default}`,
      );
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, file, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, file, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

function resolveAgainst(file: string, p: string): string {
  return isAbsolute(p) ? p : resolve(file, '..', p);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * `LOGFERRY_<KEY_PATH>` overrides a scalar or a list of strings anywhere outside `sources`, e.g.
 * `LOGFERRY_SINK_KAFKA_BROKERS=a:9092,b:9092` or `LOGFERRY_METRICS_LISTEN=0.0.0.0:9464`. The key path
 * is found by walking the schema, so keys with underscores (`data_dir`) resolve; variables that name
 * no key are ignored (they may belong to something else).
 */
export function applyEnvOverrides(target: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const applied: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const path = resolveEnvPath(name.slice(ENV_PREFIX.length).toLowerCase(), ConfigSchema as SchemaNode);
    if (path === undefined) continue;
    let obj = target;
    for (const key of path.keys.slice(0, -1)) {
      const next = obj[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) obj[key] = {};
      obj = obj[key] as Record<string, unknown>;
    }
    obj[path.keys[path.keys.length - 1]] = coerce(value, path.leaf);
    applied.push(path.keys.join('.'));
  }
  return applied;
}

function resolveEnvPath(rest: string, node: SchemaNode): { keys: string[]; leaf: SchemaNode } | undefined {
  const props = node.properties;
  if (props === undefined) return undefined;
  for (const [key, child] of Object.entries(props)) {
    if (key === 'sources') continue;
    if (rest === key && child.properties === undefined) return { keys: [key], leaf: child };
    if (rest.startsWith(`${key}_`)) {
      const sub = resolveEnvPath(rest.slice(key.length + 1), child);
      if (sub !== undefined) return { keys: [key, ...sub.keys], leaf: sub.leaf };
    }
  }
  return undefined;
}

function coerce(value: string, leaf: SchemaNode): unknown {
  const types = leaf.anyOf ? leaf.anyOf.map((n) => n.type) : [leaf.type];
  if (types.includes('array')) return value === '' ? [] : value.split(',').map((v) => v.trim());
  if (types.includes('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  if (
    (types.includes('integer') || types.includes('number')) &&
    value.trim() !== '' &&
    !Number.isNaN(Number(value))
  ) {
    return Number(value);
  }
  return value;
}
