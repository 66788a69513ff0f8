import { type Clock, systemClock } from '../model/clock.ts';
import type { OutRecord } from '../model/record.ts';
import { RECORD_OVERHEAD } from './batcher.ts';

/**
 * Heap bytes a record costs beyond its value and key text: the OutRecord object, the value built
 * as a rope (a cons-string node per template piece), the event's small strings and the line it was
 * made from. Measured with the real decoder and enricher on the benchmark corpus (nginx and JSON
 * lines of ~200 bytes, records of ~430 characters): 1,120-1,170 live heap bytes per record, i.e.
 * raw line + value + 500-530 (`bench/memory.ts`, docs/tuning.md). Counting only raw file bytes
 * understated the real cost about 5.7 times.
 */
export const RECORD_OVERHEAD_BYTES = 512;

/** What the bound counts for one record from the moment it is made until it is delivered. */
export function recordCost(record: OutRecord): number {
  return record.value.length + (record.key === null ? 0 : record.key.length) + RECORD_OVERHEAD_BYTES;
}

/**
 * The sum of `recordCost` over a batch's records, from what the Batcher counted (`bytes`: values
 * and keys plus RECORD_OVERHEAD each) and their number: for batches whose values are not kept.
 */
export function batchCost(bytes: number, count: number): number {
  return bytes + count * (RECORD_OVERHEAD_BYTES - RECORD_OVERHEAD);
}

/**
 * Counts the memory held by what was read but is not acknowledged yet (delivered or spooled): the
 * raw bytes of each chunk (its lines' text) until the chunk is acknowledged, plus `recordCost` of
 * each record made from it until the record is delivered, spooled or rejected. `charge` always
 * takes the bytes — they are already in memory; `wait` answers with a promise while the total is
 * over the bound, which the tailer awaits before reading on: the backpressure. The overshoot is
 * therefore at most what one read turns into, per file being read, and a line longer than the
 * bound can never deadlock.
 */
export class MemoryBound {
  readonly max: number;
  #used = 0;
  #waiters: (() => void)[] = [];
  #pausedSince = 0;
  readonly #clock: Clock;
  readonly stats = { paused_ms: 0, pauses: 0, peak_bytes: 0 };

  constructor(max: number, clock: Clock = systemClock) {
    this.max = max;
    this.#clock = clock;
  }

  get used(): number {
    return this.#used;
  }

  /** Paused time so far, including a pause still going on. */
  pausedMsNow(): number {
    return this.stats.paused_ms + (this.#pausedSince === 0 ? 0 : this.#clock.now() - this.#pausedSince);
  }

  /** Counts bytes now in memory, without waiting. */
  charge(bytes: number): void {
    this.#used += bytes;
    if (this.#used > this.stats.peak_bytes) this.stats.peak_bytes = this.#used;
  }

  /** A promise that settles when the total is back within the bound, or undefined when it is. */
  wait(): undefined | Promise<void> {
    if (this.#used <= this.max) return undefined;
    if (this.#pausedSince === 0) {
      this.#pausedSince = this.#clock.now();
      this.stats.pauses++;
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** `charge` then `wait`. */
  hold(bytes: number): undefined | Promise<void> {
    this.charge(bytes);
    return this.wait();
  }

  release(bytes: number): void {
    this.#used -= bytes;
    if (this.#used > this.max || this.#waiters.length === 0) return;
    this.stats.paused_ms += this.#clock.now() - this.#pausedSince;
    this.#pausedSince = 0;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Lets every waiting reader go (shutdown). */
  releaseWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
