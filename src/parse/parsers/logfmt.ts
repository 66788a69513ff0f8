import type { ParsedEvent } from '../../model/record.ts';
import type { FieldRoles, Parser } from '../parser.ts';
import { applyFields, newFields, setField } from './fields.ts';

/**
 * logfmt: `key=value key2="quoted \"value\"" bare`. Values stay strings (a bare key is `true`).
 * Needs at least one `key=value` pair, and fails on an unterminated quote.
 */
export class LogfmtParser implements Parser {
  readonly name = 'logfmt';
  private readonly roles: FieldRoles;

  constructor(roles: FieldRoles) {
    this.roles = roles;
  }

  parse(ev: ParsedEvent): boolean {
    const s = ev.message;
    const n = s.length;
    const fields = newFields();
    let pairs = 0;
    let i = 0;
    while (i < n) {
      while (i < n && s.charCodeAt(i) <= 32) i++;
      if (i >= n) break;
      const ks = i;
      while (i < n) {
        const c = s.charCodeAt(i);
        if (c <= 32 || c === 61 /* = */ || c === 34 /* " */) break;
        i++;
      }
      if (i === ks) return false; // a value or quote where a key should be
      const key = s.slice(ks, i);
      if (i >= n || s.charCodeAt(i) !== 61) {
        if (i < n && s.charCodeAt(i) === 34) return false;
        setField(fields, key, true);
        continue;
      }
      i++; // '='
      if (i < n && s.charCodeAt(i) === 34) {
        i++;
        let v = '';
        let segStart = i;
        let closed = false;
        while (i < n) {
          const c = s.charCodeAt(i);
          if (c === 34) {
            v += s.slice(segStart, i);
            i++;
            closed = true;
            break;
          }
          if (c === 92 /* \ */ && i + 1 < n) {
            v += s.slice(segStart, i);
            const e = s.charCodeAt(i + 1);
            v += e === 110 ? '\n' : e === 116 ? '\t' : e === 114 ? '\r' : s[i + 1];
            i += 2;
            segStart = i;
            continue;
          }
          i++;
        }
        if (!closed) return false;
        setField(fields, key, v);
      } else {
        const vs = i;
        while (i < n && s.charCodeAt(i) > 32) i++;
        setField(fields, key, s.slice(vs, i));
      }
      pairs++;
    }
    if (pairs === 0) return false;
    applyFields(ev, fields, this.roles);
    return true;
  }
}
