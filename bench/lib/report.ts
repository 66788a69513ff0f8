/**
 * Results of a benchmark run and their forms: the markdown table (with ratios against rsyslog and
 * ProducerPerformance from the same run), the verdict on issue 9's targets, a hand-written SVG bar
 * chart, and the generated block of docs/benchmarks.md. Pure functions, no I/O except writeDocBlock.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export type ScenarioStatus = 'ok' | 'FAILED' | 'unavailable';

export interface ScenarioResult {
  id: string;
  title: string;
  status: ScenarioStatus;
  /** Why it failed or is unavailable. */
  reason?: string;
  /** Records the topic must hold (the corpus's line count). */
  expectedRecords: number;
  /** Records the topic held after the run (fetchTopicOffsets). */
  topicRecords?: number;
  /** Raw log bytes shipped. */
  bytes: number;
  seconds?: number;
  linesPerSec?: number;
  /** 10^6 bytes of raw log per second. */
  mbPerSec?: number;
  cpuSeconds?: number;
  cpuSecPerGiB?: number;
  peakRssMiB?: number;
  p50Ms?: number;
  p99Ms?: number;
  notes?: string[];
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

function num(x: number | undefined, digits = 0): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(x: ScenarioResult, ref: ScenarioResult | undefined): string {
  if (ref?.status !== 'ok' || x.status !== 'ok' || !x.linesPerSec || !ref.linesPerSec) return '–';
  return `${(x.linesPerSec / ref.linesPerSec).toFixed(2)}×`;
}

function statusText(r: ScenarioResult): string {
  if (r.status === 'ok') return 'ok';
  return `**${r.status}**${r.reason ? `: ${r.reason.replaceAll('|', '/')}` : ''}`;
}

/** The markdown table; ratios are lines/s against the rsyslog and producer-perf rows of `results`. */
export function markdownTable(results: readonly ScenarioResult[]): string {
  const rsyslog = results.find((r) => r.id === 'rsyslog');
  const pp = results.find((r) => r.id === 'producer-perf');
  const head =
    '| Scenario | Status | lines/s | MB/s | × rsyslog | × ProducerPerf | CPU s/GiB | peak RSS MiB | p50 ms | p99 ms |\n' +
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n';
  // A run that did not deliver every line has no throughput worth printing (the JSON keeps it).
  const rows = results.map((r) =>
    r.status === 'ok'
      ? `| ${r.title} | ok | ${num(r.linesPerSec)} | ${num(r.mbPerSec, 1)} | ${ratio(r, rsyslog)} | ${ratio(r, pp)} | ${num(r.cpuSecPerGiB, 1)} | ${num(r.peakRssMiB)} | ${num(r.p50Ms, 1)} | ${num(r.p99Ms, 1)} |`
      : `| ${r.title} | ${statusText(r)} | – | – | – | – | – | – | – | – |`,
  );
  return `${head + rows.join('\n')}\n`;
}

export interface TargetVerdict {
  target: string;
  measured: string;
  met: boolean | undefined;
}

/** Issue 9's targets, judged on the headline row against the peers of the same run. */
export function judgeTargets(results: readonly ScenarioResult[]): TargetVerdict[] {
  const byId = (id: string) => results.find((r) => r.id === id && r.status === 'ok');
  const h = byId('headline');
  const rs = byId('rsyslog');
  const pp = byId('producer-perf');
  const out: TargetVerdict[] = [];
  const add = (
    target: string,
    value: number | undefined,
    fmt: (v: number) => string,
    ok: (v: number) => boolean,
  ) =>
    out.push(
      value === undefined || !Number.isFinite(value)
        ? { target, measured: 'not measured', met: undefined }
        : { target, measured: fmt(value), met: ok(value) },
    );
  add(
    'headline throughput ≥ 1.5× rsyslog/omkafka',
    h?.linesPerSec && rs?.linesPerSec ? h.linesPerSec / rs.linesPerSec : undefined,
    (v) => `${v.toFixed(2)}×`,
    (v) => v >= 1.5,
  );
  // Not one of the issue's targets: the same ratio against rsyslog doing the same work per line.
  const rr = byId('rsyslog-record');
  add(
    "(for reference) headline ≥ 1.5× rsyslog writing logferry's JSON record",
    h?.linesPerSec && rr?.linesPerSec ? h.linesPerSec / rr.linesPerSec : undefined,
    (v) => `${v.toFixed(2)}×`,
    (v) => v >= 1.5,
  );
  add(
    'headline ≥ 60% of ProducerPerformance records/s',
    h?.linesPerSec && pp?.linesPerSec ? h.linesPerSec / pp.linesPerSec : undefined,
    (v) => `${(100 * v).toFixed(0)}%`,
    (v) => v >= 0.6,
  );
  add(
    '≤ 10 agent CPU-seconds per GiB',
    h?.cpuSecPerGiB,
    (v) => `${v.toFixed(1)} s/GiB`,
    (v) => v <= 10,
  );
  add(
    'peak RSS ≤ 96 MiB (defaults, full speed)',
    h?.peakRssMiB,
    (v) => `${v.toFixed(0)} MiB`,
    (v) => v <= 96,
  );
  add(
    'p99 append → ack ≤ 250 ms at 10k lines/s',
    h?.p99Ms,
    (v) => `${v.toFixed(0)} ms`,
    (v) => v <= 250,
  );
  return out;
}

