import type { Config } from './schema.ts';

/** What a reload would change, by name and key path only: values (secrets) never appear. */
export interface ConfigChanges {
  sources: { added: string[]; removed: string[]; changed: string[] };
  /** Key paths outside `sources` whose value differs; they take effect after a restart. */
  restartRequired: string[];
}

/** Compares two resolved configs: sources by name, every other section key by key. */
export function diffConfig(prev: Readonly<Config>, next: Readonly<Config>): ConfigChanges {
  const before = new Map(prev.sources.map((s) => [s.name, s]));
  const after = new Map(next.sources.map((s) => [s.name, s]));
  const added: string[] = [];
  const changed: string[] = [];
  for (const [name, source] of after) {
    const old = before.get(name);
    if (old === undefined) added.push(name);
    else if (!sameValue(old, source)) changed.push(name);
  }
  const removed = [...before.keys()].filter((name) => !after.has(name));
  const restartRequired: string[] = [];
  const keys = new Set([...Object.keys(prev), ...Object.keys(next)]);
  for (const key of keys) {
    if (key === 'sources') continue;
    collectChanged(
      (prev as Record<string, unknown>)[key],
      (next as Record<string, unknown>)[key],
      key,
      restartRequired,
    );
  }
  return { sources: { added, removed, changed }, restartRequired };
}

function collectChanged(a: unknown, b: unknown, path: string, out: string[]): void {
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      collectChanged(a[k], b[k], `${path}.${k}`, out);
    return;
  }
  if (!sameValue(a, b)) out.push(path);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
