/**
 * Crash-safe store of per-file read positions.
 *
 * Invariants
 * - An entry's `offset` is a position that the pipeline has acknowledged: every line before it was
 *   delivered (or spooled). The store never invents a position ahead of an acknowledgement; the only
 *   other offsets it records are starting points decided at discovery (0, or the file's size for
 *   `start_at: end`), where there is nothing before the offset to lose.
 * - The file on disk is always a complete snapshot: written to a temp file, fsync-ed, then renamed
 *   over the previous one (the one before that is kept as `.prev`), and the directory fsync-ed.
 *   A crash at any point leaves either the new or the previous snapshot.
 * - A snapshot that does not parse, has the wrong format tag or version, or fails its checksum is
 *   reported (CheckpointCorruptError), moved aside to `<name>.corrupt-<ms>` and not used; the caller
 *   is told (`loadProblem`) so it re-reads files from their start: duplicates, never loss.
 *
 * On-disk format (`<dataDir>/checkpoints.json`, UTF-8 JSON, one object):
 *   { "format": "logferry-checkpoints", "version": 1, "written_at": <ms>,
 *     "entries": [ { "file_id", "source", "path", "dev", "ino",
 *                    "fingerprint", "fingerprint_len", "offset", "marker", "marker_len",
 *                    "last_seen" }, ... ],
 *     "sha256": <hex sha256 of JSON.stringify(entries)> }
 * `fingerprint` is a hash of the file's first `fingerprint_len` bytes; `marker` a hash of the
 * `marker_len` bytes just before `offset`. Both are checked before an entry is reused for a file.
 */
import { hash } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointCorruptError, CheckpointWriteError } from '../model/errors.ts';
import type { Logger } from '../observe/logger.ts';

export interface CheckpointEntry {
  fileId: string;
  source: string;
  path: string;
  dev: number;
  ino: number;
  fingerprint: string;
  fingerprintLen: number;
  offset: number;
  marker: string;
  markerLen: number;
  lastSeen: number;
}

const FORMAT = 'logferry-checkpoints';
const VERSION = 1;

export type LoadProblem = 'none' | 'missing' | 'corrupt';

export class CheckpointStore {
  readonly path: string;
  readonly #dir: string;
  readonly #log: Logger;
  readonly #entries = new Map<string, CheckpointEntry>();
  #dirty = false;
  #writing: Promise<void> | undefined;
  #loadProblem: LoadProblem = 'missing';
  readonly stats = { writes: 0, writeErrors: 0, corruptFiles: 0 };

  constructor(dataDir: string, log: Logger, fileName = 'checkpoints.json') {
    this.#dir = dataDir;
    this.path = join(dataDir, fileName);
    this.#log = log;
  }

  /** What `load()` found: no file (first start), a usable one, or a corrupt one (re-read conservatively). */
  get loadProblem(): LoadProblem {
    return this.#loadProblem;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(fileId: string): CheckpointEntry | undefined {
    return this.#entries.get(fileId);
  }

  entries(): IterableIterator<CheckpointEntry> {
    return this.#entries.values();
  }

