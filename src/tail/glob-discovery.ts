import type { Dirent, Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, matchesGlob, sep } from 'node:path';

/** A regular file found by the globs: the path as matched (a symlink stays a symlink) and its stat (followed). */
export interface FoundFile {
  path: string;
  stat: Stats;
}

export interface DiscoveryResult {
  files: Map<string, FoundFile>;
  /** Directories that were listed; watching them catches new files quickly. */
  dirs: Set<string>;
}

const GLOB_CHARS = /[*?[\]{}]/;
const MAX_DEPTH = 64;

const compiled = new Map<string, (name: string) => boolean>();

/**
 * A matcher for one glob, compiled once: patterns made only of literal characters and `*` become a
 * RegExp (the common `*.log`); anything else goes to path.matchesGlob, which recompiles per call.
 */
function matcher(pattern: string): (name: string) => boolean {
  let m = compiled.get(pattern);
  if (m === undefined) {
    if (/^[^?[\]{}!+@()\\]*$/.test(pattern) && !pattern.includes('**')) {
      const source = pattern
        .split('*')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
        .join('[^/]*');
      const re = new RegExp(`^${source}$`);
      const leadingDotAllowed = pattern.startsWith('.') || pattern.includes('/.');
      m = (name) => re.test(name) && (leadingDotAllowed || !hasHiddenSegment(name));
    } else {
      m = (name) => matchesGlob(name, pattern);
    }
    compiled.set(pattern, m);
  }
  return m;
}

function hasHiddenSegment(path: string): boolean {
  return path.startsWith('.') || path.includes('/.');
}

/** Whether `path` matches `pattern` (the same rules as path.matchesGlob). */
export function globMatches(path: string, pattern: string): boolean {
  return matcher(pattern)(path);
}

/** True when the string has glob syntax (so it is not a literal path). */
export function hasGlob(pattern: string): boolean {
  return GLOB_CHARS.test(pattern);
}

/** The longest leading directory of a pattern without glob syntax. */
export function staticBase(pattern: string): string {
  const parts = pattern.split('/');
  const base: string[] = [];
  for (let i = 0; i < parts.length - 1; i++) {
    if (hasGlob(parts[i])) break;
    base.push(parts[i]);
  }
  const joined = base.join('/');
  return joined === '' ? '/' : joined;
}

/**
 * Expands include globs (absolute, `**` for any depth) minus exclude globs into regular files.
 * Symlinks are followed, both to files and to directories (with loop protection), because
 * Kubernetes exposes `/var/log/containers/*.log` as symlinks into `/var/log/pods`.
 */
export async function discoverFiles(
  includes: readonly string[],
  excludes: readonly string[],
): Promise<DiscoveryResult> {
  const result: DiscoveryResult = { files: new Map(), dirs: new Set() };
  for (const pattern of includes) {
    if (!isAbsolute(pattern)) continue;
    if (!hasGlob(pattern)) {
      await addFile(pattern, excludes, result);
      result.dirs.add(staticBase(pattern));
      continue;
    }
    const base = staticBase(pattern);
    const rest = pattern.slice(base === '/' ? 1 : base.length + 1).split('/');
    // `**` and braces that may hold a `/` need the whole tree; other patterns prune level by level.
    const deep = rest.some((s) => s.includes('**')) || /\{[^}]*\/[^}]*\}/.test(pattern);
    if (deep) await walkDeep(base, pattern, excludes, result, new Set(), 0);
    else await walkSegments(base, rest, 0, excludes, result);
  }
  return result;
}

async function list(dir: string, result: DiscoveryResult): Promise<Dirent[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    result.dirs.add(dir);
    return entries;
  } catch {
    return [];
  }
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

function excluded(path: string, excludes: readonly string[]): boolean {
  for (const ex of excludes) if (globMatches(path, ex)) return true;
  return false;
}

async function addFile(path: string, excludes: readonly string[], result: DiscoveryResult): Promise<void> {
  if (result.files.has(path) || excluded(path, excludes)) return;
  const st = await statOrUndefined(path);
  if (st?.isFile()) result.files.set(path, { path, stat: st });
}

async function isDir(dir: string, entry: Dirent): Promise<boolean> {
  if (entry.isDirectory()) return true;
  if (!entry.isSymbolicLink()) return false;
  return (await statOrUndefined(join(dir, entry.name)))?.isDirectory() ?? false;
}

async function walkSegments(
  dir: string,
  segments: string[],
  i: number,
  excludes: readonly string[],
  result: DiscoveryResult,
): Promise<void> {
  const seg = segments[i];
  const last = i === segments.length - 1;
  if (!hasGlob(seg)) {
    const next = join(dir, seg);
    if (last) await addFile(next, excludes, result);
    else await walkSegments(next, segments, i + 1, excludes, result);
    return;
  }
  for (const entry of await list(dir, result)) {
    if (!globMatches(entry.name, seg)) continue;
    const path = join(dir, entry.name);
    if (last) {
      if (!entry.isDirectory()) await addFile(path, excludes, result);
    } else if (await isDir(dir, entry)) {
      await walkSegments(path, segments, i + 1, excludes, result);
    }
  }
}

async function walkDeep(
  dir: string,
  pattern: string,
  excludes: readonly string[],
  result: DiscoveryResult,
  visiting: Set<string>,
  depth: number,
): Promise<void> {
  if (depth > MAX_DEPTH) return;
  const st = await statOrUndefined(dir);
  if (st === undefined) return;
  const key = `${st.dev}:${st.ino}`;
  if (visiting.has(key)) return; // a symlink loop
  visiting.add(key);
  for (const entry of await list(dir, result)) {
    const path = dir.endsWith(sep) ? dir + entry.name : dir + sep + entry.name;
    if (await isDir(dir, entry)) {
      await walkDeep(path, pattern, excludes, result, visiting, depth + 1);
    } else if (globMatches(path, pattern)) {
      await addFile(path, excludes, result);
    }
  }
  visiting.delete(key);
}
