import type { Clock } from '../model/clock.ts';
import type { Readiness } from './http-server.ts';
import type { BrokerState } from './metrics.ts';

/** What readiness is decided from; the agent fills it from its stages when /readyz is asked. */
export interface ReadinessInput {
  /** The config was loaded and validated and the pipeline started. */
  started: boolean;
  /** The agent is shutting down (SIGTERM): not ready, so no new traffic is routed to the pod's logs. */
  stopping?: boolean;
  broker: BrokerState | undefined;
  /** The on-disk spool, when one is configured: undelivered batches go there while the broker is away. */
  spool?: { bytes: number; max_bytes: number } | undefined;
}

/**
 * The readiness rule of issue 7: ready when the config is loaded and the sink is connected, or
 * when it is not but the spool still has room (lines keep flowing to disk within its bounds).
 */
export function evaluateReadiness(input: ReadinessInput): Readiness {
  if (!input.started) return { ready: false, reason: 'starting: config not loaded or pipeline not started' };
  if (input.stopping) return { ready: false, reason: 'shutting down' };
  if (input.broker === 'connected') return { ready: true, broker: 'connected' };
  const broker = input.broker ?? 'unknown';
  const spool = input.spool;
  if (spool && spool.max_bytes > 0) {
    if (spool.bytes < spool.max_bytes) {
      return {
        ready: true,
        broker,
        spooling: true,
        spool_bytes: spool.bytes,
        spool_max_bytes: spool.max_bytes,
      };
    }
    return {
      ready: false,
      reason: `broker ${broker} and spool full`,
      broker,
      spool_bytes: spool.bytes,
      spool_max_bytes: spool.max_bytes,
    };
  }
  return { ready: false, reason: `broker ${broker} and no spool to hold records`, broker };
}

/**
 * Accumulates the time reading is paused by backpressure, for `backpressure_ms` in the metrics
 * snapshot. Called on state changes only (never per line); a pause still going on counts up to now.
 */
export class PauseMeter {
  readonly #clock: Pick<Clock, 'now'>;
  #totalMs = 0;
  #since: number | undefined;

  constructor(clock: Pick<Clock, 'now'> = Date) {
    this.#clock = clock;
  }

  get paused(): boolean {
    return this.#since !== undefined;
  }

  /** Reading stopped; a second call while paused changes nothing. */
  pause(): void {
    if (this.#since === undefined) this.#since = this.#clock.now();
  }

  /** Reading resumed; a call while not paused changes nothing. */
  resume(): void {
    if (this.#since === undefined) return;
    this.#totalMs += Math.max(0, this.#clock.now() - this.#since);
    this.#since = undefined;
  }

  /** Total paused milliseconds, including a pause still going on. */
  totalMs(): number {
    return this.#totalMs + (this.#since === undefined ? 0 : Math.max(0, this.#clock.now() - this.#since));
  }
}