  /** Entries for a device+inode (normally one; more after inode reuse or copytruncate). */
  findByInode(dev: number, ino: number): CheckpointEntry[] {
    const found: CheckpointEntry[] = [];
    for (const e of this.#entries.values()) if (e.dev === dev && e.ino === ino) found.push(e);
    return found;
  }

  set(entry: CheckpointEntry): void {
    this.#entries.set(entry.fileId, entry);
    this.#dirty = true;
  }

  /** Marks the table changed after an entry was mutated in place. */
  touch(): void {
    this.#dirty = true;
  }

  delete(fileId: string): void {
    if (this.#entries.delete(fileId)) this.#dirty = true;
  }

  async load(): Promise<LoadProblem> {
    await mkdir(this.#dir, { recursive: true });
    this.#entries.clear();
    const main = await this.#readSnapshot(this.path);
    let chosen = main;
    let problem: LoadProblem = main.problem;
    if (main.problem !== 'none') {
      // A crash between the two renames leaves only `.prev`; a corrupt main file falls back to it too.
      const prev = await this.#readSnapshot(`${this.path}.prev`);
      if (prev.problem === 'none') {
        this.#log.warn({ path: `${this.path}.prev` }, 'using previous checkpoint snapshot');
        chosen = prev;
      }
      // After corruption, files without an entry must be read from their start, whatever start_at says.
      if (main.problem === 'missing') problem = prev.problem === 'missing' ? 'missing' : prev.problem;
    }
    for (const e of chosen.entries) this.#entries.set(e.fileId, e);
    this.#loadProblem = problem;
    return this.#loadProblem;
  }

  async #readSnapshot(path: string): Promise<{ problem: LoadProblem; entries: CheckpointEntry[] }> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { problem: 'missing', entries: [] };
      throw err;
    }
    try {
      return { problem: 'none', entries: parseSnapshot(text) };
    } catch (err) {
      this.stats.corruptFiles++;
      const aside = `${path}.corrupt-${Date.now()}`;
      const error = new CheckpointCorruptError(
        `checkpoint file ${path} is unreadable (${(err as Error).message}); moved to ${aside}, files will be re-read from their start (duplicates possible)`,
      );
      this.#log.error({ err: error, path, aside }, 'checkpoint file corrupt');
      await rename(path, aside).catch(() => undefined);
      return { problem: 'corrupt', entries: [] };
    }
  }

  /** Writes the table if it changed since the last write. Concurrent calls are serialised. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (!this.#dirty) return;
    this.#dirty = false;
    this.#writing = this.#write().finally(() => {
      this.#writing = undefined;
    });
    return this.#writing;
  }

  async #write(): Promise<void> {
    const entries = [...this.#entries.values()].map(toDisk);
    const entriesJson = JSON.stringify(entries);
    const body = `{"format":"${FORMAT}","version":${VERSION},"written_at":${Date.now()},"entries":${entriesJson},"sha256":"${hash('sha256', entriesJson)}"}\n`;
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(this.path, `${this.path}.prev`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      await rename(tmp, this.path);
      const dir = await open(this.#dir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      this.stats.writes++;
    } catch (err) {
      this.#dirty = true;
      this.stats.writeErrors++;
      const error = new CheckpointWriteError(
        `cannot write checkpoint file ${this.path}: ${(err as Error).message}; check free space and permissions of the data directory`,
      );
      this.#log.error({ err: error, path: this.path }, 'checkpoint write failed');
      throw error;
    }
  }
}

interface DiskEntry {
  file_id: string;
  source: string;
  path: string;
  dev: number;
  ino: number;
  fingerprint: string;
  fingerprint_len: number;
  offset: number;
  marker: string;
  marker_len: number;
  last_seen: number;
}

function toDisk(e: CheckpointEntry): DiskEntry {
  return {
    file_id: e.fileId,
    source: e.source,
    path: e.path,
    dev: e.dev,
    ino: e.ino,
    fingerprint: e.fingerprint,
    fingerprint_len: e.fingerprintLen,
    offset: e.offset,
    marker: e.marker,
    marker_len: e.markerLen,
    last_seen: e.lastSeen,
  };
}

/** Parses and validates a snapshot; throws with a short reason when anything is off. */
export function parseSnapshot(text: string): CheckpointEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('not valid JSON (truncated?)');
  }
  if (typeof doc !== 'object' || doc === null) throw new Error('not an object');
  const d = doc as Record<string, unknown>;
  if (d['format'] !== FORMAT) throw new Error('unknown format tag');
  if (d['version'] !== VERSION) throw new Error(`unsupported version ${String(d['version'])}`);
  if (!Array.isArray(d['entries'])) throw new Error('entries missing');
  if (hash('sha256', JSON.stringify(d['entries'])) !== d['sha256']) throw new Error('checksum mismatch');
  return (d['entries'] as unknown[]).map((raw, i) => {
    const r = raw as Record<string, unknown>;
    const str = (k: string): string => {
      if (typeof r[k] !== 'string') throw new Error(`entry ${i}: ${k} not a string`);
      return r[k] as string;
    };
    const num = (k: string): number => {
      const v = r[k];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
        throw new Error(`entry ${i}: ${k} invalid`);
      return v;
    };
    return {
      fileId: str('file_id'),
      source: str('source'),
      path: str('path'),
      dev: num('dev'),
      ino: num('ino'),
      fingerprint: str('fingerprint'),
      fingerprintLen: num('fingerprint_len'),
      offset: num('offset'),
      marker: str('marker'),
      markerLen: num('marker_len'),
      lastSeen: num('last_seen'),
    };
  });
}
