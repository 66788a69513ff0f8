/**
 * Secrets never leave the process in clear: `check-config` prints the resolved config through
 * redactConfig, and the reload log names changed keys, never their values. A key is secret by its
 * name (anywhere in the tree), so a section added later (SASL, TLS key passwords) is covered
 * without touching this list.
 */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'password',
  'secret',
  'token',
  'key_password',
  'client_secret',
  'access_token',
  'authorization',
]);

export const REDACTED = '[redacted]';

/** True for a key whose value must not be shown (`password`, `sasl.password`, `key_password`, ...). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase());
}

/** A deep copy of `value` with every secret-named key's value replaced; empty secrets stay empty. */
export function redactConfig<T>(value: T): T {
  return redact(value) as T;
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (isSecretKey(k) && v !== undefined && v !== null && v !== '') out[k] = REDACTED;
    else out[k] = redact(v);
  }
  return out;
}