export function targetsMarkdown(verdicts: readonly TargetVerdict[]): string {
  const rows = verdicts.map(
    (v) =>
      `| ${v.target} | ${v.measured} | ${v.met === undefined ? 'not measured' : v.met ? 'met' : '**not met**'} |`,
  );
  return `| Target | Measured | Verdict |\n| --- | ---: | --- |\n${rows.join('\n')}\n`;
}

function escapeXml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** A horizontal bar chart of MB/s per scenario that finished ok, as a standalone SVG document. */
export function barChartSvg(results: readonly ScenarioResult[], title: string): string {
  const rows = results.filter(
    (r) => r.status === 'ok' && r.mbPerSec !== undefined && Number.isFinite(r.mbPerSec),
  );
  const labelW = 300;
  const barMax = 380;
  const rowH = 26;
  const top = 44;
  const width = labelW + barMax + 90;
  const height = top + rows.length * rowH + 30;
  const max = Math.max(1, ...rows.map((r) => r.mbPerSec as number));
  const colour = (id: string) =>
    id.startsWith('rsyslog') || id === 'syslog-ng'
      ? '#d98c2b'
      : id === 'producer-perf'
        ? '#7a7a7a'
        : id.startsWith('client-')
          ? '#6aa06a'
          : '#2f6db5';
  const bars = rows.map((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, Math.round(((r.mbPerSec as number) / max) * barMax));
    return (
      `  <text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${escapeXml(r.title)}</text>\n` +
      `  <rect x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 8}" fill="${colour(r.id)}"/>\n` +
      `  <text x="${labelW + w + 6}" y="${y + 16}">${(r.mbPerSec as number).toFixed(1)}</text>`
    );
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13" role="img">\n` +
    `  <title>${escapeXml(title)}</title>\n` +
    `  <rect width="${width}" height="${height}" fill="#ffffff"/>\n` +
    `  <text x="10" y="24" font-size="15" font-weight="bold">${escapeXml(title)}</text>\n` +
    `${bars.join('\n')}\n` +
    `  <text x="${labelW}" y="${height - 8}" fill="#555">MB/s of raw log (10^6 bytes/s); blue logferry, grey Kafka ProducerPerformance, orange rsyslog/syslog-ng, green client-only</text>\n` +
    '</svg>\n'
  );
}

export const DOC_BEGIN =
  '<!-- bench:begin (generated by npm run bench; edits between these markers are overwritten) -->';
export const DOC_END = '<!-- bench:end -->';

/**
 * Puts `block` between the markers of `text`, leaving everything outside them (hand-written
 * sections, another engineer's profile section) as it was. Without markers the block is appended.
 */
export function replaceDocBlock(text: string, block: string): string {
  const wrapped = `${DOC_BEGIN}\n\n${block.trim()}\n\n${DOC_END}`;
  const b = text.indexOf(DOC_BEGIN);
  const e = text.indexOf(DOC_END);
  if (b >= 0 && e > b) return text.slice(0, b) + wrapped + text.slice(e + DOC_END.length);
  if (text.trim() === '') return `# Benchmarks\n\n${wrapped}\n`;
  return `${text.trimEnd()}\n\n${wrapped}\n`;
}

export function writeDocBlock(file: string, block: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  writeFileSync(file, replaceDocBlock(text, block));
}
