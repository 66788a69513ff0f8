import { type FSWatcher, watch } from 'node:fs';
import type { Logger } from '../observe/logger.ts';

export type DirEventHandler = (dir: string, filename: string | null, eventType: string) => void;

/**
 * One non-recursive inotify watch per directory. Watching directories (not files) sees creations,
 * renames, deletions and writes of every file inside, and survives the files being rotated.
 * A directory that cannot be watched (inotify limit, network file system) is reported as failed and
 * its files are polled instead.
 */
export class DirWatcher {
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #failed = new Set<string>();
  readonly #onEvent: DirEventHandler;
  readonly #log: Logger;
  readonly #maxWatches: number;

  constructor(onEvent: DirEventHandler, log: Logger, maxWatches = 8192) {
    this.#onEvent = onEvent;
    this.#log = log;
    this.#maxWatches = maxWatches;
  }

  get count(): number {
    return this.#watchers.size;
  }

  /** Directories that could not be watched. */
  get failedCount(): number {
    return this.#failed.size;
  }

  /** Directories whose files must be polled. */
  isPolled(dir: string): boolean {
    return this.#failed.has(dir) || !this.#watchers.has(dir);
  }

  watch(dir: string): void {
    if (this.#watchers.has(dir) || this.#failed.has(dir)) return;
    if (this.#watchers.size >= this.#maxWatches) {
      this.#failed.add(dir);
      return;
    }
    try {
      const w = watch(dir, { persistent: false }, (eventType, filename) => {
        this.#onEvent(dir, filename === null ? null : String(filename), eventType);
      });
      w.on('error', (err) => {
        this.#log.warn({ dir, err }, 'directory watch failed, polling it');
        w.close();
        this.#watchers.delete(dir);
        this.#failed.add(dir);
        this.#onEvent(dir, null, 'error');
      });
      this.#watchers.set(dir, w);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') this.#log.warn({ dir, code }, 'cannot watch directory, polling it');
      this.#failed.add(dir);
    }
  }

  /** Forgets a directory (so a later watch() retries it). */
  unwatch(dir: string): void {
    this.#watchers.get(dir)?.close();
    this.#watchers.delete(dir);
    this.#failed.delete(dir);
  }

  close(): void {
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
    this.#failed.clear();
  }
}
