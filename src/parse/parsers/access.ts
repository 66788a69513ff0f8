import type { ParsedEvent } from '../../model/record.ts';
import type { Parser } from '../parser.ts';
import { parseClf } from '../timestamp.ts';
import { mergeFields, newFields } from './fields.ts';

/**
 * NCSA access logs, as written by nginx (`combined`, the default `log_format`) and Apache
 * (`common` `%h %l %u %t "%r" %>s %b` and `combined`, which adds referrer and user agent).
 * Whatever follows the standard fields (e.g. nginx's "$http_x_forwarded_for") goes to `extra`.
 *
 * Fields, ECS-shaped: source.address, user.name, http.request.method, url.original, http.version,
 * http.response.status_code, http.response.body.bytes, http.request.referrer, user_agent.original.
 * The line stays the message; the status sets the level (5xx error, 4xx warn, else info).
 */
const ACCESS =
  /^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?(?: (.*))?$/;

export class AccessLogParser implements Parser {
  readonly name: string;
  private readonly requireCombined: boolean;

  constructor(name: 'nginx' | 'apache') {
    this.name = name;
    this.requireCombined = name === 'nginx';
  }

  parse(ev: ParsedEvent): boolean {
    const m = ACCESS.exec(ev.message);
    if (m === null) return false;
    if (this.requireCombined && m[8] === undefined) return false;
    const time = parseClf(m[4]);
    if (time === undefined) return false;
    const f = newFields();
    f['source'] = { address: m[1] };
    if (m[3] !== '-') f['user'] = { name: m[3] };
    if (m[2] !== '-') f['ident'] = m[2];
    const http: Record<string, unknown> = {};
    const request: Record<string, unknown> = {};
    const req = m[5];
    const s1 = req.indexOf(' ');
    const s2 = s1 < 0 ? -1 : req.indexOf(' ', s1 + 1);
    if (s1 > 0 && s2 > s1 && req.startsWith('HTTP/', s2 + 1)) {
      request['method'] = req.slice(0, s1);
      f['url'] = { original: req.slice(s1 + 1, s2) };
      http['version'] = req.slice(s2 + 6);
    } else if (req !== '-' && req !== '') {
      // Garbage requests (TLS on a plain port, scanners) are kept whole.
      f['url'] = { original: req };
    }
    if (m[8] !== undefined && m[8] !== '-') request['referrer'] = m[8];
    if (Object.keys(request).length > 0) http['request'] = request;
    const status = m[6] === '-' ? undefined : Number(m[6]);
    const response: Record<string, unknown> = {};
    if (status !== undefined) response['status_code'] = status;
    if (m[7] !== '-') response['body'] = { bytes: Number(m[7]) };
    if (Object.keys(response).length > 0) http['response'] = response;
    f['http'] = http;
    if (m[9] !== undefined && m[9] !== '-') f['user_agent'] = { original: m[9] };
    if (m[10] !== undefined && m[10] !== '') f['extra'] = m[10];
    ev.timestamp = time;
    ev.level = status === undefined ? undefined : status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
    mergeFields(ev, f);
    return true;
  }
}
