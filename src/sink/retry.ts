import type { RetryConfig } from './sink-config.ts';

/**
 * Delay before try number `attempt` (1 = the first retry): exponential growth capped at `max_ms`,
 * with "full jitter" in the upper half so that many agents do not retry in lockstep.
 */
export function backoffDelay(
  policy: RetryConfig,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exp = policy.initial_ms * policy.multiplier ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.max_ms, exp);
  return Math.round(capped / 2 + (random() * capped) / 2);
}
