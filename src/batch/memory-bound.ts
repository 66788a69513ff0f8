import { type Clock, systemClock } from '../model/clock.ts';

/**
 * Counts bytes read but not yet acknowledged (delivered or spooled). `hold` always takes the bytes
 * — the chunk is already in memory — and answers with a promise while the total is over the bound;
 * the tailer awaits it before reading on, which is the backpressure. The overshoot is therefore at
 * most one read per file that is being read, and a line longer than the bound can never deadlock.
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

  hold(bytes: number): undefined | Promise<void> {
    this.#used += bytes;
    if (this.#used > this.stats.peak_bytes) this.stats.peak_bytes = this.#used;
    if (this.#used <= this.max) return undefined;
    if (this.#pausedSince === 0) {
      this.#pausedSince = this.#clock.now();
      this.stats.pauses++;
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
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
