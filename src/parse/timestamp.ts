/**
 * Timestamp parsing without Date.parse on the hot path: RFC 3339 / ISO 8601, epoch numbers, the
 * common log format and syslog's RFC 3164 stamp. Every function returns ms since epoch, or
 * undefined when the text is not a time it understands. None of them throws.
 */

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * `YYYY-MM-DD[T ]hh:mm:ss[.frac|,frac][Z|±hh:mm|±hhmm]` within s[start, end). A missing zone is
 * taken as UTC. A date alone (`YYYY-MM-DD`) is midnight UTC.
 */
export function parseRfc3339(s: string, start: number, end: number): number | undefined {
  if (end - start < 10) return undefined;
  const y = digits(s, start, 4);
  if (y < 0 || s.charCodeAt(start + 4) !== 45 || s.charCodeAt(start + 7) !== 45) return undefined;
  const mo = digits(s, start + 5, 2);
  const d = digits(s, start + 8, 2);
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  if (end - start === 10) return Date.UTC(y, mo - 1, d);
  const sep = s.charCodeAt(start + 10);
  if ((sep !== 84 && sep !== 32 && sep !== 116) || end - start < 19) return undefined;
  const h = digits(s, start + 11, 2);
  const mi = digits(s, start + 14, 2);
  const se = digits(s, start + 17, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60) return undefined;
  if (s.charCodeAt(start + 13) !== 58 || s.charCodeAt(start + 16) !== 58) return undefined;
  let i = start + 19;
  let ms = 0;
  const dot = s.charCodeAt(i);
  if (i < end && (dot === 46 || dot === 44)) {
    i++;
    let scale = 100;
    const fracStart = i;
    while (i < end) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      ms += c * scale;
      scale /= 10;
      i++;
    }
    if (i === fracStart) return undefined;
    ms = Math.floor(ms);
  }
  let offsetMin = 0;
  if (i < end) {
    const z = s.charCodeAt(i);
    if (z === 90 || z === 122) {
      i++;
    } else if (z === 43 || z === 45) {
      const oh = digits(s, i + 1, 2);
      let om: number;
      if (s.charCodeAt(i + 3) === 58) {
        om = digits(s, i + 4, 2);
        i += 6;
      } else if (i + 5 <= end) {
        om = digits(s, i + 3, 2);
        i += 5;
      } else {
        om = 0;
        i += 3;
      }
      if (oh < 0 || om < 0 || oh > 23 || om > 59) return undefined;
      offsetMin = (oh * 60 + om) * (z === 45 ? -1 : 1);
    } else {
      return undefined;
    }
  }
  if (i !== end) return undefined;
  // Same as Date.UTC(y, mo - 1, d, h, mi, se, ms) for these ranges; the day is cached, since a
  // file's lines mostly share it.
  return utcDay(y, mo, d) + h * 3600000 + mi * 60000 + se * 1000 + ms - offsetMin * 60000;
}

let cachedY = -1;
let cachedMo = -1;
let cachedD = -1;
let cachedDay = 0;

function utcDay(y: number, mo: number, d: number): number {
  if (y !== cachedY || mo !== cachedMo || d !== cachedD) {
    cachedDay = Date.UTC(y, mo - 1, d);
    cachedY = y;
    cachedMo = mo;
    cachedD = d;
  }
  return cachedDay;
}

/** Epoch seconds, ms, µs or ns, told apart by magnitude (seconds before year 5138). */
export function fromEpoch(n: number): number | undefined {
  if (!Number.isFinite(n) || n <= 0) return undefined;
  if (n < 1e11) return Math.round(n * 1000);
  if (n < 1e14) return Math.round(n);
  if (n < 1e17) return Math.round(n / 1000);
  return Math.round(n / 1e6);
}

/** `10/Oct/2000:13:55:36 -0700` (the common log format, without the brackets). */
export function parseClf(s: string): number | undefined {
  if (s.length < 20) return undefined;
  const d = digits(s, 0, 2);
  const mo = MONTHS[s.slice(3, 6)];
  const y = digits(s, 7, 4);
  const h = digits(s, 12, 2);
  const mi = digits(s, 15, 2);
  const se = digits(s, 18, 2);
  if (d < 1 || mo === undefined || y < 0 || h < 0 || mi < 0 || se < 0) return undefined;
  if (s.charCodeAt(2) !== 47 || s.charCodeAt(6) !== 47 || s.charCodeAt(11) !== 58) return undefined;
  let offsetMin = 0;
  if (s.length >= 26 && s.charCodeAt(20) === 32) {
    const sign = s.charCodeAt(21);
    const oh = digits(s, 22, 2);
    const om = digits(s, 24, 2);
    if ((sign !== 43 && sign !== 45) || oh < 0 || om < 0) return undefined;
    offsetMin = (oh * 60 + om) * (sign === 45 ? -1 : 1);
  }
  return Date.UTC(y, mo, d, h, mi, se) - offsetMin * 60000;
}

/**
 * RFC 3164 `Oct 11 22:14:15` (also `Oct  1 ...`), which has no year or zone: taken as UTC in the
 * year that puts it closest before `ref` (a stamp more than a day ahead of `ref` is last year's).
 */
export function parseSyslogStamp(s: string, start: number, ref: number): number | undefined {
  if (s.length - start < 15) return undefined;
  const mo = MONTHS[s.slice(start, start + 3)];
  if (mo === undefined || s.charCodeAt(start + 3) !== 32) return undefined;
  const d = s.charCodeAt(start + 4) === 32 ? digits(s, start + 5, 1) : digits(s, start + 4, 2);
  const h = digits(s, start + 7, 2);
  const mi = digits(s, start + 10, 2);
  const se = digits(s, start + 13, 2);
  if (d < 1 || h < 0 || mi < 0 || se < 0) return undefined;
  if (s.charCodeAt(start + 9) !== 58 || s.charCodeAt(start + 12) !== 58) return undefined;
  const year = new Date(ref).getUTCFullYear();
  const t = Date.UTC(year, mo, d, h, mi, se);
  return t > ref + 86400000 ? Date.UTC(year - 1, mo, d, h, mi, se) : t;
}

/** Any value a parsed field may hold: a number (epoch), or a string in one of the formats above. */
export function parseTimeValue(v: unknown, ref: number): number | undefined {
  if (typeof v === 'number') return fromEpoch(v);
  if (typeof v !== 'string' || v.length === 0) return undefined;
  const c = v.charCodeAt(0);
  if (c >= 48 && c <= 57) {
    const t = parseRfc3339(v, 0, v.length);
    if (t !== undefined) return t;
    if (v.length >= 20 && v.charCodeAt(2) === 47) return parseClf(v);
    const n = Number(v);
    return Number.isNaN(n) ? undefined : fromEpoch(n);
  }
  if (c === 91 && v.charCodeAt(v.length - 1) === 93) return parseClf(v.slice(1, -1));
  return parseSyslogStamp(v, 0, ref);
}
