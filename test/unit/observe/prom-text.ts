/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it throws on
 * anything a Prometheus server would reject or that breaks the format's rules (samples before their
 * TYPE, a family split in two, duplicate series, bad escapes, histogram buckets that are not
 * cumulative or whose +Inf bucket differs from _count, negative counters, no trailing newline).
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const families = new Map<string, Family>();
  const finished = new Set<string>();
  const seen = new Set<string>();
  let current: Family | undefined;
  const lines = text.split('\n');
  lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string | undefined];
      if (!NAME.test(name)) throw new Error(`bad metric name in ${where}`);
      let family = families.get(name);
      if (!family) {
        if (current) finished.add(current.name);
        if (finished.has(name)) throw new Error(`family ${name} split in two at ${where}`);
        family = { name, type: 'untyped', help: undefined, samples: [] };
        families.set(name, family);
        current = family;
      } else if (family !== current) {
        throw new Error(`family ${name} split in two at ${where}`);
      }
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`second HELP for ${name} at ${where}`);
        family.help = unescapeHelp(rest, where);
      } else {
        if (family.samples.length > 0) throw new Error(`TYPE after samples of ${name} at ${where}`);
        if (!TYPES.has(rest.trim() as MetricType)) throw new Error(`unknown type in ${where}`);
        family.type = rest.trim() as MetricType;
      }
      continue;
    }
    const sample = parseSample(line, where);
    const familyName = familyOf(sample.name, current);
    let family = families.get(familyName);
    if (!family) {
      if (current) finished.add(current.name);
      family = { name: familyName, type: 'untyped', help: undefined, samples: [] };
      families.set(familyName, family);
      current = family;
    } else if (family !== current) {
      throw new Error(`family ${familyName} split in two at ${where}`);
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series at ${where}`);
    seen.add(key);
    if (family.type === 'counter' && (sample.value < 0 || Number.isNaN(sample.value))) {
      throw new Error(`counter below 0 or NaN at ${where}`);
    }
    family.samples.push(sample);
  }
  for (const f of families.values()) checkFamily(f);
  return families;
}

/** The family a sample belongs to: `x_bucket`/`x_sum`/`x_count` belong to histogram or summary `x`. */
function familyOf(sampleName: string, current: Family | undefined): string {
  if (current && (current.type === 'histogram' || current.type === 'summary')) {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (sampleName === current.name + suffix) return current.name;
    }
    if (current.type === 'summary' && sampleName === current.name) return current.name;
  }
  if (current && sampleName === current.name) return current.name;
  return sampleName;
}

function checkFamily(f: Family): void {
  for (const s of f.samples) {
    const ok =
      f.type === 'histogram'
        ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`].includes(s.name)
        : f.type === 'summary'
          ? [f.name, `${f.name}_sum`, `${f.name}_count`].includes(s.name)
          : s.name === f.name;
    if (!ok) throw new Error(`sample ${s.name} does not belong to ${f.type} ${f.name}`);
  }
  if (f.type !== 'histogram') return;
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let h = series.get(key);
    if (!h) {
      h = { buckets: [] };
      series.set(key, h);
    }
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`bucket of ${f.name} without le`);
      h.buckets.push([parseValue(le, `le of ${f.name}`), s.value]);
    } else if (s.name.endsWith('_count')) h.count = s.value;
    else h.sum = s.value;
  }
  for (const [key, h] of series) {
    if (h.count === undefined || h.sum === undefined) throw new Error(`${f.name}${key} lacks _count or _sum`);
    const last = h.buckets.at(-1);
    if (!last || last[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`${f.name}${key} lacks the +Inf bucket`);
    for (let i = 1; i < h.buckets.length; i++) {
      const [le0, c0] = h.buckets[i - 1] as [number, number];
      const [le1, c1] = h.buckets[i] as [number, number];
      if (!(le1 > le0)) throw new Error(`${f.name}${key} buckets not in increasing le order`);
      if (c1 < c0) throw new Error(`${f.name}${key} buckets not cumulative`);
    }
    if (last[1] !== h.count) throw new Error(`${f.name}${key} +Inf bucket ${last[1]} != count ${h.count}`);
  }
}

function parseSample(line: string, where: string): Sample {
  let i = 0;
  while (i < line.length && /[a-zA-Z0-9_:]/.test(line[i] as string)) i++;
  const name = line.slice(0, i);
  if (!NAME.test(name)) throw new Error(`bad sample name in ${where}`);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const start = i;
      while (i < line.length && /[a-zA-Z0-9_]/.test(line[i] as string)) i++;
      const label = line.slice(start, i);
      if (!LABEL_NAME.test(label)) throw new Error(`bad label name in ${where}`);
      if (label in labels) throw new Error(`label ${label} twice in ${where}`);
      if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`expected =" after ${label} in ${where}`);
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`unterminated label value in ${where}`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i + 1];
          if (e === 'n') value += '\n';
          else if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else throw new Error(`bad escape \\${e} in ${where}`);
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      labels[label] = value;
      i++;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } in ${where}`);
    }
    i++;
  }
  if (line[i] !== ' ') throw new Error(`expected a space before the value in ${where}`);
  const parts = line.slice(i + 1).split(' ');
  if (parts.length > 2 || parts[0] === '') throw new Error(`bad value part in ${where}`);
  const value = parseValue(parts[0] as string, where);
  if (parts.length === 2 && !/^-?[0-9]+$/.test(parts[1] as string))
    throw new Error(`bad timestamp in ${where}`);
  return { name, labels, value };
}

/** As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case, no hex or underscores. */
function parseValue(text: string, where: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf' || lower === '+infinity' || lower === 'infinity') {
    return Number.POSITIVE_INFINITY;
  }
  if (lower === '-inf' || lower === '-infinity') return Number.NEGATIVE_INFINITY;
  if (lower === 'nan') return Number.NaN;
  if (!/^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(text)) {
    throw new Error(`bad number ${JSON.stringify(text)} in ${where}`);
  }
  return Number(text);
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.?)/g, (_, e: string) => {
    if (e === 'n') return '\n';
    if (e === '\\') return '\\';
    throw new Error(`bad escape in HELP at ${where}`);
  });
}

/** The value of the one sample of `family` whose labels include `labels`; throws when there is none or several. */
export function sampleValue(
  families: Map<string, Family>,
  sampleName: string,
  labels: Record<string, string> = {},
  family = sampleName,
): number {
  const f = families.get(family);
  if (!f) throw new Error(`no family ${family}`);
  const hits = f.samples.filter(
    (s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (hits.length !== 1) throw new Error(`${hits.length} samples ${sampleName}${JSON.stringify(labels)}`);
  return (hits[0] as Sample).value;
}
