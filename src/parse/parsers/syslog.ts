import type { ParsedEvent } from '../../model/record.ts';
import { SYSLOG_SEVERITY } from '../level.ts';
import type { Parser } from '../parser.ts';
import { parseRfc3339, parseSyslogStamp } from '../timestamp.ts';
import { type Fields, mergeFields, newFields, setField } from './fields.ts';

/**
 * Syslog as written to files or received raw:
 * - RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD...] MSG` (`-` is nil);
 * - RFC 3164: `[<PRI>]Mmm dd hh:mm:ss HOST TAG[PID]: MSG`, also with an RFC 3339 stamp (rsyslog's
 *   high-precision file format).
 * Fields: facility, severity (when PRI is present), hostname, appname, procid, msgid,
 * structured_data ({ sd-id: { param: value } }). The message becomes MSG; severity sets the level.
 */
export class SyslogParser implements Parser {
  readonly name = 'syslog';

  parse(ev: ParsedEvent): boolean {
    const s = ev.message;
    const n = s.length;
    let i = 0;
    let pri = -1;
    if (s.charCodeAt(0) === 60 /* < */) {
      let j = 1;
      let v = 0;
      while (j < n && j <= 4) {
        const c = s.charCodeAt(j) - 48;
        if (c < 0 || c > 9) break;
        v = v * 10 + c;
        j++;
      }
      if (j === 1 || s.charCodeAt(j) !== 62 /* > */ || v > 191) return false;
      pri = v;
      i = j + 1;
    }
    const fields = newFields();
    if (pri >= 0) {
      fields['facility'] = pri >> 3;
      fields['severity'] = pri & 7;
    }
    const ok =
      pri >= 0 && s.charCodeAt(i) === 49 /* 1 */ && s.charCodeAt(i + 1) === 32
        ? this.rfc5424(ev, s, i + 2, fields)
        : this.rfc3164(ev, s, i, fields);
    if (!ok) return false;
    if (pri >= 0) ev.level = SYSLOG_SEVERITY[pri & 7];
    mergeFields(ev, fields);
    return true;
  }

  private rfc5424(ev: ParsedEvent, s: string, i: number, fields: Fields): boolean {
    const tokens: string[] = [];
    for (let k = 0; k < 5; k++) {
      const sp = s.indexOf(' ', i);
      if (sp < 0) return false;
      tokens.push(s.slice(i, sp));
      i = sp + 1;
    }
    const [ts, host, app, procid, msgid] = tokens;
    let time: number | undefined;
    if (ts !== '-') {
      time = parseRfc3339(ts, 0, ts.length);
      if (time === undefined) return false;
    }
    if (host !== '-') fields['hostname'] = host;
    if (app !== '-') fields['appname'] = app;
    if (procid !== '-') fields['procid'] = procid;
    if (msgid !== '-') fields['msgid'] = msgid;
    if (s.charCodeAt(i) === 45 /* - */) {
      i++;
    } else if (s.charCodeAt(i) === 91 /* [ */) {
      const sd = newFields();
      i = parseStructuredData(s, i, sd);
      if (i < 0) return false;
      fields['structured_data'] = sd;
    } else {
      return false;
    }
    if (i < s.length) {
      if (s.charCodeAt(i) !== 32) return false;
      i++;
    }
    if (s.charCodeAt(i) === 0xfeff) i++;
    ev.message = s.slice(i);
    if (time !== undefined) ev.timestamp = time;
    return true;
  }

  private rfc3164(ev: ParsedEvent, s: string, i: number, fields: Fields): boolean {
    let time: number | undefined;
    let end: number;
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      end = s.indexOf(' ', i);
      if (end < 0) return false;
      time = parseRfc3339(s, i, end);
    } else {
      end = i + 15;
      time = parseSyslogStamp(s, i, ev.chunk.readAt);
    }
    if (time === undefined || (end < s.length && s.charCodeAt(end) !== 32)) return false;
    i = end + 1;
    // HOST, unless the next token is already the tag ("su:" / "su[12]:").
    let sp = s.indexOf(' ', i);
    let tok = sp < 0 ? s.slice(i) : s.slice(i, sp);
    if (tok !== '' && !isTag(tok)) {
      fields['hostname'] = tok;
      i = sp < 0 ? s.length : sp + 1;
      sp = s.indexOf(' ', i);
      tok = sp < 0 ? s.slice(i) : s.slice(i, sp);
    }
    if (isTag(tok)) {
      const br = tok.indexOf('[');
      if (br > 0) {
        fields['appname'] = tok.slice(0, br);
        fields['procid'] = tok.slice(br + 1, tok.lastIndexOf(']'));
      } else {
        fields['appname'] = tok.slice(0, -1);
      }
      i = sp < 0 ? s.length : sp + 1;
    }
    ev.message = s.slice(i);
    ev.timestamp = time;
    return true;
  }
}

function isTag(tok: string): boolean {
  const n = tok.length;
  if (n < 2 || tok.charCodeAt(n - 1) !== 58 /* : */) return false;
  const br = tok.indexOf('[');
  return br < 0 || (br > 0 && tok.charCodeAt(n - 2) === 93) /* ] */;
}

/** `[id k="v" ...][id2 ...]` from s[i]; returns the index after the last `]`, or -1. */
function parseStructuredData(s: string, i: number, out: Fields): number {
  const n = s.length;
  while (i < n && s.charCodeAt(i) === 91) {
    i++;
    let j = i;
    while (j < n && s.charCodeAt(j) !== 32 && s.charCodeAt(j) !== 93) j++;
    if (j >= n || j === i) return -1;
    const params = newFields();
    setField(out, s.slice(i, j), params);
    i = j;
    while (i < n && s.charCodeAt(i) === 32) {
      i++;
      const eq = s.indexOf('=', i);
      if (eq < 0 || s.charCodeAt(eq + 1) !== 34) return -1;
      const name = s.slice(i, eq);
      i = eq + 2;
      let v = '';
      let seg = i;
      for (;;) {
        if (i >= n) return -1;
        const c = s.charCodeAt(i);
        if (c === 92 /* \ */ && i + 1 < n) {
          v += s.slice(seg, i);
          i++;
          seg = i;
          i++;
          continue;
        }
        if (c === 34) break;
        i++;
      }
      v += s.slice(seg, i);
      setField(params, name, v);
      i++;
    }
    if (s.charCodeAt(i) !== 93) return -1;
    i++;
  }
  return i;
}
