/**
 * Cutting the message member out of the text of a JSON object, so that the json parser can hand
 * the enricher the line's own text as the encoded fields instead of having the parsed object
 * re-encoded (JSON.stringify of a 300-byte object costs about as much as JSON.parse of it).
 *
 * Only for text that JSON.parse accepted, and only when the text holds no backslash: then every
 * `"` is the start or end of a string, every key is spelled as it reads, and a few indexOf calls
 * find the member exactly. Anything else (escapes anywhere, the key more than once) answers
 * undefined and the caller re-encodes. A character-level scanner for the general case was
 * measured: it cost as much as JSON.stringify and was dropped.
 *
 * What differs from re-encoding, by design: the line's own spelling is kept (spaces after colons,
 * number digits beyond double precision, and duplicate keys other than the message's, which
 * JSON.parse would have collapsed to the last one). The data a JSON reader gets is the same.
 */

const CLOSED = new Map<string, string>();

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function skipWs(t: string, i: number): number {
  while (i < t.length && isWs(t.charCodeAt(i))) i++;
  return i;
}

function trimEnd(t: string, end: number): number {
  while (end > 0 && isWs(t.charCodeAt(end - 1))) end--;
  return end;
}

/**
 * `t` holds one JSON object (JSON.parse accepted it) starting at `start` (its `{`), whose
 * top-level `key` holds a string. Returns the object's text without that member (and one
 * adjoining comma), the whole object's text when `key` is undefined, or undefined when that cannot
 * be done cheaply and exactly.
 */
export function objectTextWithout(t: string, start: number, key: string | undefined): string | undefined {
  const end = trimEnd(t, t.length);
  if (key === undefined) return start === 0 && end === t.length ? t : t.slice(start, end);
  if (t.indexOf('\\') >= 0) return undefined;
  let closed = CLOSED.get(key);
  if (closed === undefined) {
    closed = `${key}"`;
    // Keys come from the config and a fixed list; the bound only guards against surprises.
    if (CLOSED.size < 64) CLOSED.set(key, closed);
  }
  // Searched as `key"` rather than `"key"`: indexOf is several times faster when the pattern does
  // not start with a character as frequent as the quote. The top-level member exists and, without
  // escapes, reads `"key"`; when `key"` occurs only once in the whole text, that is the member.
  const at = t.indexOf(closed, start);
  if (at < 1 || t.charCodeAt(at - 1) !== 34 /* " */ || t.indexOf(closed, at + 1) >= 0) return undefined;
  const k = at - 1;
  const colon = skipWs(t, at + closed.length);
  if (t.charCodeAt(colon) !== 58 /* : */) return undefined;
  const open = skipWs(t, colon + 1);
  if (t.charCodeAt(open) !== 34 /* " */) return undefined;
  const valueEnd = t.indexOf('"', open + 1) + 1;
  const after = skipWs(t, valueEnd);
  if (t.charCodeAt(after) === 44 /* , */) return t.slice(start, k) + t.slice(skipWs(t, after + 1), end);
  // The last member: drop the comma before it, if any.
  let before = k - 1;
  while (isWs(t.charCodeAt(before))) before--;
  if (t.charCodeAt(before) === 44) return t.slice(start, before) + t.slice(valueEnd, end);
  return t.slice(start, k) + t.slice(valueEnd, end);
}
