import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigError, ConfigFileError } from '../model/errors.ts';
import { type Config, ConfigSchema } from './schema.ts';

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
